"""The fonts challenges draw with, published as part of the protocol (`PUBLISHED_FAMILIES`).

The tutorial-compatible invoices use the PDF base-14 faces (`sections.FONT_FAMILIES`, no files
needed). The open-ended families draw from TrueType faces in Debian's free font packages
(fonts-dejavu-core and -extra, fonts-liberation, fonts-freefont-ttf; `scripts/setup.sh` installs
them). A label's family is the face's PostScript name, exactly as the face file spells it.

Label boxes: base-14 strings keep the tutorial's box (0.2 size below the baseline to 0.8 above);
TrueType strings reach further (DejaVu's descenders 0.24, its monospace brackets 0.82), so their box
runs from 0.25 below to 0.85 above (and, for italic and oblique faces, 0.05 past the advance), which
holds the ink of every printable ASCII character of every face listed (tests/unit/test_challenge_labels.py
draws them all).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from ocr_subnet.challenge.geometry import ASCENT, DESCENT
from ocr_subnet.sections import FONT_FAMILIES

FONT_DIR = Path("/usr/share/fonts/truetype")
TTF_DESCENT, TTF_ASCENT = 0.25, 0.85
SLANT_OVERHANG = 0.05  # a slanted face's last glyph may lean this far (in sizes) past its advance
FONT_PACKAGES = ("fonts-dejavu-core", "fonts-dejavu-extra", "fonts-liberation", "fonts-freefont-ttf")

# PostScript name -> file under FONT_DIR. FreeMono and FreeMonoOblique are left out: their hairline
# strokes leave no pixel half inked at 8-11 pt once the page is scaled, so they cannot be read.
FACES: dict[str, str] = {
    "DejaVuSans-Bold": "dejavu/DejaVuSans-Bold.ttf",
    "DejaVuSans-BoldOblique": "dejavu/DejaVuSans-BoldOblique.ttf",
    "DejaVuSans-Oblique": "dejavu/DejaVuSans-Oblique.ttf",
    "DejaVuSans": "dejavu/DejaVuSans.ttf",
    "DejaVuSansCondensed-Bold": "dejavu/DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansCondensed-BoldOblique": "dejavu/DejaVuSansCondensed-BoldOblique.ttf",
    "DejaVuSansCondensed-Oblique": "dejavu/DejaVuSansCondensed-Oblique.ttf",
    "DejaVuSansCondensed": "dejavu/DejaVuSansCondensed.ttf",
    "DejaVuSansMono-Bold": "dejavu/DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-BoldOblique": "dejavu/DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSansMono-Oblique": "dejavu/DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono": "dejavu/DejaVuSansMono.ttf",
    "DejaVuSerif-Bold": "dejavu/DejaVuSerif-Bold.ttf",
    "DejaVuSerif-BoldItalic": "dejavu/DejaVuSerif-BoldItalic.ttf",
    "DejaVuSerif-Italic": "dejavu/DejaVuSerif-Italic.ttf",
    "DejaVuSerif": "dejavu/DejaVuSerif.ttf",
    "DejaVuSerifCondensed-Bold": "dejavu/DejaVuSerifCondensed-Bold.ttf",
    "DejaVuSerifCondensed-BoldItalic": "dejavu/DejaVuSerifCondensed-BoldItalic.ttf",
    "DejaVuSerifCondensed-Italic": "dejavu/DejaVuSerifCondensed-Italic.ttf",
    "DejaVuSerifCondensed": "dejavu/DejaVuSerifCondensed.ttf",
    "FreeMonoBold": "freefont/FreeMonoBold.ttf",
    "FreeMonoBoldOblique": "freefont/FreeMonoBoldOblique.ttf",
    "FreeSans": "freefont/FreeSans.ttf",
    "FreeSansBold": "freefont/FreeSansBold.ttf",
    "FreeSansBoldOblique": "freefont/FreeSansBoldOblique.ttf",
    "FreeSansOblique": "freefont/FreeSansOblique.ttf",
    "FreeSerif": "freefont/FreeSerif.ttf",
    "FreeSerifBold": "freefont/FreeSerifBold.ttf",
    "FreeSerifBoldItalic": "freefont/FreeSerifBoldItalic.ttf",
    "FreeSerifItalic": "freefont/FreeSerifItalic.ttf",
    "LiberationMono-Bold": "liberation/LiberationMono-Bold.ttf",
    "LiberationMono-BoldItalic": "liberation/LiberationMono-BoldItalic.ttf",
    "LiberationMono-Italic": "liberation/LiberationMono-Italic.ttf",
    "LiberationMono": "liberation/LiberationMono-Regular.ttf",
    "LiberationSans-Bold": "liberation/LiberationSans-Bold.ttf",
    "LiberationSans-BoldItalic": "liberation/LiberationSans-BoldItalic.ttf",
    "LiberationSans-Italic": "liberation/LiberationSans-Italic.ttf",
    "LiberationSans": "liberation/LiberationSans-Regular.ttf",
    "LiberationSansNarrow-Bold": "liberation/LiberationSansNarrow-Bold.ttf",
    "LiberationSansNarrow-BoldItalic": "liberation/LiberationSansNarrow-BoldItalic.ttf",
    "LiberationSansNarrow-Italic": "liberation/LiberationSansNarrow-Italic.ttf",
    "LiberationSansNarrow": "liberation/LiberationSansNarrow-Regular.ttf",
    "LiberationSerif-Bold": "liberation/LiberationSerif-Bold.ttf",
    "LiberationSerif-BoldItalic": "liberation/LiberationSerif-BoldItalic.ttf",
    "LiberationSerif-Italic": "liberation/LiberationSerif-Italic.ttf",
    "LiberationSerif": "liberation/LiberationSerif-Regular.ttf",
}

PUBLISHED_FAMILIES: tuple[str, ...] = (*FONT_FAMILIES, *FACES)
MONOSPACE: tuple[str, ...] = ("Courier", "Courier-Bold", *(f for f in FACES if "Mono" in f))

_REGISTER = threading.Lock()


class FontsMissing(RuntimeError):
    """A face file is absent: the machine lacks one of `FONT_PACKAGES`."""


@functools.cache
def register(family: str) -> str:
    """Make `family` drawable by ReportLab (a no-op for base-14 faces); returns its name."""
    if family in FONT_FAMILIES:
        return family
    path = FONT_DIR / FACES[family]
    if not path.is_file():
        raise FontsMissing(f"{path} is missing: install {' '.join(FONT_PACKAGES)} (scripts/setup.sh does)")
    with _REGISTER:
        pdfmetrics.registerFont(TTFont(family, str(path)))
    return family


def base_family(family: str) -> str:
    """The base-14 family nearest a published face (mono, serif or sans; bold or not): what a model that
    names only the base families should answer for it."""
    if family in FONT_FAMILIES:
        return family
    if family not in FACES:
        raise KeyError(f"{family!r} is not a published family")
    bold = "Bold" in family
    if "Mono" in family:
        return "Courier-Bold" if bold else "Courier"
    if "Serif" in family:
        return "Times-Bold" if bold else "Times-Roman"
    return "Helvetica-Bold" if bold else "Helvetica"


def extent(family: str) -> tuple[float, float, float]:
    """(descent, ascent, overhang) of a label box around a string in `family`, in font sizes: below the
    baseline, above it, and past the advance on the right (slanted TrueType faces only)."""
    if family in FONT_FAMILIES:
        return DESCENT, ASCENT, 0.0
    slanted = "Italic" in family or "Oblique" in family
    return TTF_DESCENT, TTF_ASCENT, SLANT_OVERHANG if slanted else 0.0
