"""Difficulty levels: how hard each challenge's corruption is.

Every level draws the same kind of invoice (its content depends on the seed only) and
rasterizes it at `RENDER_PX_PER_PT` (1.08 px per point, a 661 x 856 US-letter page); the
level then decides the corruption. Ranges are drawn uniformly per challenge.

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
"""

from __future__ import annotations

from dataclasses import dataclass

RENDER_PX_PER_PT = 1.08


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

    @property
    def image_format(self) -> str:
        return "png" if self.jpeg_quality is None else "jpeg"


# Darkening at a spot's centre (grey levels) and the distance at which it halves (points).
SPOT_STRENGTH = 300.0
SPOT_RADIUS_PT = 40.0

LEVELS: tuple[Difficulty, ...] = (
    Difficulty(0, (1.0, 1.0), (0.0, 0.0), 0.0, 0.02, 20, 0, 0, 0.0, 0.0, None),
    Difficulty(1, (0.95, 0.95), (0.2, 0.2), 0.0, 0.10, 50, 1, 46, 0.0, 1.0, 75),
    Difficulty(2, (0.85, 0.95), (-1.5, 1.5), 0.0, 0.15, 55, 1, 46, 0.5, 1.0, 65),
    Difficulty(3, (0.80, 0.90), (-3.0, 3.0), 0.02, 0.20, 65, 2, 50, 0.8, 1.1, 50),
    Difficulty(4, (0.75, 0.85), (-5.0, 5.0), 0.04, 0.25, 70, 3, 60, 1.0, 1.2, 40),
)


def difficulty(level: int) -> Difficulty:
    if not 0 <= level < len(LEVELS):
        raise ValueError(f"difficulty must be 0..{len(LEVELS) - 1}, got {level}")
    return LEVELS[level]
