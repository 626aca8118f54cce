"""Tesseract, the tutorial's reference miner, as an `OcrBackend`.

Runs Debian's `tesseract` binary once per image (single-threaded, with a timeout) and turns
its word boxes (TSV) into sections the way the invoice strings are drawn: words of a line
with ordinary spaces between them form one section, a wide gap (a table column) starts the
next. Tesseract boxes ink; labels box the font's em square around the baseline (DESIGN.md),
so each section's box is rebuilt from an estimated baseline and font size.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby, pairwise
from statistics import median

import numpy as np
from PIL import Image
from scipy import ndimage

from ocr_subnet.backends.base import BackendError
from ocr_subnet.sections import MAX_FONT_SIZE, MAX_TEXT_CHARS, Font, Section

PAGE_WIDTH_PT = 612.0  # US letter: the generator draws on it and frames it to the image width
TSV_COLUMNS = 12
WORD_LEVEL = "5"

# Glyph metrics shared closely enough by Helvetica and Times, in units of the font size.
CAP_HEIGHT = 0.70  # capitals, digits and ascenders (b d f h k l t) rise this far above the baseline
X_HEIGHT = 0.50  # lowercase letters without ascenders
DESCENT = 0.21  # descenders (g j p q y, commas, brackets) fall this far below it
LABEL_ASCENT, LABEL_DESCENT = 0.8, 0.2  # the label box's rule around the baseline (DESIGN.md)
SIDE_BEARING = 0.025  # labels span the advance width, a little wider than the ink
INK_SPREAD_PX = 0.8  # the challenge's blur widens every glyph's ink by about this much (delivered px)
MIN_SIZE_PX = 1.0  # a degenerate box (zero-height word) still yields a valid section
TARGET_WIDTH_PX = 1300  # page width at which 10 pt text reaches the glyph size tesseract reads best

TALL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789bdfhklt!?#$%&@/\\|()[]{}'\"")
DESCENDING = frozenset("gjpqyQ,;()[]{}|@$_")


@dataclass(frozen=True)
class Word:
    """One word of tesseract's TSV, in pixels of the image as delivered."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    line: tuple[int, int, int]  # block, paragraph, line: tesseract's own line identity
    confidence: float


@dataclass(frozen=True)
class GroupingConfig:
    """How words become sections and which words are trusted."""

    gap_em: float = 1.2  # a gap wider than this many font sizes splits a line into sections
    min_confidence: float = 0.0  # tesseract's 0-100 word confidence; its low scores still read well
    max_size_ratio: float = 1.5  # a run estimated this much larger than the page's median is a bad box
    family: str = "Helvetica"  # tesseract's LSTM engine does not report fonts: guess the commonest


def parse_tsv(tsv: str, scale: float = 1.0) -> list[Word]:
    """Tesseract's TSV -> its non-empty words, coordinates divided by `scale` (the upscale used)."""
    rows = csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows, None)
    if header is None or len(header) != TSV_COLUMNS or header[-1] != "text":
        raise BackendError(f"tesseract printed no TSV header: {tsv[:200]!r}")
    words = []
    for row in rows:
        if len(row) != TSV_COLUMNS or row[0] != WORD_LEVEL or not row[11].strip():
            continue
        try:
            block, paragraph, line, left, top, width, height = (int(v) for v in (*row[2:5], *row[6:10]))
            confidence = float(row[10])
        except ValueError as exc:
            raise BackendError(f"tesseract printed a malformed TSV row {row!r}") from exc
        words.append(
            Word(
                text=row[11].strip(),
                left=left / scale,
                top=top / scale,
                right=(left + width) / scale,
                bottom=(top + height) / scale,
                line=(block, paragraph, line),
                confidence=confidence,
            )
        )
    return words


def glyph_extent(words: Sequence[Word]) -> tuple[float, float]:
    """How far the run's ink rises above and falls below the baseline, in font sizes."""
    rise = CAP_HEIGHT if any(TALL.intersection(w.text) for w in words) else X_HEIGHT
    fall = DESCENT if any(DESCENDING.intersection(w.text) for w in words) else 0.0
    return rise, fall


def font_size_px(words: Sequence[Word]) -> float:
    """The font size in pixels implied by the words' ink heights (median: one noisy box can't skew it)."""
    return median((w.bottom - w.top - INK_SPREAD_PX) / sum(glyph_extent([w])) for w in words)


def split_on_gaps(words: Sequence[Word], gap_em: float) -> list[list[Word]]:
    """One line's words, left to right, cut wherever the gap is wider than `gap_em` font sizes."""
    ordered = sorted(words, key=lambda w: w.left)
    size = font_size_px(ordered)
    runs = [[ordered[0]]]
    for previous, word in pairwise(ordered):
        if word.left - previous.right > gap_em * size:
            runs.append([word])
        else:
            runs[-1].append(word)
    return runs


