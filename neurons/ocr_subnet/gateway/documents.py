"""A user's upload -> page images, within limits, or a `DocumentError` that says what is wrong.

Everything here is checked before pixels are decoded: the byte count, the kind (by magic bytes, never
by name or claimed type alone), a PDF's encryption, page count and page sizes, an image's pixel count.
Nothing is written to disk.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image

from ocr_subnet.protocol import UnreadableImage, pillow_errors

PDF_MAGIC = b"%PDF-"
IMAGE_FORMATS = ("PNG", "JPEG", "TIFF")
PDF_TYPES = ("application/pdf",)
POINTS_PER_INCH = 72.0

_PDFIUM = threading.Lock()  # pdfium is not thread-safe


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 100
    max_page_pixels: int = 25_000_000
    dpi: float = 150.0  # PDF pages are rasterized at this density


class DocumentError(ValueError):
    """The upload is refused; `status` is the HTTP answer (400, 413, 415 or 422)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Document:
    kind: str  # "pdf" or "image"
    pages: tuple[Image.Image, ...]  # greyscale or RGB page images, as sent to miners (before the canary)
    page_sizes_pt: tuple[tuple[float, float], ...]  # each page's size in PDF points (images: at 72 dpi)
    raw: bytes  # the upload itself, for `?format=pdf`


def check_size(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise DocumentError(413, f"document is {size} bytes, over the {limits.max_bytes}-byte limit")
    if size == 0:
        raise DocumentError(400, "document is empty")


def sniff(data: bytes, content_type: str, filename: str = "") -> str:
    """ "pdf" or "image" from the bytes themselves; a claim of PDF (type or name) that the bytes deny is refused."""
    claims_pdf = content_type.split(";")[0].strip().lower() in PDF_TYPES or filename.lower().endswith(".pdf")
    if data.lstrip()[: len(PDF_MAGIC)] == PDF_MAGIC:
        return "pdf"
    if claims_pdf:
        raise DocumentError(415, "the document is named or typed as a PDF but its bytes are not a PDF")
    return "image"


def load(data: bytes, content_type: str, limits: Limits, filename: str = "") -> Document:
    check_size(len(data), limits)
    if sniff(data, content_type, filename) == "pdf":
        pages, sizes = rasterize_pdf(data, limits)
        return Document("pdf", pages, sizes, data)
    image = open_image(data, limits)
    return Document("image", (image,), ((float(image.width), float(image.height)),), data)


def open_image(data: bytes, limits: Limits) -> Image.Image:
    """PNG, JPEG or TIFF within the pixel limit, decoded to L or RGB; the first frame of a TIFF."""
    with _image_errors():
        image = Image.open(io.BytesIO(data))
    if image.format not in IMAGE_FORMATS:
        raise DocumentError(415, f"image format {image.format} is not one of {', '.join(IMAGE_FORMATS)} or PDF")
    width, height = image.size
    if width * height > limits.max_page_pixels:
        raise DocumentError(
            413, f"image is {width}x{height} pixels, over the {limits.max_page_pixels}-pixel page limit"
        )
    with _image_errors():
        image.load()
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def rasterize_pdf(data: bytes, limits: Limits) -> tuple[tuple[Image.Image, ...], tuple[tuple[float, float], ...]]:
    """Every page at `limits.dpi` in greyscale; page count and sizes checked before any page is drawn."""
    scale = limits.dpi / POINTS_PER_INCH
    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise DocumentError(422, "the PDF is encrypted (password protected); send it decrypted") from exc
            raise DocumentError(400, f"the PDF cannot be read: {exc}") from exc
        try:
            count = len(document)
            if count == 0:
                raise DocumentError(422, "the PDF has no pages")
            if count > limits.max_pages:
                raise DocumentError(413, f"the PDF has {count} pages, over the {limits.max_pages}-page limit")
            sizes = tuple(document.get_page_size(i) for i in range(count))
            for number, (width, height) in enumerate(sizes, start=1):
                pixels = (width * scale) * (height * scale)
                if not pixels <= limits.max_page_pixels:
                    raise DocumentError(
                        413,
                        f"page {number} is {width:g}x{height:g} pt, {pixels:.0f} pixels at {limits.dpi:g} dpi, "
                        f"over the {limits.max_page_pixels}-pixel page limit",
                    )
            pages = []
            for index in range(count):
                page = document[index]
                try:
                    pages.append(page.render(scale=scale, grayscale=True).to_pil())
                finally:
                    page.close()
            return tuple(pages), sizes
        finally:
            document.close()


@contextlib.contextmanager
def _image_errors() -> Iterator[None]:
    """The protocol's reading of Pillow's errors, answered as HTTP: a bomb is too large, the rest unreadable."""
    try:
        with pillow_errors():
            yield
    except UnreadableImage as exc:
        if exc.bomb:
            raise DocumentError(413, f"image refused as a decompression bomb: {exc.detail}") from exc
        raise DocumentError(415, f"not a readable PNG, JPEG, TIFF or PDF: {exc.detail}") from exc
