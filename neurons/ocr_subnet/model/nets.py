"""The networks: a DBNet-style text detector and a CRNN recognizer with a font head.

Both are small and plain (3x3 conv + batch norm + ReLU, which TorchScript freezing fuses) so
they run on two CPU cores inside the latency budget and export to TorchScript for Triton.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ocr_subnet.model.charset import NUM_CLASSES
from ocr_subnet.sections import FONT_FAMILIES

DETECTOR_OUTPUTS = 3  # kernel logit, distance up to the box's top edge, distance down to its bottom edge
FAMILY_INDEX = {family: i for i, family in enumerate(FONT_FAMILIES)}
OFFSET_SCALE = 8.0  # edge distances are predicted in units of 8 canonical pixels


def conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


@dataclass(frozen=True)
class DetectorConfig:
    widths: tuple[int, int, int, int] = (16, 32, 48, 64)
    neck: int = 32


@dataclass(frozen=True)
class RecognizerConfig:
    widths: tuple[int, int, int, int] = (32, 64, 96, 128)
    hidden: int = 128
    families: int = len(FONT_FAMILIES)


class Detector(nn.Module):
    """Page (B, 1, H, W), ink-positive in [0, 1], H and W multiples of 16 -> maps (B, 3, H/2, W/2).

    A four-level encoder (1/2 .. 1/16) gives the context that tells a word gap inside a string
    from the gap between two columns; a top-down path brings it back to 1/2 resolution, where
    the first stage's features are added (not concatenated: cheaper at the largest map).
    """

    def __init__(self, config: DetectorConfig = DetectorConfig()) -> None:
        super().__init__()
        w1, w2, w3, w4 = config.widths
        self.config = config
        self.stage1 = nn.Sequential(conv(1, w1, 2), conv(w1, w1))
        self.stage2 = nn.Sequential(conv(w1, w2, 2), conv(w2, w2))
        self.stage3 = nn.Sequential(conv(w2, w3, 2), conv(w3, w3))
        self.stage4 = nn.Sequential(conv(w3, w4, 2), conv(w4, w4), conv(w4, w4))
        self.lateral4 = nn.Conv2d(w4, config.neck, 1)
        self.lateral3 = nn.Conv2d(w3, config.neck, 1)
        self.lateral2 = nn.Conv2d(w2, config.neck, 1)
        self.smooth = conv(config.neck, config.neck)
        self.reduce = nn.Conv2d(config.neck, w1, 1)
        self.head = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(w1, DETECTOR_OUTPUTS, 3, 1, 1))

    def forward(self, page: torch.Tensor) -> torch.Tensor:
        c1 = self.stage1(page)
        c2 = self.stage2(c1)
        c3 = self.stage3(c2)
        c4 = self.stage4(c3)
        p = F.interpolate(self.lateral4(c4), scale_factor=2.0, mode="nearest") + self.lateral3(c3)
        p = F.interpolate(p, scale_factor=2.0, mode="nearest") + self.lateral2(c2)
        p = F.interpolate(self.reduce(self.smooth(p)), scale_factor=2.0, mode="nearest") + c1
        return self.head(p)


class Recognizer(nn.Module):
    """Crops (B, 1, 32, W) and their valid widths (B,) -> CTC logits (B, W/4, classes), family logits (B, 6).

    conv features (a strided first layer: full-resolution work is what training time goes to)
    collapse the height to one column per 4 pixels, a BiLSTM reads them in both
    directions, a linear layer scores characters; the font head pools the BiLSTM over the valid
    columns (the whole string votes for one family).
    """

    def __init__(self, config: RecognizerConfig = RecognizerConfig()) -> None:
        super().__init__()
        w1, w2, w3, w4 = config.widths
        self.config = config
        self.features = nn.Sequential(
            conv(1, w1, 2),
            conv(w1, w2),
            nn.MaxPool2d(2),
            conv(w2, w3),
            conv(w3, w3),
            nn.MaxPool2d((2, 1)),
            conv(w3, w4),
            conv(w4, w4),
            nn.MaxPool2d((2, 1)),
        )
        self.project = nn.Linear(2 * w4, config.hidden)
        self.rnn = nn.LSTM(config.hidden, config.hidden, batch_first=True, bidirectional=True)
        self.classify = nn.Linear(2 * config.hidden, NUM_CLASSES)
        self.local = nn.Linear(config.hidden, NUM_CLASSES)  # a shortcut from the conv features: CTC leaves its
        # all-blank plateau several times sooner when characters can be scored before the BiLSTM has learnt
        self.font = nn.Sequential(nn.Linear(2 * config.hidden, 64), nn.ReLU(True), nn.Linear(64, config.families))

    def forward(self, crops: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(crops)
        b, c, h, t = f.shape
        local = F.relu(self.project(f.permute(0, 3, 1, 2).reshape(b, t, c * h)))
        seq, _ = self.rnn(local)
        steps = torch.div(widths + 3, 4, rounding_mode="floor").clamp(1, t)
        mask = (torch.arange(t, device=crops.device)[None, :] < steps[:, None]).to(seq.dtype)
        pooled = (seq * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
        return self.classify(seq) + self.local(local), self.font(pooled)


def exportable(model: nn.Module) -> torch.jit.ScriptModule:
    """The shipped form of a network: on the CPU, every batch norm folded into its convolution in float32, then
    scripted but not frozen, so the loader can still cast it to the precision its hardware runs fastest."""
    model = copy.deepcopy(model).cpu().float().eval().to(memory_format=torch.contiguous_format)
    for name, first, second in conv_norm_pairs(model):
        block = model.get_submodule(name)
        block[0], block[1] = fuse_conv_bn_eval(first, second), nn.Identity()
    with warnings.catch_warnings():  # TorchScript still works in torch 2.x; its deprecation notice is noise
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(model)


def conv_norm_pairs(model: nn.Module) -> list[tuple[str, nn.Conv2d, nn.BatchNorm2d]]:
    """Every (name, convolution, batch norm) block: the pairs `exportable` folds into one convolution."""
    return [
        (name, block[0], block[1])
        for name, block in model.named_modules()
        if isinstance(block, nn.Sequential)
        and len(block) > 1
        and isinstance(block[0], nn.Conv2d)
        and isinstance(block[1], nn.BatchNorm2d)
    ]


CLASS_LAYERS = ("classify", "local")  # the recognizer's per-class outputs, one row per class of the alphabet


def with_new_classes(key: str, shipped: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
    """A class layer's `shipped` weights grown to this alphabet's classes; any other tensor as it is.

    The alphabet only grows at its end, so the shipped rows keep their classes. The new rows start from the
    fresh initialisation with the lowest shipped bias: no new class fires before training has shown it."""
    grows = key.split(".")[0] in CLASS_LAYERS and shipped.shape[1:] == fresh.shape[1:]
    if not grows or shipped.shape[0] >= fresh.shape[0]:
        return shipped
    grown = fresh.clone()
    grown[: shipped.shape[0]] = shipped
    if key.endswith("bias"):
        grown[shipped.shape[0] :] = shipped.min()
    return grown


def load_exported(model: nn.Module, exported: dict[str, torch.Tensor], feed: Callable[[nn.Module], None]) -> None:
    """Load a shipped network's weights (`exportable`'s state) into a trainable `model` of the same configuration,
    so training can go on from shipped weights when no checkpoint is left.

    Export folded each batch norm into its convolution. Each norm comes back as the identity plus the folded bias,
    its running statistics measured on real inputs (`feed` runs some through the model in eval mode) and its scale
    set to their spread: in eval mode the network then computes exactly what the shipped one does, and in training
    mode (batch statistics) nearly so. A recognizer trained on a shorter alphabet gains the new classes
    (`with_new_classes`). A state of another shape or configuration raises ValueError.
    """
    pairs = conv_norm_pairs(model)
    state: dict[str, torch.Tensor] = {}
    folded: dict[str, torch.Tensor] = {}
    try:
        for name, _, norm in pairs:
            state[f"{name}.0.weight"] = exported[f"{name}.0.weight"]
            folded[name] = exported[f"{name}.0.bias"].float()
            identity = {"weight": torch.ones_like(folded[name]), "bias": folded[name]}
            identity |= {"running_mean": torch.zeros_like(folded[name])}
            identity |= {
                "running_var": torch.full_like(folded[name], 1.0 - norm.eps),
                "num_batches_tracked": torch.tensor(0),
            }
            state |= {f"{name}.1.{key}": value for key, value in identity.items()}
        fresh = model.state_dict()
        state |= {key: with_new_classes(key, exported[key], fresh[key]) for key in fresh if key not in state}
        model.load_state_dict(state)
    except (KeyError, RuntimeError) as exc:
        raise ValueError(f"the exported weights do not fit this network: {exc}") from exc
    sums: dict[str, list[torch.Tensor]] = {}

    def measure(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def hook(_: nn.Module, __: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            y = out.detach().double().transpose(0, 1).reshape(out.shape[1], -1)
            totals = [y.shape[1] * torch.ones(out.shape[1], dtype=torch.float64), y.sum(1), (y * y).sum(1)]
            sums[name] = [a + b for a, b in zip(sums[name], totals, strict=True)] if name in sums else totals

        return hook

    hooks = [conv.register_forward_hook(measure(name)) for name, conv, _ in pairs]
    model.eval()
    try:
        with torch.no_grad():
            feed(model)
    finally:
        for handle in hooks:
            handle.remove()
    with torch.no_grad():
        for name, _, norm in pairs:
            count, total, squares = sums[name]
            mean = total / count
            var = (squares / count - mean * mean).clamp(min=0.0)
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            norm.weight.copy_((var + norm.eps).sqrt())
            norm.bias.copy_(mean + folded[name])


def config_dict(config: DetectorConfig | RecognizerConfig) -> dict[str, object]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
