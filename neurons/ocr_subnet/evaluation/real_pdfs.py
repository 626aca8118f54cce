"""The real-PDF evaluation set: pages of Debian documentation PDFs that no generator drew.

Each page is rasterized with pdfium at the asked resolution, clean or scan-degraded (the challenge's level-2
border, noise, spots, blur and JPEG, with no geometric step, so the ground truth's boxes stay exact). The
ground truth is the PDF's own text layer from `pdftotext -bbox-layout` (poppler-utils): words and lines with
their boxes, mapped into the raster's pixels. Nothing from the PDFs is stored in the repository: the set is
the list below (package, file, page numbers), read from the packages installed on the machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from xml.etree import ElementTree as ET

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
from PIL import Image
from rapidfuzz.distance import Levenshtein

from ocr_subnet.challenge import corrupt, levels
from ocr_subnet.challenge.generate import scan_marks
from ocr_subnet.evaluation import DocumentSet, Variant
from ocr_subnet.sections import Font, Section, plain_text

POINTS_PER_INCH = 72.0
DEGRADE_LEVEL = 2  # the challenge level whose photometry the scan-degraded variant applies
TEXT_LAYER_FAMILY = ""  # pdftotext reports no font: truth sections carry only their line's height
PDFTOTEXT_TIMEOUT_S = 60.0
XHTML = "{http://www.w3.org/1999/xhtml}"
# Control characters XML 1.0 forbids: pdftotext writes them raw for glyphs its font maps to no character (crc-doc's
# formulas give U+0001), and the whole page then failed to parse.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class SourceDocument:
    """One PDF of the set: the Debian package that ships it, where, and which of its pages (1-based) are read."""

    package: str
    path: Path
    pages: tuple[int, ...]


# Text pages (prose, code, option lists, tables), not title pages, tables of contents or formulas.
DOCUMENTS: tuple[SourceDocument, ...] = (
    SourceDocument("libtasn1-doc", Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"), (4, 13, 20)),
    SourceDocument("bzip2-doc", Path("/usr/share/doc/bzip2/manual.pdf.gz"), (8, 16, 20)),
    SourceDocument("nettle-dev", Path("/usr/share/doc/nettle-dev/nettle.pdf.gz"), (12, 20, 28)),
    SourceDocument("valgrind", Path("/usr/share/doc/valgrind/valgrind_manual.pdf.gz"), (16, 30, 40)),
    SourceDocument("shared-mime-info", Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"), (2, 5, 9)),
    SourceDocument("fontconfig", Path("/usr/share/doc/fontconfig/fontconfig-user.pdf.gz"), (2, 5, 7)),
)

# Other documents from other packages, other typesetters (texinfo, LaTeX, DocBook through FOP), for calibration
# alone (`ocr-subnet calibrate`): what the corrections are tuned on is never what they are judged on.
CALIBRATION_DOCUMENTS: tuple[SourceDocument, ...] = (
    SourceDocument("flex-doc", Path("/usr/share/doc/flex-doc/flex.pdf.gz"), (14, 40)),
    SourceDocument("libgcrypt20-doc", Path("/usr/share/doc/libgcrypt20-doc/gcrypt.pdf.gz"), (12, 60)),
    SourceDocument("libmpfr-doc", Path("/usr/share/doc/libmpfr-doc/mpfr.pdf.gz"), (6, 12)),
    SourceDocument("gprolog-doc", Path("/usr/share/doc/gprolog-doc/gprolog.pdf"), (30, 60)),
    SourceDocument("xorg-docs", Path("/usr/share/doc/xorg-docs/icccm/icccm.pdf.gz"), (8, 40)),
)


# Tables of contents, their titles led by rows of dots to page numbers: tight dots as DocBook through FOP sets them
# (xorg-docs, valgrind), spaced ones as Texinfo and LaTeX do. Pages no other set lists.
CONTENTS_DOCUMENTS: tuple[SourceDocument, ...] = (
    SourceDocument("xorg-docs", Path("/usr/share/doc/xorg-docs/xlfd/xlfd.pdf.gz"), (3,)),
    SourceDocument("xorg-docs", Path("/usr/share/doc/xorg-docs/ReleaseNotes.pdf.gz"), (2,)),
    SourceDocument("xorg-docs", Path("/usr/share/doc/xorg-docs/fonts/fonts.pdf.gz"), (2,)),
    SourceDocument("xorg-docs", Path("/usr/share/doc/xorg-docs/ctext/ctext.pdf.gz"), (2,)),
    SourceDocument("valgrind", Path("/usr/share/doc/valgrind/valgrind_manual.pdf.gz"), (2,)),
    SourceDocument("flex-doc", Path("/usr/share/doc/flex-doc/flex.pdf.gz"), (3,)),
    SourceDocument("libmpfr-doc", Path("/usr/share/doc/libmpfr-doc/mpfr.pdf.gz"), (3,)),
    SourceDocument("bzip2-doc", Path("/usr/share/doc/bzip2/manual.pdf.gz"), (3,)),
    SourceDocument("nettle-dev", Path("/usr/share/doc/nettle-dev/nettle.pdf.gz"), (3,)),
    SourceDocument("gprolog-doc", Path("/usr/share/doc/gprolog-doc/gprolog.pdf"), (3,)),
)

# Text pages of eleven more documents (X.Org's specifications, papers and release notes through DocBook and FOP,
# Latin Modern's notes in LaTeX) that no other set reads: a check beyond the six that decisions are taken on.
X_ORG = Path("/usr/share/doc/xorg-docs")
BREADTH_DOCUMENTS: tuple[SourceDocument, ...] = (
    SourceDocument("xorg-docs", X_ORG / "input/XKB-Enhancing.pdf.gz", (4, 9)),
    SourceDocument("xorg-docs", X_ORG / "input/XKB-Config.pdf.gz", (3, 4)),
    SourceDocument("xorg-docs", X_ORG / "graphics/dps.pdf.gz", (3,)),
    SourceDocument("xorg-docs", X_ORG / "Xserver/analysis.pdf.gz", (5, 9)),
    SourceDocument("xorg-docs", X_ORG / "Xserver/appgroup.pdf.gz", (3, 4)),
    SourceDocument("xorg-docs", X_ORG / "Xserver/secint.pdf.gz", (4, 7)),
    SourceDocument("xorg-docs", X_ORG / "Xserver/XACE-Spec.pdf.gz", (5, 9)),
    SourceDocument("xorg-docs", X_ORG / "xext/lbxalg.pdf.gz", (3, 4)),
    SourceDocument("xorg-docs", X_ORG / "README.pdf.gz", (3, 4)),
    SourceDocument("xorg-docs", X_ORG / "Versions.pdf.gz", (3, 4)),
    SourceDocument("lmodern", Path("/usr/share/doc/lmodern/lm-info.pdf"), (2, 3)),
)

DOCUMENT_SETS: dict[DocumentSet, tuple[SourceDocument, ...]] = {
    DocumentSet.EVALUATION: DOCUMENTS,
    DocumentSet.CALIBRATION: CALIBRATION_DOCUMENTS,
    DocumentSet.CONTENTS: CONTENTS_DOCUMENTS,
    DocumentSet.BREADTH: BREADTH_DOCUMENTS,
}


class MissingDocuments(RuntimeError):
    """A document of the set is not on this machine: the message names the apt packages that install it."""


@dataclass(frozen=True)
class Truth:
    """A page's text layer in the raster's pixels: every word, and every line (its words joined by spaces)."""

    words: tuple[Section, ...]
    lines: tuple[Section, ...]

    @property
    def text(self) -> str:
        return plain_text(self.lines)


@dataclass(frozen=True)
class RealPage:
    """One planned page at one resolution and variant, with its text layer's text."""

    document: SourceDocument
    page: int
    dpi: int
    variant: Variant
    truth: str
    image: Image.Image


