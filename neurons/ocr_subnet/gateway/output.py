"""The answer's shapes: JSON pages, plain text, hOCR, and a searchable PDF (the input plus an invisible
text layer, drawn with reportlab and laid under the original page with pdfium; no PDF syntax by hand)."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from xml.etree import ElementTree as ET

import pypdfium2 as pdfium
from PIL import Image
from pydantic import BaseModel, Field
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from ocr_subnet.gateway.documents import POINTS_PER_INCH, Document
from ocr_subnet.sections import Section, lines, lines_text

TEXT_LAYER_FONT = "Helvetica"
_PDFIUM = threading.Lock()


class Word(BaseModel):
    text: str
    position: tuple[float, float, float, float]
    confidence: float = Field(ge=0.0, le=1.0, description="the reading miner's canary reward on this page")


class PageAnswer(BaseModel):
    number: int = Field(ge=1)
    width: int
    height: int
    sections: list[Section]
    text: str
    words: list[Word]
    verified: bool = Field(description="the answer passed its canary check (false: the best failing answer, or none)")
    miner_uid: int | None = None


class OcrAnswer(BaseModel):
    pages: list[PageAnswer]


def page_answer(
    number: int, image: Image.Image, sections: Sequence[Section], confidence: float, uid: int | None, verified: bool
) -> PageAnswer:
    """`verified` false: no answer passed its canary; the best-scoring one is returned, flagged, or none."""
    grouped = lines(sections)  # the reading order, found once for the sections and the text
    ordered = [section for line in grouped for section in line]
    words = [Word(text=s.text, position=s.position, confidence=round(confidence, 4)) for s in ordered]
    return PageAnswer(
        number=number,
        width=image.width,
        height=image.height,
        sections=ordered,
        text=lines_text(grouped),
        words=words,
        verified=verified,
        miner_uid=uid,
    )


def to_text(answer: OcrAnswer) -> str:
    """Pages separated by a form feed, as pdftotext does."""
    return "\f".join(page.text for page in answer.pages) + "\n"


def to_hocr(answer: OcrAnswer) -> str:
    html = ET.Element("html", xmlns="http://www.w3.org/1999/xhtml")
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "meta", name="ocr-system", content="ocr-subnet gateway")
    ET.SubElement(head, "meta", name="ocr-capabilities", content="ocr_page ocrx_word")
    body = ET.SubElement(html, "body")
    for page in answer.pages:
        div = ET.SubElement(
            body,
            "div",
            {"class": "ocr_page", "id": f"page_{page.number}", "title": f"bbox 0 0 {page.width} {page.height}"},
        )
        for index, word in enumerate(page.words, start=1):
            x0, y0, x1, y1 = (round(v) for v in word.position)
            span = ET.SubElement(
                div,
                "span",
                {
                    "class": "ocrx_word",
                    "id": f"word_{page.number}_{index}",
                    "title": f"bbox {x0} {y0} {x1} {y1}; x_wconf {round(word.confidence * 100)}",
                },
            )
            span.text = word.text
    return "<!DOCTYPE html>\n" + ET.tostring(html, encoding="unicode", method="xml")


def _draw_text_layer(pdf: canvas.Canvas, page: PageAnswer, px_per_pt: float, height_pt: float) -> None:
    """Each word invisible (render mode 3), stretched over its box, baseline near the box's bottom."""
    for word in page.words:
        x0, y0, x1, y1 = (v / px_per_pt for v in word.position)
        size = max(1.0, (y1 - y0) * 0.8)
        natural = stringWidth(word.text, TEXT_LAYER_FONT, size)
        if natural <= 0:
            continue
        text = pdf.beginText()
        text.setTextRenderMode(3)
        text.setFont(TEXT_LAYER_FONT, size)
        text.setHorizScale(100.0 * (x1 - x0) / natural)
        text.setTextOrigin(x0, height_pt - y1 + (y1 - y0) * 0.2)
        text.textOut(word.text)
        pdf.drawText(text)


def to_searchable_pdf(document: Document, answer: OcrAnswer, dpi: float) -> bytes:
    """PDF input: its pages, unchanged, over an invisible text layer. Image input: the image as a page."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, invariant=True)
    for page, (width_pt, height_pt), image in zip(answer.pages, document.page_sizes_pt, document.pages, strict=True):
        pdf.setPageSize((width_pt, height_pt))
        if document.kind == "image":
            pdf.drawImage(ImageReader(image), 0, 0, width_pt, height_pt)
            _draw_text_layer(pdf, page, image.width / width_pt, height_pt)
        else:
            _draw_text_layer(pdf, page, dpi / POINTS_PER_INCH, height_pt)
        pdf.showPage()
    pdf.save()
    if document.kind == "image":
        return buffer.getvalue()
    return _under_original(document.raw, buffer.getvalue())


def _under_original(original: bytes, layer: bytes) -> bytes:
    """Each original page placed, as a form XObject, over the text layer's page."""
    with _PDFIUM:
        out = pdfium.PdfDocument(layer)
        source = pdfium.PdfDocument(original)
        try:
            for index in range(len(out)):
                page = out[index]
                page.insert_obj(source.page_as_xobject(index, out).as_pageobject())
                page.gen_content()
                page.close()
            result = io.BytesIO()
            out.save(result)
            return result.getvalue()
        finally:
            source.close()
            out.close()
