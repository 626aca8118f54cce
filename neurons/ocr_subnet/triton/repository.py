"""Our Triton model repository: Triton's own layout and `config.pbtxt`, plus checksums of the weights.

    REPO/
      ocr/                       the model (one per repository); the folder name is the model name
        config.pbtxt             a Triton ModelConfig: max_batch_size, dynamic_batching
                                 (preferred_batch_size, max_queue_delay_microseconds), instance_group
                                 (count, kind), and the input/output tensors of `wire`
        1/                       the version served (the highest number present)
          weights/               the exported model, exactly what `OcrPipeline.load(weights_dir)` reads
          SHA256SUMS             `sha256sum` lines for every file under weights/ (`sha256sum -c` works)

The config is parsed with Triton's own protobuf schema (from tritonclient), so a file Triton would
refuse is refused here too, and then checked against what `ocr-subnet triton serve` supports.
Everything is checked when the server starts, before it binds a port: a missing or corrupt
repository is a clear error at start, never at the first request. Instance kind follows Triton:
KIND_AUTO (the default) means the GPU when one is present, the CPU otherwise.
"""

from __future__ import annotations

import enum
import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from ocr_subnet.triton import MAX_BATCH_SIZE, MAX_QUEUE_DELAY_US, PREFERRED_BATCH_SIZES, wire

CONFIG_FILE = "config.pbtxt"
WEIGHTS_DIR = "weights"
CHECKSUMS_FILE = "SHA256SUMS"
MAX_BATCH_LIMIT = 1024
QUEUE_DELAY_LIMIT_US = 1_000_000
MAX_INSTANCES = 64

Kind = pb.ModelInstanceGroup.Kind
INPUTS = ((wire.PIXELS, pb.TYPE_STRING, (1,)), (wire.SIZE, pb.TYPE_INT64, (2,)))
OUTPUTS = ((wire.SECTIONS, pb.TYPE_STRING, (1,)), (wire.ERROR, pb.TYPE_STRING, (1,)))


class RepositoryError(RuntimeError):
    """The model repository or its weights cannot be served; the message says what to fix."""


class InstanceKind(enum.StrEnum):
    AUTO = "auto"  # the GPU when present, the CPU otherwise
    CPU = "cpu"
    GPU = "gpu"


KINDS = {InstanceKind.AUTO: Kind.KIND_AUTO, InstanceKind.CPU: Kind.KIND_CPU, InstanceKind.GPU: Kind.KIND_GPU}


@dataclass(frozen=True)
class ServingConfig:
    """What `config.pbtxt` says about serving."""

    model_name: str = wire.MODEL_NAME
    max_batch_size: int = MAX_BATCH_SIZE
    preferred_batch_sizes: tuple[int, ...] = PREFERRED_BATCH_SIZES
    max_queue_delay_us: int = MAX_QUEUE_DELAY_US
    instance_count: int = 1  # model copies, each with its own Triton instance
    instance_kind: InstanceKind = InstanceKind.AUTO

    def __post_init__(self) -> None:
        problems = config_problems(self)
        if problems:
            raise RepositoryError("invalid serving config: " + "; ".join(problems))

    def summary(self) -> str:
        return (
            f"model {self.model_name}: max_batch_size={self.max_batch_size}, "
            f"preferred_batch_size={list(self.preferred_batch_sizes)}, max_queue_delay_us={self.max_queue_delay_us}, "
            f"{self.instance_count} instance(s) of kind {self.instance_kind.value}"
        )


@dataclass(frozen=True)
class Repository:
    """A repository that passed every check: serve `weights_dir` with `config`."""

    path: Path
    version_dir: Path
    config: ServingConfig

    @property
    def weights_dir(self) -> Path:
        return self.version_dir / WEIGHTS_DIR


