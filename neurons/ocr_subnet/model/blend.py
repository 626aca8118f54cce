"""Weight-space blends of two exported fine-tunes of one network (WiSE-FT, Wortsman et al. 2022).

A fine-tune from shipped weights gains on the pages it trained on and drifts on the rest. Interpolating the two
sets of weights, parameter by parameter, keeps most of the gain and most of what the start read well: fine-tunes
of one network from one start stay in one basin, where the straight line between them reads as well as its ends.
A blend is new weights, so it is calibrated, validated and exported as training's are (`train.finish`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from ocr_subnet.model.correction import Corrector
from ocr_subnet.model.geometry import Calibration
from ocr_subnet.model.pipeline import DETECTOR_FILE, MANIFEST, RECOGNIZER_FILE, OcrPipeline
from ocr_subnet.model.train import TrainConfig, file_sha256, finish


class BlendError(ValueError):
    """The two weights cannot be blended: unreadable, or not the same network."""


def blend_states(
    first: dict[str, torch.Tensor], second: dict[str, torch.Tensor], share: float
) -> dict[str, torch.Tensor]:
    """`(1 - share) * first + share * second` for every floating-point tensor; other tensors (counters) must
    be equal and are kept. Two states with other names or shapes are two networks, and raise BlendError."""
    if not 0.0 <= share <= 1.0:
        raise BlendError(f"the second weights' share must be within 0..1, got {share}")
    if first.keys() != second.keys():
        only = sorted(first.keys() ^ second.keys())
        raise BlendError(f"the weights hold different tensors ({', '.join(only[:4])}): not one network")
    blended = {}
    for key, a in first.items():
        b = second[key]
        if a.shape != b.shape:
            raise BlendError(f"{key} is {tuple(a.shape)} in one and {tuple(b.shape)} in the other: not one network")
        if a.is_floating_point():
            blended[key] = torch.lerp(a.float(), b.float(), share).to(a.dtype)
        elif torch.equal(a, b):
            blended[key] = a
        else:
            raise BlendError(f"{key} differs and cannot be interpolated")
    return blended


def joined_history(first: list[str], second: list[str]) -> list[str]:
    """Both parents' commands, the history they share (one fine-tuned from the other, or both from one start)
    once: the first's, then the second's past their common start. A command may recur within one history
    (a resumed run), so they are matched by position, not by value."""
    pairs = zip(first, second, strict=False)
    shared = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(first), len(second)))
    return [*first, *second[shared:]]


def load_scripted(directory: Path, name: str) -> torch.jit.ScriptModule:
    path = directory / name
    try:
        with warnings.catch_warnings():  # TorchScript still works in torch 2.x; its deprecation notice is noise
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except (OSError, ValueError, RuntimeError) as exc:
        raise BlendError(f"cannot read the weights {path}: {exc}") from exc


def load_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BlendError(f"cannot read the manifest {path}: {exc}") from exc


def blend_networks(first: Path, second: Path, share: float) -> dict[str, torch.jit.ScriptModule]:
    """Each network of `first` with its parameters blended toward `second`'s by `share`."""
    networks = {}
    for name in (DETECTOR_FILE, RECOGNIZER_FILE):
        module = load_scripted(first, name)
        state = blend_states(module.state_dict(), load_scripted(second, name).state_dict(), share)
        module.load_state_dict(state)
        networks[name] = module.eval()
    return networks


def blend(
    first: Path, second: Path, share: float, config: TrainConfig, weights_dir: Path, command: str, console: Console
) -> dict[str, Any]:
    """Blend the weights in `first` and `second`, then calibrate, validate and export them into `weights_dir`
    (`train.finish`). The manifest names both parents; its commands are theirs (`joined_history`), then this one."""
    parents = [load_manifest(first), load_manifest(second)]
    networks = blend_networks(first, second, share)
    torch.set_num_threads(config.threads)

    def pipeline_for(calibration: Calibration, corrector: Corrector | None) -> OcrPipeline:
        return OcrPipeline(networks[DETECTOR_FILE], networks[RECOGNIZER_FILE], calibration, corrector=corrector)

    record = {
        "command": command,
        "commands": [*joined_history(parents[0].get("commands", []), parents[1].get("commands", [])), command],
        "device": "cpu",
        "seed": config.seed,
        "config": config.as_dict(),
        "parameters": {n.removesuffix(".pt"): sum(p.numel() for p in m.parameters()) for n, m in networks.items()},
        "blend": {
            "share": share,
            "parents": [
                {"command": manifest.get("command"), "sha256": {n: file_sha256(d / n) for n in networks}}
                for manifest, d in zip(parents, (first, second), strict=True)
            ],
        },
    }
    return finish(pipeline_for, networks, config, record, weights_dir, console)
