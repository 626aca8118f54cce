"""Header bands: the gateway's canary and the validator's banded challenges are one kind of page top."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from ocr_subnet.challenge import band
from ocr_subnet.challenge.generate import band_seed, generate_challenge, invoice_layout
from ocr_subnet.deadlines import DEFAULT_DEADLINE_S
from ocr_subnet.gateway.canary import make_canary
from ocr_subnet.gateway.router import Router
from ocr_subnet.gateway.rules import RoutingConfig
from ocr_subnet.protocol import OcrRequest, decode_image
from ocr_subnet.wallets import local_wallet
from PIL import Image

SEEDS = range(400)


def banded_seed(share: float = 0.5) -> int:
    return next(seed for seed in SEEDS if band_seed(seed, share) is not None)


def test_a_share_of_challenges_carries_a_band_and_the_draw_is_the_seeds() -> None:
    drawn = [band_seed(seed, 0.5) is not None for seed in SEEDS]
    assert 0.4 < sum(drawn) / len(drawn) < 0.6
    assert drawn == [band_seed(seed, 0.5) is not None for seed in SEEDS]
    assert all(band_seed(seed, 0.0) is None for seed in SEEDS)
    assert all(band_seed(seed, 1.0) is not None for seed in SEEDS)
    assert len({band_seed(seed, 1.0) for seed in SEEDS}) == len(SEEDS)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="banded share"):
        band_seed(1, share)


@pytest.mark.parametrize("level", [1, 3])
def test_a_banded_challenge_is_the_band_above_the_same_page_with_every_label_carried(level: int) -> None:
    seed = banded_seed()
    plain = generate_challenge(seed, level)
    banded = generate_challenge(seed, level, banded=0.5)
    header = band.header_band(invoice_layout(band_seed(seed, 0.5) or 0), plain.width)
    assert (banded.width, banded.height) == (plain.width, plain.height + header.height)
    assert banded.sections[: len(header.sections)] == header.sections
    page_part = banded.sections[len(header.sections) :]
    assert [s.text for s in page_part] == [s.text for s in plain.sections]
    for moved, original in zip(page_part, plain.sections, strict=True):
        assert moved.position[1] == pytest.approx(original.position[1] + header.height)
        assert moved.position[3] == pytest.approx(original.position[3] + header.height)
    assert plain.stock <= banded.stock
    image = np.asarray(Image.open(io.BytesIO(banded.image)))
    assert image.shape == (banded.height, banded.width)
    below = image[header.height :].astype(np.int16)
    above = np.asarray(Image.open(io.BytesIO(plain.image))).astype(np.int16)
    assert np.abs(below - above).mean() < 3  # the same scan, only re-encoded with the band above


def test_the_bands_ink_lies_inside_its_labels_and_its_gap_is_white() -> None:
    header = band.header_band(invoice_layout(7), 631)
    assert len(header.sections) >= band.MIN_LABELS
    assert (header.raster[-band.GAP_PX :] == band.WHITE).all()
    outside = header.raster < 128
    for section in header.sections:
        x0, y0, x1, y1 = section.position
        outside[max(0, int(y0) - 1) : int(np.ceil(y1)) + 1, max(0, int(x0) - 1) : int(np.ceil(x1)) + 1] = False
    assert not outside.any(), f"ink outside every label at (row, col) {np.argwhere(outside)[0]}"


def test_the_gateways_canary_is_the_band_a_challenge_carries() -> None:
    canary = make_canary(5, 631)
    header = band.header_band(invoice_layout(5), 631)
    assert canary.sections == header.sections
    assert np.array_equal(canary.raster, header.raster)


def test_stitching_pads_the_narrower_of_band_and_page_with_white() -> None:
    header = band.header_band(invoice_layout(3), 300)
    page = np.zeros((50, 200), dtype=np.uint8)
    out = band.stitch(header, page)
    assert out.shape == (header.height + 50, 300)
    assert (out[header.height :, 200:] == band.WHITE).all()
    assert (out[header.height :, :200] == 0).all()


def test_an_organic_request_carries_what_a_banded_challenge_request_carries(tmp_path: Path) -> None:
    """Same deadline, id shape, image format and JPEG quality, and a band of the same kind on top."""
    wallet = local_wallet("validator", "default", tmp_path)
    router = Router(None, wallet, RoutingConfig(), DEFAULT_DEADLINE_S, print, print, difficulty=1)  # type: ignore[arg-type]
    page = Image.fromarray(np.full((816, 631), 240, dtype=np.uint8), "L")
    canary, body = router.prepare(page)
    organic = OcrRequest.model_validate_json(body)
    challenge = generate_challenge(banded_seed(), 1, banded=0.5)
    assert organic.deadline_s == DEFAULT_DEADLINE_S == OcrRequest(image="").deadline_s
    assert len(organic.challenge_id) == 16 and int(organic.challenge_id, 16) >= 0
    image = decode_image(organic.image)
    delivered = Image.open(io.BytesIO(challenge.image))
    assert image.format == delivered.format == "JPEG"
    assert image.quantization == delivered.quantization
    assert image.size == (631, 816 + canary.height)
    assert canary.height - band.GAP_PX > 0 and challenge.height > 816