def config_problems(config: ServingConfig) -> list[str]:
    """Every reason `config` cannot be served (empty when it can)."""
    problems = []
    if config.model_name != wire.MODEL_NAME:
        problems.append(
            f"the model folder must be named {wire.MODEL_NAME!r} (the name clients call), not {config.model_name!r}"
        )
    if not 1 <= config.max_batch_size <= MAX_BATCH_LIMIT:
        problems.append(f"max_batch_size must be within 1..{MAX_BATCH_LIMIT}, got {config.max_batch_size}")
    sizes = config.preferred_batch_sizes
    if any(not 1 <= size <= config.max_batch_size for size in sizes):
        problems.append(f"preferred_batch_size values must be within 1..max_batch_size, got {list(sizes)}")
    if list(sizes) != sorted(set(sizes)):
        problems.append(f"preferred_batch_size values must be distinct and ascending, got {list(sizes)}")
    if not 0 <= config.max_queue_delay_us <= QUEUE_DELAY_LIMIT_US:
        problems.append(f"max_queue_delay_microseconds must be within 0..{QUEUE_DELAY_LIMIT_US}")
    if not 1 <= config.instance_count <= MAX_INSTANCES:
        problems.append(f"instance_group count must be within 1..{MAX_INSTANCES}, got {config.instance_count}")
    return problems


def to_model_config(config: ServingConfig) -> pb.ModelConfig:
    """The Triton ModelConfig of `config`, tensors included."""
    model = pb.ModelConfig(name=config.model_name, max_batch_size=config.max_batch_size)
    for name, data_type, dims in INPUTS:
        model.input.add(name=name, data_type=data_type, dims=dims)
    for name, data_type, dims in OUTPUTS:
        model.output.add(name=name, data_type=data_type, dims=dims)
    model.dynamic_batching.preferred_batch_size.extend(config.preferred_batch_sizes)
    model.dynamic_batching.max_queue_delay_microseconds = config.max_queue_delay_us
    model.instance_group.add(count=config.instance_count, kind=KINDS[config.instance_kind])
    return model


def from_model_config(model: pb.ModelConfig, folder_name: str) -> ServingConfig:
    """Checks a parsed ModelConfig against what we serve; raises `RepositoryError` listing every problem."""
    problems = []
    if model.name and model.name != folder_name:
        problems.append(f"name {model.name!r} differs from its folder {folder_name!r}")
    tensors = {
        "input": [(t.name, t.data_type, tuple(t.dims)) for t in model.input],
        "output": [(t.name, t.data_type, tuple(t.dims)) for t in model.output],
    }
    for what, expected in (("input", INPUTS), ("output", OUTPUTS)):
        if tensors[what] and tensors[what] != list(expected):
            problems.append(f"{what} tensors must be {_describe(expected)} (ocr_subnet.triton.wire)")
    if len(model.instance_group) > 1:
        problems.append("only one instance_group is supported")
    group = model.instance_group[0] if model.instance_group else pb.ModelInstanceGroup(count=1)
    if group.gpus:
        problems.append("instance_group gpus is not supported: choose devices with CUDA_VISIBLE_DEVICES")
    by_kind = {value: kind for kind, value in KINDS.items()}
    if group.kind not in by_kind:
        problems.append(f"instance_group kind {Kind.Name(group.kind)} is not one of KIND_AUTO, KIND_CPU, KIND_GPU")
    if problems:
        raise RepositoryError("; ".join(problems))
    return ServingConfig(
        model_name=folder_name,
        max_batch_size=model.max_batch_size,
        preferred_batch_sizes=tuple(model.dynamic_batching.preferred_batch_size),
        max_queue_delay_us=model.dynamic_batching.max_queue_delay_microseconds,
        instance_count=max(group.count, 1),  # Triton reads an unset count as 1
        instance_kind=by_kind[group.kind],
    )


def _describe(tensors: Iterable[tuple[str, int, tuple[int, ...]]]) -> str:
    return ", ".join(f"{name} {pb.DataType.Name(dtype)} {list(dims)}" for name, dtype, dims in tensors)


def parse_config(text: str, folder_name: str) -> ServingConfig:
    try:
        model = text_format.Parse(text, pb.ModelConfig())
    except text_format.ParseError as exc:
        raise RepositoryError(f"{CONFIG_FILE} is not a Triton model config: {exc}") from exc
    return from_model_config(model, folder_name)


def resolve_device(kind: InstanceKind, cuda_available: bool) -> str:
    """The torch device for a kind of hardware (a Triton instance group's, or training's `--device`)."""
    if kind is InstanceKind.GPU and not cuda_available:
        raise RepositoryError("a GPU was asked for (KIND_GPU / gpu), but torch sees no CUDA device")
    if kind is InstanceKind.CPU or not cuda_available:
        return "cpu"
    return "cuda"


