"""Difficulty levels: how hard each challenge's corruption is, and the scan resolutions pages come at.

Every level draws the same page (its content depends on the seed only). The page is rasterized either at the
tutorial's `RENDER_PX_PER_PT` (1.08 px per point, a 661 x 856 US-letter page) or as a scan at `SCAN_DPI`
(150..300 dpi, whole dpi drawn uniformly: 1275 x 1650 .. 2550 x 3300), the first 60% of the time
(`TUTORIAL_SHARE`: it keeps the mix's median page under 60 ms on one core), drawn per seed and level from its
own stream (`resolution` in generate.py). The tutorial-compatible task, a level-1 invoice, is always at the
tutorial's resolution. The level then decides the corruption. Ranges are drawn uniformly per challenge.

| level | scale      | rotation deg | perspective | noise   | spots | border pt/curl | blur px | format |
|-------|------------|--------------|-------------|---------|-------|----------------|---------|--------|
| 0     | 1.00..1.00 | 0.0..0.0     | 0.00        | 0.02/20 | 0     | 0/0.0          | 0.0     | png    |
| 1     | 0.95..0.95 | 0.2..0.2     | 0.00        | 0.10/50 | 1     | 46/0.0         | 1.0     | jpeg75 |
| 2     | 0.85..0.95 | -1.5..1.5    | 0.00        | 0.15/55 | 1     | 46/0.5         | 1.0     | jpeg65 |
| 3     | 0.80..0.90 | -3.0..3.0    | 0.02        | 0.20/65 | 2     | 50/0.8         | 1.1     | jpeg50 |
| 4     | 0.75..0.85 | -5.0..5.0    | 0.04        | 0.25/70 | 3     | 60/1.0         | 1.2     | jpeg40 |

Noise is density/sigma: the fraction of pixels hit and the standard deviation in grey levels.
Level 1 is the tutorial's delivered image: noise on 10% of the pixels (sigma 50 grey levels),
one dark spot, darkened left and right borders, 95% scale, 0.2 degree rotation, Gaussian blur
of radius 1 and Pillow's default JPEG quality (75), which frames the page as a 631 x 816 JPEG
(about 1.03 px per point). Level 0 is a clean lossless render; from level 3 on the page is also
seen in perspective (each corner moves up to that fraction of the page's side).

Blur is given in delivered pixels at the tutorial's resolution; on a scan the radius grows with the
square root of its density (x 1.96 at 300 dpi, `blur_px`): the scanner's optics blur about a pixel at
any dpi, the print's blur a share of the page, and scans read sharper than the tutorial's page. Noise and spot
speckle hit a share of the delivered pixels (sensor noise, finer grained on a scan); border and
spot radii are in points.

Scan effects (corrupt.py, after augraphy's common ones), applied to the clean page first:

| level | bleed | fade | texture | lighting | lines | ghost |
|-------|-------|------|---------|----------|-------|-------|
| 0     | 0.0   | 0.00 | 0.00    | 0.00     | 0     | 0.00  |
| 1     | 0.0   | 0.00 | 0.00    | 0.00     | 0     | 0.00  |
| 2     | 0.3   | 0.25 | 0.06    | 0.10     | 1     | 0.15  |
| 3     | 0.5   | 0.35 | 0.08    | 0.20     | 2     | 0.25  |
| 4     | 0.7   | 0.45 | 0.10    | 0.30     | 3     | 0.35  |

Ink bleed: the share of its darkest 4-neighbour's extra darkness a pixel takes on. Fade (low ink):
the most a stroke is lightened, in soft patches and vertical streaks. Texture and lighting: the
most the paper is darkened by a mottled low-frequency field and along a gradient. Lines: dirty-roller
streaks. Ghost (bleed-through): how dark the mirrored, blurred page shows through. All are
photometric, and no ink spreads further than the one pixel ink bleed reaches, so the labels hold.
Levels 0 and 1 have none: level 1 stays the tutorial's pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

RENDER_PX_PER_PT = 1.08
SCAN_DPI = (150, 300)  # inclusive range of a scan's whole-dpi resolution
TUTORIAL_SHARE = 0.6  # share of challenges rendered at the tutorial's resolution instead of a scan's
POINTS_PER_INCH = 72.0


@dataclass(frozen=True)
class ScanEffects:
    """The realistic scan effects of a level (the table's last column); zero turns one off."""

    bleed: float = 0.0  # ink bleed: share of a stroke's darkness its 4 neighbours take on
    fade: float = 0.0  # low ink: the most a stroke is lightened (share of its darkness)
    texture: float = 0.0  # paper texture: the most the paper is darkened (share of its brightness)
    lighting: float = 0.0  # uneven lighting: the darkening at the gradient's dark end
    lines: int = 0  # dirty-roller lines across the page
    ghost: float = 0.0  # bleed-through: how dark the mirrored page shows through


NO_SCAN_EFFECTS = ScanEffects()


@dataclass(frozen=True)
class Difficulty:
    """One row of the table above; every corruption step reads its parameters from here."""

    level: int
    scale: tuple[float, float]  # rescale factor range
    rotation_deg: tuple[float, float]  # signed angle range, counter-clockwise on screen
    perspective: float  # max corner displacement, as a fraction of the page's width / height
    noise_density: float  # fraction of pixels hit by noise (and by each spot's speckle)
    noise_sigma: float  # grey levels, standard deviation of the noise
    spots: int  # dark spots, each a speckle whose darkness falls off with distance
    border_pt: float  # width of the darkened left/right borders
    border_curl: float  # how much the border widens toward opposite corners (a curled page)
    blur_radius: float  # Gaussian blur radius in delivered pixels
    jpeg_quality: int | None  # None delivers a lossless PNG
    scan: ScanEffects = NO_SCAN_EFFECTS

    @property
    def image_format(self) -> str:
        return "png" if self.jpeg_quality is None else "jpeg"


# Darkening at a spot's centre (grey levels) and the distance at which it halves (points).
SPOT_STRENGTH = 300.0
SPOT_RADIUS_PT = 40.0

LEVELS: tuple[Difficulty, ...] = (
    Difficulty(0, (1.0, 1.0), (0.0, 0.0), 0.0, 0.02, 20, 0, 0, 0.0, 0.0, None),
    Difficulty(1, (0.95, 0.95), (0.2, 0.2), 0.0, 0.10, 50, 1, 46, 0.0, 1.0, 75),
    Difficulty(
        2, (0.85, 0.95), (-1.5, 1.5), 0.0, 0.15, 55, 1, 46, 0.5, 1.0, 65, ScanEffects(0.3, 0.25, 0.06, 0.1, 1, 0.15)
    ),
    Difficulty(
        3, (0.80, 0.90), (-3.0, 3.0), 0.02, 0.20, 65, 2, 50, 0.8, 1.1, 50, ScanEffects(0.5, 0.35, 0.08, 0.2, 2, 0.25)
    ),
    Difficulty(
        4, (0.75, 0.85), (-5.0, 5.0), 0.04, 0.25, 70, 3, 60, 1.0, 1.2, 40, ScanEffects(0.7, 0.45, 0.1, 0.3, 3, 0.35)
    ),
)


def blur_px(level: Difficulty, px_per_pt: float) -> float:
    """The level's blur radius on a page rendered at `px_per_pt`: the table's times the square root of
    the density's ratio to the tutorial's. Part of a scan's blur is the scanner's optics (about a pixel
    at whatever dpi it samples), part the print's (a share of the page); the square root sits between,
    so a 300 dpi scan is blurred twice as many pixels yet reads sharper than the tutorial's page, as a
    real scan does. The ratio is rounded to hundredths: the tutorial's page gets exactly the table's."""
    return level.blur_radius * round(float(px_per_pt) / RENDER_PX_PER_PT, 2) ** 0.5


def difficulty(level: int) -> Difficulty:
    if not 0 <= level < len(LEVELS):
        raise ValueError(f"difficulty must be 0..{len(LEVELS) - 1}, got {level}")
    return LEVELS[level]