@dataclass(frozen=True)
class PageResult:
    engine: str
    dpi: int
    variant: str
    package: str
    page: int
    cer: float
    word_accuracy: float
    seconds: float


# --- pure parts -------------------------------------------------------------------------------------------


def missing_packages(documents: Sequence[SourceDocument], exists: Callable[[Path], bool] = Path.is_file) -> list[str]:
    """The packages (sorted, once each) whose document is absent."""
    return sorted({d.package for d in documents if not exists(d.path)})


def missing_message(packages: Sequence[str]) -> str:
    return (
        f"the real-PDF set needs Debian packages that are not installed: {', '.join(packages)}; "
        f"install them with `sudo apt-get install {' '.join(packages)}` (scripts/setup.sh does)"
    )


def select(documents: Sequence[SourceDocument], packages: Sequence[str]) -> tuple[SourceDocument, ...]:
    """The documents of the named packages (all of them when none is named); an unknown name is an error."""
    known = {d.package for d in documents}
    unknown = sorted(set(packages) - known)
    if unknown:
        raise ValueError(f"no document of the set comes from {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return tuple(d for d in documents if not packages or d.package in packages)


def page_plan(documents: Sequence[SourceDocument], per_document: int) -> list[tuple[SourceDocument, int]]:
    """The first `per_document` listed pages of every document, document by document."""
    return [(d, page) for d in documents for page in d.pages[:per_document]]


def normalise(text: str) -> str:
    """Compatibility forms folded (the ligature fi reads as f, i) and every run of whitespace one space:
    line breaks and spacing are layout, not reading."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def page_cer(truth: str, read: str) -> float:
    """Edit distance between the normalised texts over the truth's length (can exceed 1)."""
    reference, hypothesis = normalise(truth), normalise(read)
    if not reference:
        return float(bool(hypothesis))
    return Levenshtein.distance(reference, hypothesis) / len(reference)


def word_accuracy(truth: str, read: str) -> float:
    """The share of the truth's words that the reading contains, each word counted as often as it occurs."""
    expected, found = Counter(normalise(truth).split()), Counter(normalise(read).split())
    total = sum(expected.values())
    if not total:
        return float(not found)
    return sum((expected & found).values()) / total


def summary_rows(results: Sequence[PageResult]) -> list[dict[str, float | int | str]]:
    """One row per engine x dpi x variant, in the order first met: mean page CER, word accuracy, s/page."""
    groups: dict[tuple[str, int, str], list[PageResult]] = {}
    for result in results:
        groups.setdefault((result.engine, result.dpi, result.variant), []).append(result)
    return [
        {
            "engine": engine,
            "dpi": dpi,
            "variant": variant,
            "cer": fmean(r.cer for r in group),
            "word_accuracy": fmean(r.word_accuracy for r in group),
            "seconds_per_page": fmean(r.seconds for r in group),
            "pages": len(group),
            "documents": len({r.package for r in group}),
        }
        for (engine, dpi, variant), group in groups.items()
    ]


def parse_bbox_layout(xhtml: str, width_px: int, height_px: int) -> Truth:
    """`pdftotext -bbox-layout` of one page -> its words and lines in pixels of a width_px x height_px raster. A
    glyph with no character (`NOT_XML`) is no text: a word of nothing else is dropped."""
    root = ET.fromstring(NOT_XML.sub("", xhtml))
    page = root.find(f".//{XHTML}page")
    if page is None:
        raise ValueError("pdftotext printed no page")
    sx, sy = width_px / float(page.get("width", 0)), height_px / float(page.get("height", 0))
    words, lines = [], []
    for line in page.iter(f"{XHTML}line"):
        kept = [s for s in (_section(w, (w.text or "").strip(), sx, sy) for w in line.iter(f"{XHTML}word")) if s]
        section = _section(line, " ".join(w.text for w in kept), sx, sy)
        if kept and section:
            words.extend(kept)
            lines.append(section)
    return Truth(tuple(words), tuple(lines))


def _section(element: ET.Element, text: str, sx: float, sy: float) -> Section | None:
    """A box of the text layer (points) as a section in pixels; None for an empty or degenerate one."""
    x0, y0, x1, y1 = (float(element.get(key, 0)) for key in ("xMin", "yMin", "xMax", "yMax"))
    if not text or x1 <= x0 or y1 <= y0:
        return None
    font = Font(family=TEXT_LAYER_FAMILY, size=round(y1 - y0, 2))
    return Section(text=text, position=(x0 * sx, y0 * sy, x1 * sx, y1 * sy), font=font)


def degrade_seed(package: str, page: int, dpi: int) -> int:
    """The degraded variant's seed: fixed per page and resolution, so every run degrades alike."""
    return int.from_bytes(hashlib.blake2b(f"{package}:{page}:{dpi}".encode(), digest_size=8).digest(), "big")


# --- I/O at the edges -------------------------------------------------------------------------------------


def check_installed(documents: Sequence[SourceDocument]) -> None:
    missing = missing_packages(documents)
    if missing:
        raise MissingDocuments(missing_message(missing))
    if shutil.which("pdftotext") is None:
        raise MissingDocuments(missing_message(["poppler-utils"]))


@contextmanager
def opened(document: SourceDocument) -> Iterator[tuple[Path, pdfium.PdfDocument]]:
    """The document as a plain PDF file (a .gz one unpacked into a temporary folder) and as a pdfium document."""
    with tempfile.TemporaryDirectory(prefix="real-pdf-") as folder:
        path = document.path
        if path.suffix == ".gz":
            path = Path(folder) / path.stem
            path.write_bytes(gzip.decompress(document.path.read_bytes()))
        pdf = pdfium.PdfDocument(path.read_bytes())
        try:
            yield path, pdf
        finally:
            pdf.close()


def rasterize(pdf: pdfium.PdfDocument, page: int, dpi: int) -> npt.NDArray[np.uint8]:
    """Page `page` (1-based) as uint8 greyscale at `dpi`."""
    bitmap = pdf[page - 1].render(scale=dpi / POINTS_PER_INCH, grayscale=True)
    return np.ascontiguousarray(bitmap.to_numpy().reshape(bitmap.height, bitmap.width))


def text_layer(path: Path, page: int, width_px: int, height_px: int) -> Truth:
    """Page `page` (1-based) of the PDF at `path`: its text layer, in pixels of a width_px x height_px raster."""
    number = str(page)
    done = subprocess.run(
        ["pdftotext", "-bbox-layout", "-f", number, "-l", number, str(path), "-"],
        capture_output=True,
        text=True,
        timeout=PDFTOTEXT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pdftotext failed on {path} page {page}: {done.stderr.strip()[-300:]}")
    return parse_bbox_layout(done.stdout, width_px, height_px)


def real_pages(
    documents: Sequence[SourceDocument], per_document: int, dpis: Sequence[int], variants: Sequence[Variant]
) -> Iterator[RealPage]:
    """The first `per_document` listed pages of each document at every resolution and variant, in that order
    (pdftotext runs once a page: the text does not depend on the density)."""
    check_installed(documents)
    plan = page_plan(documents, per_document)
    for document in dict.fromkeys(d for d, _ in plan):
        with opened(document) as (path, pdf):
            for page in (p for d, p in plan if d == document):
                truth = ""
                for dpi in dpis:
                    clean = rasterize(pdf, page, dpi)
                    truth = truth or text_layer(path, page, clean.shape[1], clean.shape[0]).text
                    for variant in variants:
                        image = variant_raster(clean, variant, document.package, page, dpi)
                        yield RealPage(document, page, dpi, variant, truth, image)


def degrade(raster: npt.NDArray[np.uint8], dpi: int, seed: int) -> npt.NDArray[np.uint8]:
    """A scan of the page: the level's border, noise and spots, its blur and its JPEG, and nothing that moves
    a pixel (no scale, rotation or perspective)."""
    level = levels.difficulty(DEGRADE_LEVEL)
    marked = scan_marks(raster, level, dpi / POINTS_PER_INCH, np.random.default_rng(seed))
    encoded = corrupt.encode(corrupt.blur(marked, level.blur_radius), level.jpeg_quality)
    return np.asarray(Image.open(io.BytesIO(encoded)).convert("L"))


def variant_raster(clean: npt.NDArray[np.uint8], variant: Variant, package: str, page: int, dpi: int) -> Image.Image:
    raster = clean if variant is Variant.CLEAN else degrade(clean, dpi, degrade_seed(package, page, dpi))
    return Image.fromarray(raster, "L")
