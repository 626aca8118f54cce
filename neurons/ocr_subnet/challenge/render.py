"""Draw a layout as a PDF in memory and rasterize it with pdfium: the one place that touches either.

The page is rendered straight to greyscale at the density the challenge needs, so no
full-resolution bitmap is made and thrown away. pdfium keeps global state and is not
thread-safe, so every call into it holds one lock.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
from reportlab.pdfgen import canvas

from ocr_subnet.challenge.geometry import Matrix, map_box, page_to_pixels
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout
from ocr_subnet.sections import Section

_PDFIUM = threading.Lock()


def draw_pdf(pages: Sequence[Layout]) -> bytes:
    """One PDF page per layout; `invariant` keeps the bytes free of dates and random ids."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), invariant=True, pageCompression=0)
    for layout in pages:
        for rule in layout.rules:
            pdf.setLineWidth(rule.width)
            pdf.line(rule.x0, rule.y0, rule.x1, rule.y1)
        for item in layout.texts:
            pdf.setFont(item.font.family, item.font.size)
            pdf.drawString(item.x, item.baseline, item.text, wordSpace=item.word_space)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def rasterize(pdf: bytes, px_per_pt: float) -> list[npt.NDArray[np.uint8]]:
    """Every page as a greyscale (height, width) array, white paper and black ink."""
    with _PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            return [np.array(page.render(scale=px_per_pt, grayscale=True).to_numpy()) for page in document]
        finally:
            document.close()


def to_pixels(raster: npt.NDArray[np.uint8]) -> Matrix:
    """The map from PDF points to the pixels of `raster`, from its actual size."""
    height, width = raster.shape
    return page_to_pixels(PAGE_WIDTH, PAGE_HEIGHT, width, height)


def labels(layout: Layout, matrix: Matrix) -> tuple[Section, ...]:
    """One section per drawn string: the rule box in points carried through `matrix`."""
    return tuple(
        Section(
            text=item.text,
            position=tuple(round(v, 2) for v in map_box(matrix, item.box)),
            font=item.font,
        )
        for item in layout.texts
    )
