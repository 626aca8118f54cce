"""`ocr-subnet triton ...` and `ocr-subnet ocr` in-process, and the miner's backend choice."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import Result
from ocr_subnet.backends import triton as triton_backend
from ocr_subnet.cli import app
from ocr_subnet.miner import run as miner_run
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.triton import cli as triton_cli
from ocr_subnet.triton import repository as triton_repository
from PIL import Image
from typer.testing import CliRunner

from tests.unit.test_triton_backend import SECTION, ScriptedClient
from tests.unit.test_triton_fake import FAKE_PIPELINE, write_fake_weights

runner = CliRunner()


def test_triton_commands_are_registered_with_their_options() -> None:
    serve_help = runner.invoke(app, ["triton", "serve", "--help"]).output
    for option in ("--model-repo", "--http-port", "--grpc-port", "--metrics-port", "--host"):
        assert option in serve_help
    assert "--weights" in runner.invoke(app, ["triton", "repo", "build", "--help"]).output
    assert "--triton-url" in runner.invoke(app, ["ocr", "--help"]).output
    assert "--triton-url" in runner.invoke(app, ["miner", "--help"]).output


def test_repo_build_writes_a_repository_that_repo_check_accepts(tmp_path: Path) -> None:
    weights = write_fake_weights(tmp_path / "weights")
    built = runner.invoke(
        app,
        [
            *("triton", "repo", "build", "--weights", str(weights), "--out", str(tmp_path / "repo")),
            *("--max-batch-size", "16", "--preferred-batch-size", "8", "--preferred-batch-size", "16"),
            *("--pipeline", FAKE_PIPELINE),
        ],
    )
    assert built.exit_code == 0, built.output
    assert "loads and answers on cpu" in built.output
    checked = runner.invoke(app, ["triton", "repo", "check", str(tmp_path / "repo"), "--pipeline", FAKE_PIPELINE])
    assert checked.exit_code == 0, checked.output
    assert "max_batch_size=16" in checked.output


def test_repo_check_names_the_corrupt_file(tmp_path: Path) -> None:
    weights = write_fake_weights(tmp_path / "weights")
    runner.invoke(
        app, ["triton", "repo", "build", "--weights", str(weights), "--out", str(tmp_path / "r"), "--no-load"]
    )
    (tmp_path / "r" / "ocr" / "1" / "weights" / "fake.json").write_text("{}")
    checked = runner.invoke(app, ["triton", "repo", "check", str(tmp_path / "r"), "--no-load"])
    assert checked.exit_code == 1
    assert "weights/fake.json is corrupt" in checked.stderr


def test_repo_build_refuses_an_impossible_config(tmp_path: Path) -> None:
    weights = write_fake_weights(tmp_path / "weights")
    built = runner.invoke(
        app,
        [
            *("triton", "repo", "build", "--weights", str(weights), "--out", str(tmp_path / "r")),
            *("--max-batch-size", "4", "--preferred-batch-size", "8"),
        ],
    )
    assert built.exit_code == 2
    assert "max_batch_size" in built.output


def test_serve_refuses_the_same_port_twice() -> None:
    result = runner.invoke(app, ["triton", "serve", "--http-port", "9000", "--grpc-port", "9000"])
    assert result.exit_code == 2
    assert "must differ" in result.output


@pytest.fixture
def scripted_triton(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triton_backend.grpcclient, "InferenceServerClient", ScriptedClient)
    monkeypatch.setattr(ScriptedClient, "script", ["ok", "ok"])


def write_png(path: Path) -> Path:
    Image.new("L", (30, 20), 255).save(path, format="PNG")
    return path


@pytest.mark.usefixtures("scripted_triton")
def test_ocr_json_prints_one_sections_object_per_image_in_order(tmp_path: Path) -> None:
    images = [str(write_png(tmp_path / f"{name}.png")) for name in ("a", "b")]
    result = runner.invoke(app, ["ocr", *images, "--backend", "triton", "--triton-url", "grpc://127.0.0.1:1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"sections": [SECTION.model_dump(mode="json")]}] * 2


@pytest.mark.usefixtures("scripted_triton")
def test_ocr_without_json_prints_a_table(tmp_path: Path) -> None:
    image = str(write_png(tmp_path / "a.png"))
    result = runner.invoke(app, ["ocr", image, "--backend", "triton", "--triton-url", "127.0.0.1:1"])
    assert result.exit_code == 0, result.output
    assert "Invoice" in result.stdout
    assert "Times-Roman 11" in result.stdout


@pytest.mark.usefixtures("scripted_triton")
def test_an_unreadable_image_keeps_its_place_with_no_sections_and_fails_the_exit_code(tmp_path: Path) -> None:
    good = str(write_png(tmp_path / "good.png"))
    gif = tmp_path / "bad.gif"
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, format="GIF")
    gif.write_bytes(buffer.getvalue())
    result = runner.invoke(app, ["ocr", str(gif), good, "--backend", "triton", "--triton-url", "127.0.0.1:1", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{"sections": []}, {"sections": [SECTION.model_dump(mode="json")]}]
    assert "bad.gif" in result.stderr
    assert "GIF" in result.stderr


def test_ocr_refuses_unknown_backends_and_a_triton_url_for_tesseract(tmp_path: Path) -> None:
    image = str(write_png(tmp_path / "a.png"))
    unknown = runner.invoke(app, ["ocr", image, "--backend", "nope"])
    assert unknown.exit_code == 2
    assert "unknown backend" in unknown.output
    mixed = runner.invoke(app, ["ocr", image, "--backend", "tesseract", "--triton-url", "127.0.0.1:1"])
    assert mixed.exit_code == 2


def test_triton_is_the_default_backend_only_once_weights_are_packaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(triton_repository, "packaged_weights_dir", lambda: tmp_path / "weights")
    assert miner_run.default_backend() == "tesseract"
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / ".gitkeep").write_text("")
    assert miner_run.default_backend() == "tesseract"
    write_fake_weights(tmp_path / "weights")
    assert miner_run.default_backend() == "triton"


def test_the_miner_knows_the_triton_backend_and_its_url_only_goes_with_it() -> None:
    assert "triton" in miner_run.BACKENDS
    assert MinerConfig(backend="triton", triton_url="grpc://127.0.0.1:8001").triton_url
    with pytest.raises(ValueError, match="--triton-url applies to --backend triton only"):
        MinerConfig(backend="tesseract", triton_url="grpc://127.0.0.1:8001")


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triton_backend.grpcclient, "InferenceServerClient", ScriptedClient)
    monkeypatch.setattr(triton_cli, "BACKOFF_BASE_S", 0.01)


def run_ocr(tmp_path: Path, names: tuple[str, ...], *options: str) -> Result:
    images = [str(write_png(tmp_path / f"{name}.png")) for name in names]
    url = ("--triton-url", "grpc://127.0.0.1:1")
    return runner.invoke(app, ["ocr", *images, "--backend", "triton", *url, "--json", "--concurrency", "1", *options])


@pytest.mark.usefixtures("quick_backoff")
def test_the_ocr_batch_waits_out_a_busy_server_and_reports_progress_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a: shed twice by Triton's queue policy, then unreachable through all three of the backend's own
    # attempts, then answered; b: answered at once. The miner's backend would have failed a.
    monkeypatch.setattr(ScriptedClient, "script", ["shed", "shed", *["StatusCode.UNAVAILABLE"] * 3, "ok", "ok"])
    result = run_ocr(tmp_path, ("a", "b"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"sections": [SECTION.model_dump(mode="json")]}] * 2
    assert ScriptedClient.script == []
    assert result.stderr.count("a.png: attempt") == 3
    assert "retrying in" in result.stderr
    assert "[1/2]" in result.stderr and "[2/2]" in result.stderr and "b.png: 1 sections" in result.stderr


@pytest.mark.usefixtures("quick_backoff")
def test_the_ocr_batch_gives_up_on_an_image_only_at_its_timeout_and_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(triton_cli, "BACKOFF_BASE_S", 0.2)  # 0.2 + 0.4, then 0.8 would pass the 1 s timeout
    monkeypatch.setattr(ScriptedClient, "script", ["shed"] * 3 + ["ok"])
    result = run_ocr(tmp_path, ("a", "b"), "--timeout", "1")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{"sections": []}, {"sections": [SECTION.model_dump(mode="json")]}]
    assert "a.png: failed: gave up after 3 attempt(s) in 1 s" in result.stderr


@pytest.mark.usefixtures("quick_backoff")
def test_the_ocr_batch_does_not_retry_a_page_the_model_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ScriptedClient, "script", ["row error", "ok"])
    result = run_ocr(tmp_path, ("a", "b"))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{"sections": []}, {"sections": [SECTION.model_dump(mode="json")]}]
    assert "attempt" not in result.stderr
    assert "could not read this page" in result.stderr


def test_ocr_has_a_generous_timeout_for_batches() -> None:
    assert triton_cli.OCR_TIMEOUT_S >= 300
    assert "--timeout" in runner.invoke(app, ["ocr", "--help"]).output
