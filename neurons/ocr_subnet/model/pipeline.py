"""The inference pipeline: pages in, sections out (the interface the Triton model binds).

    pipeline = OcrPipeline.load()            # packaged weights, or load(weights_dir)
    sections = pipeline([page, ...])         # uint8 greyscale H x W pages -> [[Section, ...], ...]

Batched, but a page's answer never depends on the other pages it came with: the detector runs once
per canvas size over the pages of that size (never padded to another page's canvas), and the
recognizer over each page's crops (sorted by width and cut into the calls that compute the fewest
padded columns, so long strings do not make every short one as costly). The networks run in bf16
where the hardware has it natively (`resolve_precision`), and the greedy readings pass through the
corrections the calibration asks for (`correction`: doubtful characters, vocabulary words, recurring lines,
weighed by the invoice language model).
Every geometric decision lives in `geometry` (pure); this module only moves tensors.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from ocr_subnet.model import Precision, charset
from ocr_subnet.model.bands import light_bands
from ocr_subnet.model.correction import Corrector
from ocr_subnet.model.crops import crop_quads, detector_batch, pad_batch, recognition_source, sample_crops
from ocr_subnet.model.dot_leaders import recount_leaders
from ocr_subnet.model.geometry import (
    STRIDE,
    Calibration,
    canvas,
    decode_maps,
    font_sizes,
    page_families,
    page_width,
    quad_bounds,
    rect_corners,
)
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import Lexicon
from ocr_subnet.model.nets import OFFSET_SCALE
from ocr_subnet.model.orientation import (
    ascender_balance,
    light_paper,
    page_confidence,
    shows_turned,
    surest_turn,
    turns_to_try,
    unturn_box,
)
from ocr_subnet.model.scales import (
    COARSE_SHRINKS,
    line_heights,
    reading_confidence,
    settle_scales,
    suspects,
    too_tall,
)
from ocr_subnet.protocol import MAX_SECTIONS
from ocr_subnet.sections import FONT_FAMILIES, MAX_TEXT_CHARS, Font, Section, lines

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = "manifest.json"
DETECTOR_FILE = "detector.pt"
RECOGNIZER_FILE = "recognizer.pt"
LEXICON_FILE = "lexicon.txt"
LANGUAGE_FILE = "language.json.gz"
RECOGNIZER_CHUNK = 64  # crops per recognizer call at most
RECOGNIZER_COLUMNS = 3000  # padded crop columns per call at most (bounds memory; a single long crop may exceed it)
RECOGNIZER_CALL_COLUMNS = 512  # one recognizer call costs about as much CPU time as this many more padded columns

DTYPES = {Precision.FP32: torch.float32, Precision.BF16: torch.bfloat16}

Module = Callable[..., torch.Tensor | tuple[torch.Tensor, torch.Tensor]]


class ModelLoadError(RuntimeError):
    """The weights are missing or unreadable: raised by `OcrPipeline.load`, never at the first request."""


@dataclass(frozen=True)
class Maps:
    """The detector's output for one page, cut to the page's part of the canvas."""

    prob: npt.NDArray[np.float32]
    top: npt.NDArray[np.float32]
    bottom: npt.NDArray[np.float32]
    scale: float  # canvas pixels per page pixel

    def rects(self, calibration: Calibration) -> npt.NDArray[np.float64]:
        """Decoded rectangles in page pixels."""
        found = decode_maps(self.prob, self.top, self.bottom, calibration)
        found[:, :4] /= self.scale
        return found


@dataclass(frozen=True)
class Reading:
    """One page's detections before they become sections (image pixels)."""

    rects: npt.NDArray[np.float64]  # (n, 6) geometry.RECT_FIELDS
    texts: list[str]
    family_probs: npt.NDArray[np.float32]  # (n, len(FONT_FAMILIES))
    log_probs: tuple[torch.Tensor, ...] = ()  # per crop, the recognizer's (T, classes) CTC log-probabilities
    sure: tuple[float, ...] = ()  # per crop, how surely it reads (`scales.reading_confidence`)

    def plus(self, other: Reading) -> Reading:
        """This page's strings followed by `other`'s."""
        return Reading(
            np.concatenate([self.rects, other.rects]),
            [*self.texts, *other.texts],
            np.concatenate([self.family_probs, other.family_probs]),
            (*self.log_probs, *other.log_probs),
            (*self.sure, *other.sure),
        )

    def pick(self, indices: Sequence[int]) -> Reading:
        """The strings at `indices`, in that order."""
        return Reading(
            self.rects[list(indices)],
            [self.texts[i] for i in indices],
            self.family_probs[list(indices)],
            tuple(self.log_probs[i] for i in indices),
            tuple(self.sure[i] for i in indices),
        )


