"""The networks and their training pieces: shapes, losses, a tiny overfit, TorchScript export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ocr_subnet.model import charset
from ocr_subnet.model.crops import CONTRAST_FLOOR, normalize
from ocr_subnet.model.geometry import CROP_HEIGHT, STRIDE
from ocr_subnet.model.nets import (
    DETECTOR_OUTPUTS,
    Detector,
    DetectorConfig,
    Recognizer,
    RecognizerConfig,
    conv_norm_pairs,
    exportable,
    load_exported,
)
from ocr_subnet.model.pipeline import load_network
from ocr_subnet.model.targets import detector_targets
from ocr_subnet.model.train import detector_loss, learning_rate, recognizer_loss
from ocr_subnet.sections import FONT_FAMILIES

SMALL_DETECTOR = DetectorConfig(widths=(8, 8, 8, 8), neck=8)
SMALL_RECOGNIZER = RecognizerConfig(widths=(8, 16, 16, 16), hidden=32)


@pytest.mark.parametrize(("height", "width"), [(64, 96), (832, 640), (16, 16)])
def test_detector_maps_are_half_resolution(height: int, width: int) -> None:
    out = Detector(SMALL_DETECTOR).eval()(torch.zeros(2, 1, height, width))
    assert out.shape == (2, DETECTOR_OUTPUTS, height // STRIDE, width // STRIDE)


def test_recognizer_scores_a_column_per_four_pixels_and_a_family_per_crop() -> None:
    model = Recognizer(SMALL_RECOGNIZER).eval()
    logits, families = model(torch.zeros(3, 1, CROP_HEIGHT, 200), torch.tensor([200, 40, 8]))
    assert logits.shape == (3, 50, charset.NUM_CLASSES)
    assert families.shape == (3, len(FONT_FAMILIES))


def test_font_pooling_ignores_padding() -> None:
    model = Recognizer(SMALL_RECOGNIZER).eval()
    crop = torch.rand(1, 1, CROP_HEIGHT, 40)
    padded = torch.zeros(1, 1, CROP_HEIGHT, 400)
    padded[..., :40] = crop
    _, alone = model(crop, torch.tensor([40]))
    _, with_padding = model(padded, torch.tensor([40]))
    # the BiLSTM's backward pass starts in the padding, so only nearly equal (the pipeline never lets
    # another page's crops decide a crop's padding: see test_model_pipeline)
    assert torch.allclose(alone, with_padding, atol=0.2)


def test_learning_rate_warms_up_then_decays() -> None:
    assert learning_rate(1.0, 0, 0.0, 100) == pytest.approx(0.01)
    assert learning_rate(1.0, 100, 0.0, 100) == pytest.approx(1.0)
    assert learning_rate(1.0, 5000, 0.5, 100) == pytest.approx(0.51)
    assert learning_rate(1.0, 5000, 1.0, 100) == pytest.approx(0.02)


def test_detector_loss_prefers_the_right_maps() -> None:
    quads = np.array([[[8, 8], [56, 8], [56, 18], [8, 18]]], dtype=np.float64)
    kernel, top, bottom = (torch.from_numpy(m)[None] for m in detector_targets(quads, 32, 32))
    right = torch.stack([kernel * 20 - 10, top / 8, bottom / 8], 1)
    wrong = torch.stack([-kernel * 20 + 10, top / 4, bottom / 16], 1)
    care = torch.ones_like(kernel)
    assert detector_loss(right, kernel, care, top, bottom) < 0.1 < detector_loss(wrong, kernel, care, top, bottom)


def test_detector_loss_ignores_cells_it_does_not_care_about() -> None:
    """Masked cells (a string too small or too tall for the canvas) cost nothing whatever the maps say there."""
    quads = np.array([[[8, 8], [56, 8], [56, 18], [8, 18]]], dtype=np.float64)
    kernel, top, bottom = (torch.from_numpy(m)[None] for m in detector_targets(quads, 32, 32))
    right = torch.stack([kernel * 20 - 10, top / 8, bottom / 8], 1)
    care = torch.ones_like(kernel)
    care[:, 20:, :] = 0
    noisy = right.clone()
    noisy[:, :, 20:, :] = torch.randn_like(noisy[:, :, 20:, :]) * 30
    assert detector_loss(noisy, kernel, care, top, bottom) == pytest.approx(
        float(detector_loss(right, kernel, care, top, bottom))
    )
    assert detector_loss(noisy, kernel, torch.ones_like(kernel), top, bottom) > 1


def test_recognizer_loss_is_finite_even_for_impossible_alignments() -> None:
    logits = torch.randn(2, 3, charset.NUM_CLASSES)
    targets = torch.tensor(charset.encode("abcdefgh") + charset.encode("a"))
    ctc, font = recognizer_loss(
        logits, torch.randn(2, 6), torch.tensor([12, 12]), targets, torch.tensor([8, 1]), torch.tensor([0, 5])
    )
    assert torch.isfinite(ctc) and torch.isfinite(font)


def test_tiny_overfit_reduces_both_losses() -> None:
    torch.manual_seed(0)
    detector, recognizer = Detector(SMALL_DETECTOR), Recognizer(SMALL_RECOGNIZER)
    quads = np.array([[[8, 8], [56, 8], [56, 18], [8, 18]]], dtype=np.float64)
    kernel, top, bottom = (torch.from_numpy(m)[None] for m in detector_targets(quads, 32, 32))
    page = torch.zeros(1, 1, 64, 64)
    page[..., 9:17, 9:55] = 1.0
    crops = torch.rand(2, 1, CROP_HEIGHT, 64)
    widths = torch.tensor([64, 64])
    targets = torch.tensor(charset.encode("Net 30") + charset.encode("$5"))
    lengths, families = torch.tensor([6, 2]), torch.tensor([1, 4])
    optimizer = torch.optim.Adam([*detector.parameters(), *recognizer.parameters()], lr=3e-3)

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        logits, family_logits = recognizer(crops, widths)
        ctc, font = recognizer_loss(logits, family_logits, widths, targets, lengths, families)
        return detector_loss(detector(page), kernel, torch.ones_like(kernel), top, bottom), ctc + font

    first = [float(v) for v in losses()]
    for _ in range(40):
        optimizer.zero_grad()
        sum(losses()).backward()
        optimizer.step()
    last = [float(v) for v in losses()]
    assert last[0] < 0.7 * first[0] and last[1] < 0.7 * first[1]


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-4), (torch.bfloat16, 0.1)])
def test_exported_networks_load_for_inference_and_match_eager(
    tmp_path: Path, dtype: torch.dtype, tolerance: float
) -> None:
    torch.manual_seed(0)
    detector, recognizer = Detector(SMALL_DETECTOR).train(), Recognizer(SMALL_RECOGNIZER).train()
    with torch.no_grad():  # batch norm statistics away from their defaults: folding must carry them over
        for _ in range(5):
            detector(torch.rand(2, 1, 64, 96))
            recognizer(torch.rand(3, 1, CROP_HEIGHT, 48), torch.tensor([48, 48, 48]))
    detector.eval(), recognizer.eval()
    for model, name in ((detector, "d.pt"), (recognizer, "r.pt")):
        torch.jit.save(exportable(model), str(tmp_path / name))
    page = torch.rand(2, 1, 64, 96)
    crops, widths = torch.rand(3, 1, CROP_HEIGHT, 48), torch.tensor([48, 20, 8])
    loaded_d, loaded_r = (load_network(tmp_path / name, "cpu", dtype) for name in ("d.pt", "r.pt"))
    with torch.inference_mode():
        got = loaded_d(page.to(dtype).contiguous(memory_format=torch.channels_last))
        assert got.dtype == dtype
        torch.testing.assert_close(got.float(), detector(page), atol=tolerance, rtol=tolerance)
        got_r = loaded_r(crops.to(dtype).contiguous(memory_format=torch.channels_last), widths)
        for got, want in zip(got_r, recognizer(crops, widths), strict=True):
            torch.testing.assert_close(got.float(), want, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("width", [1, 8, 9, 151, 1024])
def test_crop_normalization_maps_paper_to_zero_and_ink_to_one(width: int) -> None:
    torch.manual_seed(width)
    crop = torch.rand(CROP_HEIGHT, width) ** 3  # mostly light paper, some dark ink
    paper, ink = torch.median(crop), torch.quantile(crop.flatten(), 0.98)
    expected = ((crop - paper) / torch.clamp(ink - paper, min=CONTRAST_FLOOR)).clamp(-1.0, 1.5)
    torch.testing.assert_close(normalize(crop), expected, atol=1e-6, rtol=1e-6)
    blank = torch.full((CROP_HEIGHT, width), 0.3)
    assert torch.count_nonzero(normalize(blank)) == 0  # no contrast: not stretched into noise


def test_exported_weights_load_back_into_trainable_networks(tmp_path: Path) -> None:
    """Starting training from shipped weights: the rebuilt batch norms compute exactly the shipped networks in
    eval mode, and their statistics come from the inputs fed, so training mode stays close to them."""
    torch.manual_seed(0)
    detector, recognizer = Detector(SMALL_DETECTOR).train(), Recognizer(SMALL_RECOGNIZER).train()
    with torch.no_grad():
        for _ in range(5):
            detector(torch.rand(2, 1, 64, 96) * 0.5)
            recognizer(torch.rand(3, 1, CROP_HEIGHT, 48) * 0.5, torch.tensor([48, 48, 48]))
    detector.eval(), recognizer.eval()
    shipped = {}
    for model, name in ((detector, "d.pt"), (recognizer, "r.pt")):
        torch.jit.save(exportable(model), str(tmp_path / name))
        shipped[name] = torch.jit.load(str(tmp_path / name)).state_dict()
    page = torch.rand(4, 1, 64, 96) * 0.5
    crops, widths = torch.rand(4, 1, CROP_HEIGHT, 48) * 0.5, torch.tensor([48, 40, 30, 48])
    fresh_d, fresh_r = Detector(SMALL_DETECTOR), Recognizer(SMALL_RECOGNIZER)
    load_exported(fresh_d, shipped["d.pt"], lambda m: m(page))
    load_exported(fresh_r, shipped["r.pt"], lambda m: m(crops, widths))
    assert not fresh_d.training  # measured in eval mode
    with torch.no_grad():
        torch.testing.assert_close(fresh_d(page), detector(page), atol=1e-4, rtol=1e-4)
        for got, want in zip(fresh_r(crops, widths), recognizer(crops, widths), strict=True):
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
        fresh_d.train()  # the statistics are the fed batch's own: training mode on it is the same function
        torch.testing.assert_close(fresh_d(page), detector(page), atol=1e-3, rtol=1e-3)
    for name, _, norm in conv_norm_pairs(fresh_d):
        assert norm.running_var.gt(0).any(), name


def test_a_recognizer_of_a_shorter_alphabet_keeps_its_classes_and_gains_quiet_new_ones(tmp_path: Path) -> None:
    torch.manual_seed(0)
    old = Recognizer(SMALL_RECOGNIZER).eval()
    torch.jit.save(exportable(old), str(tmp_path / "r.pt"))
    shipped = torch.jit.load(str(tmp_path / "r.pt")).state_dict()
    ascii_only = len(charset.ASCII) + 1  # the shipped alphabet: blank and printable ASCII
    for layer in ("classify", "local"):
        shipped[f"{layer}.weight"] = shipped[f"{layer}.weight"][:ascii_only]
        shipped[f"{layer}.bias"] = shipped[f"{layer}.bias"][:ascii_only]
    crops, widths = torch.rand(3, 1, CROP_HEIGHT, 48) * 0.5, torch.tensor([48, 40, 48])
    grown = Recognizer(SMALL_RECOGNIZER)
    load_exported(grown, shipped, lambda m: m(crops, widths))
    with torch.no_grad():
        got, want = grown(crops, widths)[0], old(crops, widths)[0]
    assert got.shape[-1] == charset.NUM_CLASSES
    torch.testing.assert_close(got[..., :ascii_only], want[..., :ascii_only], atol=1e-4, rtol=1e-4)
    for layer in ("classify", "local"):
        bias = getattr(grown, layer).bias.detach()
        assert torch.equal(bias[ascii_only:], torch.full_like(bias[ascii_only:], float(bias[:ascii_only].min())))


def test_exported_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    torch.jit.save(exportable(Recognizer(SMALL_RECOGNIZER)), str(tmp_path / "r.pt"))
    state = torch.jit.load(str(tmp_path / "r.pt")).state_dict()
    bigger = Recognizer(RecognizerConfig(widths=(8, 16, 16, 32), hidden=32))
    with pytest.raises(ValueError, match="do not fit this network"):
        load_exported(bigger, state, lambda m: None)
    with pytest.raises(ValueError, match="do not fit this network"):
        load_exported(Detector(SMALL_DETECTOR), state, lambda m: None)
