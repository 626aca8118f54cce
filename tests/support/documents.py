"""A real document no one here wrote, made scan-like: the gateway's tests and benchmark read it.

libtasn1-doc's manual (scripts/setup.sh installs it); each page rasterized, given sensor noise and JPEG
compression, and put back into an image-only PDF. Its own `pdftotext` output is the ground truth.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

DEBIAN_PDF = Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf")
DPI = 150


def page_truth(page: int, source: Path = DEBIAN_PDF) -> str:
    """`pdftotext` of one page (0-based) of the original."""
    number = str(page + 1)
    return subprocess.run(
        ["pdftotext", "-layout", "-f", number, "-l", number, str(source), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def scan_pages(pages: Sequence[int], source: Path = DEBIAN_PDF, dpi: int = DPI) -> list[Image.Image]:
    """Greyscale rasters with sensor noise, each JPEG-compressed."""
    document = pdfium.PdfDocument(source.read_bytes())
    rng = np.random.default_rng(7)
    images = []
    for index in pages:
        raster = document[index].render(scale=dpi / 72, grayscale=True).to_numpy().astype(np.int16)
        noisy = np.clip(raster + rng.normal(0, 8, raster.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noisy, "L").save(buffer, format="JPEG", quality=80)
        images.append(Image.open(io.BytesIO(buffer.getvalue())))
    return images


def scan_like_pdf(pages: Sequence[int], source: Path = DEBIAN_PDF, dpi: int = DPI) -> bytes:
    """The scanned pages as an image-only PDF, one image per page, no text layer."""
    images = scan_pages(pages, source, dpi)
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()
