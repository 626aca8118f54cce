"""Our Triton model repository: config.pbtxt validation, checksums, build and open, device choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from ocr_subnet.model import pipeline as model_pipeline
from ocr_subnet.triton.repository import (
    CHECKSUMS_FILE,
    CONFIG_FILE,
    InstanceKind,
    RepositoryError,
    ServingConfig,
    build_repository,
    config_problems,
    open_repository,
    packaged_weights_dir,
    parse_checksums,
    parse_config,
    resolve_device,
    to_model_config,
)

from tests.unit.test_triton_fake import write_fake_weights


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    build_repository(write_fake_weights(tmp_path / "weights"), tmp_path / "repo", ServingConfig())
    return tmp_path / "repo"


def test_a_config_written_as_pbtxt_parses_back_to_the_same_settings() -> None:
    config = ServingConfig(
        max_batch_size=64,
        preferred_batch_sizes=(16, 32, 64),
        max_queue_delay_us=500,
        instance_count=2,
        instance_kind=InstanceKind.GPU,
    )
    text = text_format.MessageToString(to_model_config(config))
    assert "KIND_GPU" in text
    assert parse_config(text, "ocr") == config


def test_a_minimal_hand_written_config_takes_tritons_defaults() -> None:
    config = parse_config("max_batch_size: 4", "ocr")
    assert config == ServingConfig(
        max_batch_size=4, preferred_batch_sizes=(), max_queue_delay_us=0, instance_kind=InstanceKind.AUTO
    )


def test_the_default_config_is_valid() -> None:
    assert config_problems(ServingConfig()) == []


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"max_batch_size": 0, "preferred_batch_sizes": ()}, "max_batch_size"),
        ({"max_batch_size": 8, "preferred_batch_sizes": (16,)}, "within 1..max_batch_size"),
        ({"preferred_batch_sizes": (8, 4)}, "ascending"),
        ({"max_queue_delay_us": -1}, "max_queue_delay"),
        ({"instance_count": 0}, "count"),
        ({"model_name": "other"}, "must be named 'ocr'"),
    ],
)
def test_serving_configs_that_triton_could_not_honour_are_refused(settings: dict, problem: str) -> None:
    with pytest.raises(RepositoryError, match=problem):
        ServingConfig(**settings)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("max_batch_size: x", "not a Triton model config"),
        ('name: "other" max_batch_size: 4', "differs from its folder"),
        ('max_batch_size: 4 input { name: "image" data_type: TYPE_STRING dims: 1 }', "input tensors must be"),
        ("max_batch_size: 4 instance_group { count: 1 } instance_group { count: 1 }", "one instance_group"),
        ("max_batch_size: 4 instance_group { kind: KIND_MODEL }", "KIND_MODEL"),
        ("max_batch_size: 4 instance_group { kind: KIND_GPU gpus: 0 }", "CUDA_VISIBLE_DEVICES"),
        ("max_batch_size: 0", "max_batch_size"),
    ],
)
def test_config_pbtxt_problems_are_named(text: str, problem: str) -> None:
    with pytest.raises(RepositoryError, match=problem):
        parse_config(text, "ocr")


def test_gpu_when_present_cpu_otherwise_and_a_gpu_demand_without_one_is_an_error() -> None:
    assert resolve_device(InstanceKind.AUTO, cuda_available=True) == "cuda"
    assert resolve_device(InstanceKind.AUTO, cuda_available=False) == "cpu"
    assert resolve_device(InstanceKind.CPU, cuda_available=True) == "cpu"
    assert resolve_device(InstanceKind.GPU, cuda_available=True) == "cuda"
    with pytest.raises(RepositoryError, match="no CUDA device"):
        resolve_device(InstanceKind.GPU, cuda_available=False)


def test_a_built_repository_has_tritons_layout_and_opens(repository: Path) -> None:
    opened = open_repository(repository)
    assert (repository / "ocr" / CONFIG_FILE).is_file()
    assert opened.weights_dir == repository / "ocr" / "1" / "weights"
    assert parse_checksums((repository / "ocr" / "1" / CHECKSUMS_FILE).read_text()).keys() == {"weights/fake.json"}
    assert opened.config == ServingConfig()


def test_the_highest_version_folder_is_served(repository: Path) -> None:
    (repository / "ocr" / "1").rename(repository / "ocr" / "7")
    (repository / "ocr" / "12").mkdir()  # numeric order, not text order: 12 > 7
    (repository / "ocr" / "notes").mkdir()
    with pytest.raises(RepositoryError, match=r"12/weights is missing"):
        open_repository(repository)
    (repository / "ocr" / "12").rmdir()
    assert open_repository(repository).version_dir.name == "7"


def test_changed_missing_or_unlisted_weight_files_are_named(repository: Path) -> None:
    weights = repository / "ocr" / "1" / "weights"
    (weights / "fake.json").write_text("{}")
    (weights / "extra.bin").write_bytes(b"\x00")
    with pytest.raises(RepositoryError, match=r"fake.json is corrupt.*extra.bin is not listed|extra.bin.*fake.json"):
        open_repository(repository)
    (weights / "fake.json").unlink()
    with pytest.raises(RepositoryError, match=r"fake\.json is missing"):
        open_repository(repository)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda r: (r / "ocr" / "1" / CHECKSUMS_FILE).unlink(), "cannot read .*SHA256SUMS"),
        (lambda r: (r / "ocr" / "1" / CHECKSUMS_FILE).write_text("nonsense\n"), "line 1"),
        (lambda r: (r / "ocr" / "1" / CHECKSUMS_FILE).write_text(f"{'0' * 64}  ../escape\n"), "line 1"),
        (lambda r: (r / "ocr" / CONFIG_FILE).write_bytes(b"\xff\xfe"), "cannot read"),
        (lambda r: (r / "ocr" / CONFIG_FILE).unlink(), "exactly one model folder"),
        (lambda r: (r / "second").mkdir() or (r / "second" / CONFIG_FILE).write_text(""), "found ocr, second"),
        (lambda r: (r / "ocr").rename(r / "other"), "differs from its folder 'other'"),
        (lambda r: (r / "ocr" / "1").rename(r / "ocr" / "v1"), "no version folder"),
    ],
)
def test_a_damaged_repository_is_refused_saying_what_is_wrong(repository: Path, damage: object, problem: str) -> None:
    damage(repository)  # type: ignore[operator]
    with pytest.raises(RepositoryError, match=problem):
        open_repository(repository)


def test_a_missing_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="does not exist"):
        open_repository(tmp_path / "nowhere")


def test_build_refuses_missing_or_empty_weights_and_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for weights in (tmp_path / "absent", tmp_path / "empty"):
        with pytest.raises(RepositoryError, match="holds no files"):
            build_repository(weights, tmp_path / "out", ServingConfig())
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(RepositoryError, match="not empty"):
        build_repository(write_fake_weights(tmp_path / "w"), tmp_path / "busy", ServingConfig())


def test_packaged_weights_are_where_the_model_package_keeps_them() -> None:
    assert packaged_weights_dir() == model_pipeline.WEIGHTS_DIR.resolve()
