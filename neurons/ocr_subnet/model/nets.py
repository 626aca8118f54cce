"""The networks: a DBNet-style text detector and a CRNN recognizer with a font head.

Both are small and plain (3x3 conv + batch norm + ReLU, which TorchScript freezing fuses) so
they run on two CPU cores inside the latency budget and export to TorchScript for Triton.
"""

from __future__ import annotations

import copy
import warnings
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
    for block in list(model.modules()):
        if isinstance(block, nn.Sequential) and len(block) > 1:
            first, second = block[0], block[1]
            if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                block[0], block[1] = fuse_conv_bn_eval(first, second), nn.Identity()
    with warnings.catch_warnings():  # TorchScript still works in torch 2.x; its deprecation notice is noise
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(model)


def config_dict(config: DetectorConfig | RecognizerConfig) -> dict[str, object]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