def to_section(words: Sequence[Word], size_px: float, px_per_pt: float, family: str) -> Section:
    """A run of words -> one section with the label-convention box and an estimated font.

    The baseline comes from the centre of the run's ink, which stays put when tesseract
    stretches a word box up and down over a line that spans two columns.
    """
    size_px = max(size_px, MIN_SIZE_PX)
    rise, fall = glyph_extent(words)
    centre = (min(w.top for w in words) + max(w.bottom for w in words)) / 2
    baseline = centre + (rise - fall) / 2 * size_px
    x0 = min(w.left for w in words) - SIDE_BEARING * size_px
    x1 = max(w.right for w in words) + SIDE_BEARING * size_px
    box = (x0, baseline - LABEL_ASCENT * size_px, max(x1, x0 + 1), baseline + LABEL_DESCENT * size_px)
    points = min(MAX_FONT_SIZE, max(size_px / px_per_pt, 0.1))
    text = " ".join(w.text for w in words)[:MAX_TEXT_CHARS]
    return Section(text=text, position=box, font=Font(family=family, size=round(points, 1)))


def words_to_sections(words: Iterable[Word], image_width: int, config: GroupingConfig) -> list[Section]:
    """Group trusted words into sections, line by line in tesseract's reading order.

    A run whose ink looks far taller than the page's typical text (tesseract sometimes gives
    every word the height of a line spanning two columns) takes the page's typical size.
    """
    px_per_pt = image_width / PAGE_WIDTH_PT
    trusted = [w for w in words if w.confidence >= config.min_confidence]
    runs = [
        run for _, line in groupby(trusted, key=lambda w: w.line) for run in split_on_gaps(list(line), config.gap_em)
    ]
    if not runs:
        return []
    sizes = [font_size_px(run) for run in runs]
    typical = median(sizes)
    return [
        to_section(run, typical if size > config.max_size_ratio * typical else size, px_per_pt, config.family)
        for run, size in zip(runs, sizes, strict=True)
    ]


def upscale_factor(width: int, max_upscale: int) -> int:
    """Enlarge small pages (the 631 px challenges: x2) toward TARGET_WIDTH_PX; never shrink, and
    leave large pages alone, where upscaling only costs memory and tesseract time."""
    return max(1, min(max_upscale, round(TARGET_WIDTH_PX / max(width, 1))))


def preprocess(image: Image.Image, upscale: int, paper_px: int = 15, sharpen: float = 3.0) -> Image.Image:
    """Undo what the challenge corruption does to tesseract's binarization, then enlarge.

    Dividing by the paper's brightness (a grey closing removes the text, a box filter smooths
    it) flattens darkened borders and spots; an unsharp mask counters the blur that merges the
    ~10 px glyphs; upscaling puts the glyphs in the size range tesseract's LSTM was trained on.
    Measured on level-1 challenges this takes tesseract's CER from ~0.55 to ~0.2.
    """
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    paper = ndimage.uniform_filter(ndimage.grey_closing(grey, size=(paper_px, paper_px)), paper_px)
    flat = np.clip(grey / np.maximum(paper, 1.0) * 255.0, 0, 255)
    sharp = np.clip(flat + sharpen * (flat - ndimage.gaussian_filter(flat, 1.0)), 0, 255)
    result = Image.fromarray(sharp.astype(np.uint8))
    if upscale != 1:
        result = result.resize((result.width * upscale, result.height * upscale), Image.Resampling.BICUBIC)
    return result


class TesseractBackend:
    """Debian's tesseract-ocr behind the `OcrBackend` interface."""

    name = "tesseract"

    def __init__(
        self,
        binary: str = "tesseract",
        language: str = "eng",
        upscale: int = 2,
        timeout_s: float = 20.0,
        grouping: GroupingConfig | None = None,
    ) -> None:
        path = shutil.which(binary)
        if path is None:
            raise BackendError(f"tesseract binary {binary!r} not found: install Debian's tesseract-ocr")
        self._binary = path
        self._language = language
        self._upscale = upscale
        self._timeout_s = timeout_s
        self._grouping = grouping or GroupingConfig()
        self._env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        languages = self._run(["--list-langs"], b"").splitlines()[1:]  # after a "List of ..." header
        if language not in languages:
            raise BackendError(f"tesseract has no {language!r} language data (has {languages})")

    def recognize(self, image: Image.Image) -> list[Section]:
        """Read `image`; blocking, one single-threaded tesseract process per call."""
        factor = upscale_factor(image.width, self._upscale)
        png = io.BytesIO()
        preprocess(image, factor).save(png, format="PNG")
        dpi = round(72 * factor * image.width / PAGE_WIDTH_PT)
        tsv = self._run(["stdin", "stdout", "-l", self._language, "--dpi", str(dpi), "tsv"], png.getvalue())
        return words_to_sections(parse_tsv(tsv, factor), image.width, self._grouping)

    def close(self) -> None:
        """Nothing to release: each call's process ends with the call."""

    def _run(self, arguments: list[str], stdin: bytes) -> str:
        try:
            done = subprocess.run(
                [self._binary, *arguments],
                input=stdin,
                capture_output=True,
                timeout=self._timeout_s,
                env=self._env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BackendError(f"tesseract took over {self._timeout_s} s") from exc
        except OSError as exc:
            raise BackendError(f"tesseract could not run: {exc}") from exc
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()
            raise BackendError(f"tesseract exited with {done.returncode}: {stderr[-500:]}")
        return done.stdout.decode("utf-8", "replace")