def as_page(page: np.ndarray) -> npt.NDArray[np.uint8]:
    """Any 2-D (or H x W x C) array -> uint8 greyscale; the contract is uint8 H x W, this keeps odd input alive."""
    array = np.asarray(page)
    if array.ndim == 3:
        array = array.mean(axis=2)
    if array.ndim != 2:
        raise ValueError(f"a page must be a 2-D greyscale array, got shape {array.shape}")
    return array if array.dtype == np.uint8 else np.clip(array, 0, 255).astype(np.uint8)


def to_sections(reading: Reading, width: int, height: int, calibration: Calibration) -> list[Section]:
    """Detections of a width x height page -> sections: label-rule boxes clipped to the page, fonts in points, in
    reading order (`sections.lines`), so that a box one pixel higher or lower does not reorder the answer."""
    if not len(reading.rects):
        return []
    boxes = quad_bounds(rect_corners(reading.rects))
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    sizes = font_sizes(reading.rects, page_width(width, height), calibration)
    families = page_families(reading.family_probs, calibration.family_prior)
    sections = []
    for box, text, family, size in zip(boxes, reading.texts, families, sizes, strict=True):
        x0, y0, x1, y1 = (round(float(v), 2) for v in box)
        if text and x0 < x1 and y0 < y1:
            font = Font(family=FONT_FAMILIES[family], size=float(size))
            sections.append(Section(text=text[:MAX_TEXT_CHARS], position=(x0, y0, x1, y1), font=font))
    return [section for line in lines(sections) for section in line]


def native_bf16(device: str) -> bool:
    """Whether bfloat16 runs natively on `device`: a CUDA GPU that has it, or a CPU with AVX512-BF16 or AMX
    (elsewhere oneDNN emulates it, slower than float32)."""
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return re.search(r"^flags\s*:.*\b(avx512_bf16|amx_bf16)\b", cpuinfo, re.MULTILINE) is not None


def resolve_precision(precision: str, native: bool) -> torch.dtype:
    """Precision "auto", "fp32" or "bf16" -> the dtype the networks run in; auto takes bf16 where it is native
    (measured on a 2-core AVX512-BF16 CPU: ~45 ms less per page, the same quality on the benchmark pages)."""
    if precision == Precision.AUTO:
        return torch.bfloat16 if native else torch.float32
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {', '.join(Precision)}; got {precision!r}")
    return DTYPES[Precision(precision)]


def load_network(path: Path, device: str, dtype: torch.dtype) -> Module:
    """An exported network (`nets.exportable`) on `device`, cast to `dtype`, channels-last (what oneDNN's bf16
    convolutions and pooling want), frozen; on CPU also with oneDNN-prepacked convolutions."""
    with warnings.catch_warnings():  # TorchScript still works in torch 2.x; its deprecation notice is noise
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location=device).to(dtype).to(memory_format=torch.channels_last)
        frozen = torch.jit.freeze(module.eval())
        return torch.jit.optimize_for_inference(frozen) if device == "cpu" else frozen


