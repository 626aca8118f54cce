"""Glyph sources: other free fonts drawn under the base-font names the labels use.

The generator draws the PDF base fonts, which pdfium renders with its own substitutes; the
tutorial's validator rasterizes with poppler (URW Nimbus glyphs) and other validators may use
anything. Training pages therefore redraw each family with a font picked from several metric-
compatible (or close) families, registered in ReportLab under an internal name, while the label
keeps the base family. Fonts missing on this machine are skipped, so training still runs with
fewer sources (install them with scripts/setup.sh).
"""

from __future__ import annotations

import functools
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

URW_AFM = Path("/usr/share/fonts/type1/urw-base35")
URW_PFB = Path("/usr/share/fonts/X11/Type1")
TRUETYPE = Path("/usr/share/fonts/truetype")

# family -> (URW Type 1 name, TrueType files relative to TRUETYPE)
ALTERNATIVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Helvetica": (
        "NimbusSans-Regular",
        ("liberation/LiberationSans-Regular.ttf", "freefont/FreeSans.ttf", "dejavu/DejaVuSans.ttf"),
    ),
    "Helvetica-Bold": (
        "NimbusSans-Bold",
        ("liberation/LiberationSans-Bold.ttf", "freefont/FreeSansBold.ttf", "dejavu/DejaVuSans-Bold.ttf"),
    ),
    "Times-Roman": (
        "NimbusRoman-Regular",
        ("liberation/LiberationSerif-Regular.ttf", "freefont/FreeSerif.ttf", "dejavu/DejaVuSerif.ttf"),
    ),
    "Times-Bold": (
        "NimbusRoman-Bold",
        ("liberation/LiberationSerif-Bold.ttf", "freefont/FreeSerifBold.ttf", "dejavu/DejaVuSerif-Bold.ttf"),
    ),
    "Courier": (
        "NimbusMonoPS-Regular",
        ("liberation/LiberationMono-Regular.ttf", "freefont/FreeMono.ttf", "dejavu/DejaVuSansMono.ttf"),
    ),
    "Courier-Bold": (
        "NimbusMonoPS-Bold",
        ("liberation/LiberationMono-Bold.ttf", "freefont/FreeMonoBold.ttf", "dejavu/DejaVuSansMono-Bold.ttf"),
    ),
}


def _register_type1(name: str) -> str | None:
    afm, pfb = URW_AFM / f"{name}.afm", URW_PFB / f"{name}.pfb"
    if not (afm.is_file() and pfb.is_file()):
        return None
    face = pdfmetrics.EmbeddedType1Face(str(afm), str(pfb))
    pdfmetrics.registerTypeFace(face)
    font_name = f"glyph-{name}"
    pdfmetrics.registerFont(pdfmetrics.Font(font_name, face.name, "WinAnsiEncoding"))
    return font_name


def _register_truetype(relative: str) -> str | None:
    path = TRUETYPE / relative
    if not path.is_file():
        return None
    font_name = f"glyph-{path.stem}"
    pdfmetrics.registerFont(TTFont(font_name, str(path)))
    return font_name


@functools.cache
def sources() -> dict[str, tuple[str, ...]]:
    """Base family -> ReportLab font names that draw it: the base font itself first, then the alternatives."""
    found: dict[str, tuple[str, ...]] = {}
    for family, (type1, truetypes) in ALTERNATIVES.items():
        names = [_register_type1(type1), *(_register_truetype(t) for t in truetypes)]
        found[family] = (family, *(n for n in names if n is not None))
    return found
