"""Glyph sources: other free fonts drawn under the base-font names the labels use.

The generator draws the PDF base fonts, which pdfium renders with its own substitutes; the
tutorial's validator rasterizes with poppler (URW Nimbus glyphs) and other validators may use
anything. Training pages therefore redraw each family with a font picked from several metric-
compatible (or close) families, registered in ReportLab under an internal name, while the label
keeps the base family. Fonts missing on this machine are skipped, so training still runs with
fewer sources (install them with scripts/setup.sh: fonts-urw-base35, lmodern, fonts-crosextra-carlito and
-caladea, besides the published faces' packages).
"""

from __future__ import annotations

import functools
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace

from ocr_subnet.model import charset

URW_AFM = Path("/usr/share/fonts/type1/urw-base35")
TYPE1 = Path("/usr/share/fonts/X11/Type1")  # URW's .pfb files, and Latin Modern's (lmodern) with their .afm
TRUETYPE = Path("/usr/share/fonts/truetype")

# family -> (Type 1 names, TrueType files relative to TRUETYPE): the URW clones of the base fonts and other
# common faces drawn under them (URW's Palatino, Century Schoolbook, Bookman and Avant Garde clones, Latin
# Modern as TeX typesets manuals and papers, Carlito and Caladea shaped like Office's Calibri and Cambria).
ALTERNATIVES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Helvetica": (
        ("NimbusSans-Regular", "NimbusSans-Italic", "NimbusSansNarrow-Regular", "URWGothic-Book", "lmss10"),
        (
            "liberation/LiberationSans-Regular.ttf",
            "freefont/FreeSans.ttf",
            "dejavu/DejaVuSans.ttf",
            "crosextra/Carlito-Regular.ttf",
        ),
    ),
    "Helvetica-Bold": (
        ("NimbusSans-Bold", "NimbusSansNarrow-Bold", "URWGothic-Demi", "lmssbx10"),
        (
            "liberation/LiberationSans-Bold.ttf",
            "freefont/FreeSansBold.ttf",
            "dejavu/DejaVuSans-Bold.ttf",
            "crosextra/Carlito-Bold.ttf",
        ),
    ),
    "Times-Roman": (
        (
            "NimbusRoman-Regular",
            "NimbusRoman-Italic",
            "P052-Roman",
            "C059-Roman",
            "URWBookman-Light",
            "lmr10",
            "lmri10",
        ),
        (
            "liberation/LiberationSerif-Regular.ttf",
            "freefont/FreeSerif.ttf",
            "dejavu/DejaVuSerif.ttf",
            "crosextra/Caladea-Regular.ttf",
        ),
    ),
    "Times-Bold": (
        ("NimbusRoman-Bold", "P052-Bold", "C059-Bold", "URWBookman-Demi", "lmbx10"),
        (
            "liberation/LiberationSerif-Bold.ttf",
            "freefont/FreeSerifBold.ttf",
            "dejavu/DejaVuSerif-Bold.ttf",
            "crosextra/Caladea-Bold.ttf",
        ),
    ),
    "Courier": (
        ("NimbusMonoPS-Regular", "lmtt10"),
        ("liberation/LiberationMono-Regular.ttf", "freefont/FreeMono.ttf", "dejavu/DejaVuSansMono.ttf"),
    ),
    "Courier-Bold": (
        ("NimbusMonoPS-Bold", "lmtk10"),
        ("liberation/LiberationMono-Bold.ttf", "freefont/FreeMonoBold.ttf", "dejavu/DejaVuSansMono-Bold.ttf"),
    ),
}


def _register_type1(name: str) -> str | None:
    afm = next((d / f"{name}.afm" for d in (URW_AFM, TYPE1) if (d / f"{name}.afm").is_file()), None)
    pfb = TYPE1 / f"{name}.pfb"
    if afm is None or not pfb.is_file():
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
        names = [*(_register_type1(t) for t in type1), *(_register_truetype(t) for t in truetypes)]
        found[family] = (family, *(n for n in names if n is not None))
    return found


@functools.cache
def drawable(font_name: str) -> frozenset[str]:
    """The alphabet's non-ASCII characters that the registered font `font_name` has glyphs for. A TrueType face
    says so in its character map; a Type 1 font draws a character when its encoding names, at the character's
    WinAnsi code, WinAnsi's glyph for it, and its face has that glyph (Symbol's encoding names others)."""
    extra = charset.ALPHABET[len(charset.ASCII) :]
    font = pdfmetrics.getFont(font_name)
    if isinstance(font.face, TTFontFace):
        return frozenset(c for c in extra if ord(c) in font.face.charToGlyph)
    winansi = pdfmetrics.getEncoding("WinAnsiEncoding").vector
    glyph_names = set(font.face.glyphNames or ())

    def draws(char: str) -> bool:
        code = char.encode("cp1252")[0]
        return font.encoding.vector[code] == winansi[code] and winansi[code] in glyph_names

    return frozenset(c for c in extra if draws(c))