def load_corrector(directory: Path, calibration: Calibration) -> Corrector | None:
    """The corrections the calibration asks for, with their vocabulary and language model; None when it
    asks for none. A file the calibration needs that is missing or damaged fails the load."""
    if calibration.lexicon_penalty <= 0 and calibration.language_weight <= 0:
        return None
    lexicon, language = load_prior(directory, "the calibration corrects readings", calibration.language_weight > 0)
    return Corrector(lexicon, language, calibration.lexicon_penalty, calibration.language_weight)


def load_prior(directory: Path, why: str, with_language: bool = True) -> tuple[Lexicon, CharNgram | None]:
    """The exported lexicon and (`with_language`) character model; a missing, damaged or empty file fails the
    load, its message led by `why` the prior is needed."""
    path = directory / LEXICON_FILE
    try:
        lexicon = Lexicon.load(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{why}, but the lexicon {path} is unreadable: {exc}") from exc
    if not lexicon.words:
        raise ModelLoadError(f"{why}, but the lexicon {path} is empty")
    if not with_language:
        return lexicon, None
    path = directory / LANGUAGE_FILE
    try:
        return lexicon, CharNgram.load(path)
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{why} and weighs a language model, but {path} is unreadable: {exc}") from exc


class OcrPipeline:
    """Detector -> rectangles -> crops -> recognizer + font head, batched over pages and over crops."""

    def __init__(
        self,
        detector: Module,
        recognizer: Module,
        calibration: Calibration,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        corrector: Corrector | None = None,
        recount: bool = True,
    ) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self.calibration = calibration
        self.device = torch.device(device)
        self.dtype = dtype
        self.corrector = corrector
        self.recount = recount  # rows of dot leaders take their length from the crops' pixels (`dot_leaders`)

    @classmethod
    def load(cls, weights_dir: Path | None = None, device: str = "cpu", precision: str = "auto") -> OcrPipeline:
        """Load the exported TorchScript weights and calibration from `weights_dir` (None: the packaged ones),
        to run on `device` in `precision` (see `resolve_precision`)."""
        dtype = resolve_precision(precision, native_bf16(device))
        directory = WEIGHTS_DIR if weights_dir is None else Path(weights_dir)
        manifest_path = directory / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text())
            calibration = Calibration(**manifest["calibration"])
        except FileNotFoundError as exc:
            raise ModelLoadError(
                f"no model manifest at {manifest_path}: train and export with `ocr-subnet train`"
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"model manifest {manifest_path} is corrupt: {exc}") from exc
        modules = []
        for name in (DETECTOR_FILE, RECOGNIZER_FILE):
            path = directory / name
            if not path.is_file():
                raise ModelLoadError(f"model weights {path} are missing")
            try:
                modules.append(load_network(path, device, dtype))
            except Exception as exc:  # torch raises RuntimeError, ValueError or zip errors for a damaged file
                raise ModelLoadError(f"model weights {path} are unreadable: {exc}") from exc
        return cls(modules[0], modules[1], calibration, device, dtype, load_corrector(directory, calibration))

    def uncorrected(self) -> OcrPipeline:
        """The same networks and calibration without the corrections: readings keep their greedy texts (no
        recounted dots either, which the corrections could not align with the frames), for calibrating and measuring
        the corrections on them."""
        device = str(self.device)
        return OcrPipeline(self.detector, self.recognizer, self.calibration, device, self.dtype, recount=False)

    def __call__(self, pages: Sequence[np.ndarray]) -> list[list[Section]]:
        """uint8 greyscale H x W pages of any size -> one list of sections per page, in that page's pixels."""
        arrays = [as_page(page) for page in pages]
        live = [i for i, a in enumerate(arrays) if a.size]
        results: list[list[Section]] = [[] for _ in arrays]
        if not live:
            return results
        arrays = [light_bands(light_paper(a)) if a.size else a for a in arrays]
        readings = self.read([arrays[i] for i in live])
        for i, reading in zip(live, readings, strict=True):
            results[i] = self.page_sections(arrays[i], reading)
        return results

    def page_sections(self, page: npt.NDArray[np.uint8], reading: Reading) -> list[Section]:
        """A page's reading as sections. A page that may have been turned (`orientation.turns_to_try`) is also read
        turned back, and the surest reading is kept, its boxes turned back into the page's pixels."""
        height, width = page.shape
        turns = turns_to_try(
            page_confidence(reading.sure, reading.texts),
            lambda: shows_turned(reading.rects, self.detect([np.rot90(page)])[0]),
            lambda: ascender_balance(page, reading.rects),
        )
        if turns:
            turned = [np.ascontiguousarray(np.rot90(page, quarters)) for quarters in turns]
            options = [reading, *self.read(turned)]
            best = surest_turn([page_confidence(option.sure, option.texts) for option in options])
            if best:
                image = turned[best - 1]
                sections = to_sections(options[best], image.shape[1], image.shape[0], self.calibration)
                boxes = [unturn_box(section.position, turns[best - 1], width, height) for section in sections]
                return [
                    section.model_copy(update={"position": tuple(round(float(v), 2) for v in box)})
                    for section, box in zip(sections, boxes, strict=True)
                ]
        return to_sections(reading, width, height, self.calibration)

    def network_input(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.to(self.device, self.dtype).contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def detector_maps(self, pages: Sequence[npt.NDArray[np.uint8]], shrink: float = 1.0) -> list[Maps]:
        """Pages -> per page its kernel probability and edge distances (canvas pixels), cut to the page;
        one detector call per canvas size (`shrink` times the canonical canvas)."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, page in enumerate(pages):
            c = canvas(page.shape[1], page.shape[0], shrink)
            groups.setdefault((c.padded_height, c.padded_width), []).append(i)
        maps: dict[int, Maps] = {}
        for members in groups.values():
            batch, canvases = detector_batch([pages[i] for i in members], shrink)
            out = self.detector(self.network_input(batch)).float().cpu()
            prob = torch.sigmoid(out[:, 0]).numpy()
            offsets = (out[:, 1:] * OFFSET_SCALE).numpy()
            for row, (i, c) in enumerate(zip(members, canvases, strict=True)):
                rows, cols = -(-c.height // STRIDE), -(-c.width // STRIDE)
                cut = (slice(None, rows), slice(None, cols))
                maps[i] = Maps(prob[row][cut], offsets[row, 0][cut], offsets[row, 1][cut], c.scale)
        return [maps[i] for i in range(len(pages))]

    def detect(self, pages: Sequence[npt.NDArray[np.uint8]]) -> list[npt.NDArray[np.float64]]:
        """Pages -> per page (n, 6) rectangles in that page's pixels, the surest MAX_SECTIONS at most."""
        rects = [maps.rects(self.calibration) for maps in self.detector_maps(pages)]
        return [r[surest(r[:, 5])] for r in rects]

    def detect_tall(self, pages: Sequence[npt.NDArray[np.uint8]]) -> list[npt.NDArray[np.float64]]:
        """Pages -> per page the rectangles of strings too tall for the canonical canvas, from passes on coarser
        ones (`COARSE_SHRINKS`, finest first; `scales`)."""
        finer = [canvas(page.shape[1], page.shape[0]).scale for page in pages]
        found: list[list[npt.NDArray[np.float64]]] = [[] for _ in pages]
        for k, shrink in enumerate(COARSE_SHRINKS):
            for i, maps in enumerate(self.detector_maps(pages, shrink)):
                rects = maps.rects(self.calibration)
                found[i].append(rects[too_tall(rects, finer[i], maps.scale, k == len(COARSE_SHRINKS) - 1)])
                finer[i] = maps.scale
        return [np.concatenate(rects) for rects in found]

    @torch.inference_mode()
    def recognize(self, crops: Sequence[torch.Tensor]) -> tuple[list[str], list[torch.Tensor], npt.NDArray[np.float32]]:
        """Crops -> corrected texts (rows of dot leaders as long as the crops show them), CTC log-probabilities
        and family probabilities, in the crops' order, batched by similar width."""
        texts = [""] * len(crops)
        columns: list[torch.Tensor] = [torch.empty(0)] * len(crops)
        probs = np.zeros((len(crops), len(FONT_FAMILIES)), dtype=np.float32)
        for chunk in width_chunks([c.shape[1] for c in crops], RECOGNIZER_COLUMNS, RECOGNIZER_CHUNK):
            batch, widths = pad_batch([crops[i] for i in chunk])
            logits, family_logits = self.recognizer(self.network_input(batch), widths.to(self.device))
            steps = torch.div(widths + 3, 4, rounding_mode="floor").tolist()
            log_probs = logits.float().cpu().log_softmax(-1)
            for row, (i, text) in enumerate(zip(chunk, charset.greedy_decode(log_probs.numpy(), steps), strict=True)):
                columns[i] = log_probs[row, : steps[row]]
                if self.corrector is not None:
                    text = self.corrector(text, columns[i])
                texts[i] = recount_leaders(text, crops[i].numpy()) if self.recount else text
            probs[chunk] = torch.softmax(family_logits.float(), dim=1).cpu().numpy()
        return texts, columns, probs

    def read(self, pages: Sequence[npt.NDArray[np.uint8]]) -> list[Reading]:
        """Detect on the pages (batched by canvas size), then recognize each page's crops. Where the canonical canvas
        read tall strings unsurely (the fragments of a heading too large for it, `scales.suspects`), the page's
        coarse detections are read too, and each replaces the fragments it holds where it reads more surely."""
        readings = []
        for page, found in zip(pages, self.detect(pages), strict=True):
            page_scale = canvas(page.shape[1], page.shape[0]).scale
            source, scale = recognition_source(page, line_heights(found, page_scale), found)
            reading = self.read_crops(source, scale, found)
            suspect = suspects(found, reading.sure, page_scale)
            if suspect.any():
                tall = self.read_crops(source, scale, self.detect_tall([page])[0])
                both = reading.plus(tall)
                keep = settle_scales(both.rects, suspect, both.sure, both.texts)
                reading = both.pick([keep[i] for i in surest(both.rects[keep, 5])])
            readings.append(reading)
        return readings

    def read_crops(self, source: torch.Tensor, scale: float, rects: npt.NDArray[np.float64]) -> Reading:
        """One page's rectangles read from its recognition source (at `scale` of the page)."""
        texts, log_probs, probs = self.recognize(sample_crops(source, crop_quads(rects, scale)))
        return Reading(rects, texts, probs, tuple(log_probs), tuple(map(reading_confidence, log_probs)))


def surest(scores: npt.NDArray[np.float64]) -> list[int]:
    """The indices of the MAX_SECTIONS highest detection scores (all of them, in order, where there are no more)."""
    return list(range(len(scores))) if len(scores) <= MAX_SECTIONS else np.argsort(-scores)[:MAX_SECTIONS].tolist()


def width_chunks(
    widths: Sequence[int], columns: int, most: int, call_cost: int = RECOGNIZER_CALL_COLUMNS
) -> list[list[int]]:
    """Indices sorted by width, cut into the runs that compute the fewest padded columns, counting `call_cost`
    columns per run (each run is padded to its widest crop); a run holds at most `most` crops and, unless
    it is one crop, at most `columns` padded columns. Dynamic programming over the sorted widths."""
    order = sorted(range(len(widths)), key=widths.__getitem__)
    padded = [-(-widths[i] // 4) * 4 for i in order]
    cost = [0.0] + [math.inf] * len(order)
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        widest = padded[end - 1]
        for start in range(end - 1, max(end - most, 0) - 1, -1):
            count = end - start
            if count > 1 and count * widest > columns:
                break
            total = cost[start] + count * widest + call_cost
            if total < cost[end]:
                cost[end], cut[end] = total, start
    chunks, end = [], len(order)
    while end:
        chunks.append(order[cut[end] : end])
        end = cut[end]
    return chunks[::-1]
