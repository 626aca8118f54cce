"""Training data on the fly: labelled pages drawn from seeds, turned into detector and recognizer examples.

Pages mix every difficulty level, every family of the validator's open mix (prose in columns, letters,
tables, forms, receipts, generated invoices) beside our invoices and the tutorial's, several glyph
sources per base family and render resolutions up to 300-dpi scans (`DataConfig`). A worker process draws pages
while the trainer keeps two replay pools (pages for the detector, crops for the recognizer), so
each drawn page is used a few times and the two CPU cores are never idle waiting for data.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import torch

from ocr_subnet.challenge.families import OPEN_FAMILIES
from ocr_subnet.challenge.fonts import base_family
from ocr_subnet.challenge.generate import derive_seeds, invoice_layout, page_layout
from ocr_subnet.challenge.levels import RENDER_PX_PER_PT
from ocr_subnet.model import charset
from ocr_subnet.model.crops import crop_quads, detector_batch, recognition_source, sample_crops
from ocr_subnet.model.geometry import STRIDE, canvas, quad_rects
from ocr_subnet.model.nets import FAMILY_INDEX
from ocr_subnet.model.prior import manual_lines
from ocr_subnet.model.rewrites import codify, command_lines, headline, leaders, prose, respace, source_code, typeset
from ocr_subnet.model.scales import LARGE_TEXT, landing_shrink
from ocr_subnet.model.synth import Sample, pdfium, pick_fonts, render, tutorial_layout
from ocr_subnet.model.targets import detector_targets, rasterize_owners

TARGET_PX = (4.0, 2 * LARGE_TEXT)  # detector canvas px: strings outside these heights are neither text nor background


@dataclass(frozen=True)
class DataConfig:
    """What the training pages look like; recorded in the manifest."""

    level_weights: tuple[float, float, float, float, float] = (0.15, 0.35, 0.2, 0.15, 0.15)
    tutorial_share: float = 0.2  # pages in the tutorial's layout (rendered by pdfium, never poppler)
    base_glyph_share: float = 0.4  # per family and page: draw the base font rather than an alternative
    native_resolution_share: float = 0.7  # render at the generator's 1.08 px/pt, else uniform in the range
    resolution_range: tuple[float, float] = (0.9, 2.0)
    open_share: float = 0.6  # pages of a family drawn from the open mix (the rest: invoices, tutorial's or ours)
    open_native_share: float = 0.3  # open pages at the generator's density, else uniform in `open_range`
    open_range: tuple[float, float] = (0.9, 4.2)  # px/pt: up to 300-dpi scans
    prose_share: float = 0.35  # pages whose multi-word strings may become real text (`prose`)
    code_share: float = 0.15  # pages whose multi-word strings may be written like code (`codify`)
    command_share: float = 0.15  # pages whose strings may carry command-line options (`command_lines`)
    source_share: float = 0.15  # pages whose strings may become source code (`source_code`)
    typeset_share: float = 0.3  # pages given curly quotes, dashes, accents, signs (`typeset`)
    respace_share: float = 0.3  # pages with strings set tight or loose, as justified lines are (`respace`)
    leader_share: float = 0.08  # pages whose strings may lead with dots to a page number (`leaders`)
    headline_share: float = 0.1  # pages given one huge string (`headline`), drawn for the detector on a coarse canvas
    detector_crop: int = 320  # canvas pixels; detector steps train on crops of pages
    jitter_height: float = 0.05  # recognizer crops: rectangle noise like the detector's, in box heights
    jitter_ends: float = 0.15
    crop_columns: int = 1024  # recognizer crops wider are squeezed: the shipped weights trained so (inference is not)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class DetectorExample:
    page: npt.NDArray[np.uint8]  # canvas, ink as 0..255
    kernel: npt.NDArray[np.uint8]
    care: npt.NDArray[np.uint8]  # 0 where the loss ignores the maps: around strings outside `TARGET_PX`
    top: npt.NDArray[np.float16]
    bottom: npt.NDArray[np.float16]


@dataclass(frozen=True)
class RecognizerExample:
    crop: torch.Tensor  # (CROP_HEIGHT, width) float16
    target: tuple[int, ...]
    family: int


def training_sample(seed: int, config: DataConfig) -> Sample:
    """The training page of `seed`: level, layout, glyphs and resolution all drawn from it."""
    rng = np.random.default_rng([seed, 11])
    level = int(rng.choice(len(config.level_weights), p=np.asarray(config.level_weights) / sum(config.level_weights)))
    fonts = pick_fonts(rng, config.base_glyph_share)
    if rng.random() < config.open_share:
        layout = page_layout(seed, OPEN_FAMILIES[int(rng.integers(len(OPEN_FAMILIES)))])
        native, span = rng.random() < config.open_native_share, config.open_range
    else:
        layout = tutorial_layout(seed) if rng.random() < config.tutorial_share else invoice_layout(seed)
        native, span = rng.random() < config.native_resolution_share, config.resolution_range
    px_per_pt = RENDER_PX_PER_PT if native else float(rng.uniform(*span))
    if np.random.default_rng([seed, 14]).random() < config.prose_share:  # its own streams, as `source_code`'s
        layout = prose(layout, manual_lines(), fonts, np.random.default_rng([seed, 15]))
    if rng.random() < config.code_share:
        layout = codify(layout, rng)
    if rng.random() < config.command_share:
        layout = command_lines(layout, rng)
    if np.random.default_rng([seed, 12]).random() < config.source_share:  # its own stream: 0 keeps earlier pages
        layout = source_code(layout, np.random.default_rng([seed, 13]))
    if rng.random() < config.typeset_share:  # its own streams: how many draws a rewrite takes depends on the strings,
        layout = typeset(layout, fonts, np.random.default_rng([seed, 20]))  # which must not move the scan's draws
    if rng.random() < config.respace_share:
        layout = respace(layout, fonts, np.random.default_rng([seed, 21]))
    if np.random.default_rng([seed, 18]).random() < config.leader_share:  # its own streams: 0 keeps earlier pages
        layout = leaders(layout, fonts, np.random.default_rng([seed, 19]))
    if np.random.default_rng([seed, 16]).random() < config.headline_share:  # its own streams: 0 keeps earlier pages
        layout = headline(layout, np.random.default_rng([seed, 17]))
    return render(layout, fonts, pdfium(px_per_pt), level, rng)


def detector_example(sample: Sample) -> DetectorExample:
    """The page on the canvas its detector pass sees: the canonical one, or where a string is far too tall for that
    (a headline), the coarse canvas that string lands on (`scales.landing_shrink`), as inference's coarse passes
    draw it. Strings the canvas shows outside `TARGET_PX` (a headline's fragments on the canonical canvas, body text
    shrunk to a texture on a coarse one) are masked out of the loss, a stride around them."""
    height, width = sample.image.shape
    heights = quad_rects(sample.quads)[:, 3] * canvas(width, height).scale if len(sample.quads) else np.zeros(0)
    tallest = float(heights.max(initial=0.0))
    shrink = landing_shrink(tallest) if tallest > TARGET_PX[1] else 1.0
    batch, (page_canvas,) = detector_batch([sample.image], shrink)
    quads = sample.quads * page_canvas.scale
    shown = heights * shrink
    target = (shown >= TARGET_PX[0]) & (shown <= TARGET_PX[1])
    rows, cols = page_canvas.padded_height // STRIDE, page_canvas.padded_width // STRIDE
    kernel, top, bottom = detector_targets(quads[target], rows, cols)
    grown = quads[~target] + np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)]) * STRIDE
    care = rasterize_owners(grown / STRIDE, rows, cols) == 0
    page = np.round(batch[0, 0].numpy() * 255).astype(np.uint8)
    return DetectorExample(
        page, kernel.astype(np.uint8), care.astype(np.uint8), top.astype(np.float16), bottom.astype(np.float16)
    )


def jitter(rects: npt.NDArray[np.float64], rng: np.random.Generator, config: DataConfig) -> npt.NDArray[np.float64]:
    """Move rectangles the way detection errs: edges up/down and ends in/out by a fraction of the height."""
    out = rects.copy()
    h = rects[:, 3]
    out[:, 1] += rng.normal(0, config.jitter_height, len(h)) * h
    out[:, 3] *= 1 + rng.normal(0, config.jitter_height, len(h))
    left, right = (rng.normal(0, config.jitter_ends, len(h)) * h for _ in range(2))
    out[:, 0] += (right - left) / 2
    out[:, 2] = np.maximum(out[:, 2] + left + right, h * 0.3)
    return out


def recognizer_examples(sample: Sample, rng: np.random.Generator, config: DataConfig) -> list[RecognizerExample]:
    """Every labelled string of the page as a recognizer crop, from its jittered label rectangle."""
    labels = quad_rects(sample.quads)
    source, scale = recognition_source(sample.image, labels[:, 3], labels)
    rects = jitter(labels, rng, config)
    crops = sample_crops(source, crop_quads(rects, scale), config.crop_columns)
    return [
        RecognizerExample(crop.half(), tuple(charset.encode(text)), FAMILY_INDEX[base_family(family)])
        for crop, text, family in zip(crops, sample.texts, sample.families, strict=True)
        if charset.encode(text)
    ]


def produce(seed: int, held_out: frozenset[int], config: DataConfig, out: mp.Queue, stop: mp.Event) -> None:
    """Worker loop: draw training pages (skipping held-out seeds) and queue their examples until told to
    stop or orphaned (a trainer killed without cleanup must not leave its worker drawing pages)."""
    torch.set_num_threads(1)
    parent = os.getppid()
    rng = np.random.default_rng([seed, 12])
    batch = 0
    while not stop.is_set():
        for page_seed in derive_seeds(seed + batch, 64):
            if stop.is_set() or os.getppid() != parent:
                return
            if page_seed in held_out:
                continue
            sample = training_sample(page_seed, config)
            item = (detector_example(sample), recognizer_examples(sample, rng, config))
            while not stop.is_set() and os.getppid() == parent:
                try:
                    out.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
        batch += 1_000_003


class Pools:
    """Replay pools the trainer samples batches from; fresh pages push out the oldest."""

    def __init__(self, pages: int, crops: int, rng: np.random.Generator) -> None:
        self.pages: deque[DetectorExample] = deque(maxlen=pages)
        self.crops: deque[RecognizerExample] = deque(maxlen=crops)
        self.rng = rng
        self.pages_seen = 0

    def add(self, item: tuple[DetectorExample, list[RecognizerExample]]) -> None:
        self.pages.append(item[0])
        self.crops.extend(item[1])
        self.pages_seen += 1

    def detector_batch(self, size: int, crop: int) -> tuple[torch.Tensor, ...]:
        """`size` random page crops (crop x crop canvas pixels), each centred near a random string half the time: pages,
        kernels, care masks, top and bottom distances. Beyond the page a crop is blank and counted as background."""
        pages, kernels, cares, tops, bottoms = [], [], [], [], []
        for index in self.rng.integers(0, len(self.pages), size):
            ex = self.pages[index]
            h, w = ex.page.shape
            ys, xs = np.nonzero(ex.kernel)
            if len(ys) and self.rng.random() < 0.5:
                i = self.rng.integers(len(ys))
                cy, cx = ys[i] * STRIDE, xs[i] * STRIDE
            else:
                cy, cx = self.rng.integers(0, h), self.rng.integers(0, w)
            y0 = int(np.clip(cy - crop // 2, 0, max(0, h - crop))) // STRIDE * STRIDE
            x0 = int(np.clip(cx - crop // 2, 0, max(0, w - crop))) // STRIDE * STRIDE
            page = np.zeros((crop, crop), np.uint8)
            window = ex.page[y0 : y0 + crop, x0 : x0 + crop]
            page[: window.shape[0], : window.shape[1]] = window
            pages.append(page)
            for store, source in ((kernels, ex.kernel), (cares, ex.care), (tops, ex.top), (bottoms, ex.bottom)):
                m = np.full((crop // STRIDE, crop // STRIDE), float(store is cares), np.float32)
                part = source[y0 // STRIDE : (y0 + crop) // STRIDE, x0 // STRIDE : (x0 + crop) // STRIDE]
                m[: part.shape[0], : part.shape[1]] = part
                store.append(m)
        as_tensor = [torch.from_numpy(np.stack(x)) for x in (pages, kernels, cares, tops, bottoms)]
        return as_tensor[0][:, None].float() / 255.0, *as_tensor[1:]

    def recognizer_batch(self, size: int, columns: int) -> tuple[torch.Tensor, ...]:
        """Up to `size` crops of similar widths (a sorted run of 4x as many random ones), at most `columns`
        padded columns in all: a batch of long strings holds fewer of them, so every step costs about the same."""
        draw = sorted(self.rng.integers(0, len(self.crops), 4 * size), key=lambda i: self.crops[i].crop.shape[1])
        start = int(self.rng.integers(0, 3 * size + 1))
        chosen = []
        for i in draw[start:]:
            if len(chosen) == size or (chosen and (len(chosen) + 1) * self.crops[i].crop.shape[1] > columns):
                break
            chosen.append(self.crops[i])
        width = -(-max(ex.crop.shape[1] for ex in chosen) // 4) * 4
        crops = torch.zeros(len(chosen), 1, chosen[0].crop.shape[0], width)
        for i, ex in enumerate(chosen):
            crops[i, 0, :, : ex.crop.shape[1]] = ex.crop.float()
        widths = torch.tensor([ex.crop.shape[1] for ex in chosen])
        targets = torch.tensor([c for ex in chosen for c in ex.target])
        lengths = torch.tensor([len(ex.target) for ex in chosen])
        families = torch.tensor([ex.family for ex in chosen])
        return crops, widths, targets, lengths, families