def checksum_text(weights_dir: Path) -> str:
    """`sha256sum` lines for every file under `weights_dir`, paths relative to its parent."""
    files = sorted(p for p in weights_dir.rglob("*") if p.is_file())
    return "".join(f"{_sha256(p)}  {p.relative_to(weights_dir.parent).as_posix()}\n" for p in files)


def parse_checksums(text: str) -> dict[str, str]:
    """`sha256sum` output -> {relative path: hex digest}."""
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or ".." in Path(name).parts or Path(name).is_absolute():
            raise RepositoryError(f"{CHECKSUMS_FILE} line {number} is not '<sha256>  <relative path>'")
        sums[name] = digest.lower()
    return sums


def checksum_problems(version_dir: Path, expected: dict[str, str]) -> list[str]:
    """Files that are missing, changed or unlisted compared with the checksums."""
    weights = version_dir / WEIGHTS_DIR
    present = {p.relative_to(version_dir).as_posix() for p in weights.rglob("*") if p.is_file()}
    problems = [f"{name} is missing" for name in sorted(set(expected) - present)]
    problems += [f"{name} is not listed in {CHECKSUMS_FILE}" for name in sorted(present - set(expected))]
    problems += [
        f"{name} is corrupt (sha256 differs)"
        for name in sorted(set(expected) & present)
        if _sha256(version_dir / name) != expected[name]
    ]
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_repository(path: Path) -> Repository:
    """Finds, parses and verifies a repository; raises `RepositoryError` saying what is wrong."""
    if not path.is_dir():
        raise RepositoryError(f"model repository {path} does not exist or is not a folder")
    models = sorted(p for p in path.iterdir() if (p / CONFIG_FILE).is_file())
    if len(models) != 1:
        found = ", ".join(p.name for p in models) or "none"
        raise RepositoryError(f"{path} must hold exactly one model folder with a {CONFIG_FILE} (found {found})")
    model_dir = models[0]
    try:
        text = (model_dir / CONFIG_FILE).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise RepositoryError(f"cannot read {model_dir / CONFIG_FILE}: {exc}") from exc
    config = parse_config(text, model_dir.name)
    versions = [p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    if not versions:
        raise RepositoryError(f"{model_dir} has no version folder (such as 1/)")
    version_dir = max(versions, key=lambda p: int(p.name))
    if not (version_dir / WEIGHTS_DIR).is_dir():
        raise RepositoryError(f"{version_dir / WEIGHTS_DIR} is missing: build the repository with the weights")
    try:
        expected = parse_checksums((version_dir / CHECKSUMS_FILE).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise RepositoryError(f"cannot read {version_dir / CHECKSUMS_FILE}: {exc}") from exc
    problems = checksum_problems(version_dir, expected)
    if problems:
        raise RepositoryError(f"weights in {version_dir} do not match {CHECKSUMS_FILE}: " + "; ".join(problems))
    return Repository(path, version_dir, config)


def build_repository(weights_dir: Path, out: Path, config: ServingConfig) -> Repository:
    """Writes a repository serving a copy of `weights_dir` to `out` (which must not exist or be
    empty), and returns it opened, so what was written is checked by the same code as at start."""
    if not weights_dir.is_dir() or not any(p.is_file() for p in weights_dir.rglob("*")):
        raise RepositoryError(f"weights folder {weights_dir} does not exist or holds no files")
    if out.exists() and any(out.iterdir()):
        raise RepositoryError(f"{out} already exists and is not empty")
    version_dir = out / config.model_name / "1"
    shutil.copytree(weights_dir, version_dir / WEIGHTS_DIR)
    (version_dir / CHECKSUMS_FILE).write_text(checksum_text(version_dir / WEIGHTS_DIR))
    (out / config.model_name / CONFIG_FILE).write_text(text_format.MessageToString(to_model_config(config)))
    return open_repository(out)


def packaged_weights_dir() -> Path:
    """`ocr_subnet.model.pipeline.WEIGHTS_DIR`, found without importing the model (and torch): the
    miner only asks whether the weights exist, and must not carry torch's memory for that."""
    return Path(__file__).resolve().parent.parent / "model" / WEIGHTS_DIR


def packaged_weights_exist() -> bool:
    """Any file besides hidden ones (a .gitkeep) counts: whether it loads is checked at serve start."""
    weights = packaged_weights_dir()
    return weights.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in weights.rglob("*"))
