"""Training and evaluation data: labels that match the pixels, glyph sources, held-out seeds, replay pools."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ocr_subnet.challenge.fonts import PUBLISHED_FAMILIES, base_family
from ocr_subnet.challenge.generate import generate_challenge, invoice_layout, page_layout
from ocr_subnet.model import glyphs
from ocr_subnet.model.data import (
    DataConfig,
    Pools,
    detector_example,
    jitter,
    recognizer_examples,
    training_sample,
)
from ocr_subnet.model.evaluate import (
    BENCHMARK_BASE,
    CALIBRATION_BASE,
    VALIDATION_BASE,
    eval_pages,
    held_out_seeds,
    page_metrics,
    source_seeds,
)
from ocr_subnet.model.geometry import CROP_HEIGHT, canvas, quad_bounds, quad_rects
from ocr_subnet.model.rewrites import codify
from ocr_subnet.model.scales import LARGE_TEXT, landing_shrink
from ocr_subnet.model.synth import generator_sample, pick_fonts, redraw, tutorial_layout, tutorial_sample
from ocr_subnet.model.targets import detector_targets
from ocr_subnet.sections import FONT_FAMILIES


def test_generator_sample_labels_match_the_challenge_labels() -> None:
    """Same layout and level: our sample's labels follow the challenge's label rule exactly."""
    sample = generator_sample(5, 0)
    challenge = generate_challenge(5, 0)
    assert [s.text for s in sample.sections()] == [s.text for s in challenge.sections]
    np.testing.assert_allclose(
        [s.position for s in sample.sections()], [s.position for s in challenge.sections], atol=0.01
    )


def test_redrawn_labels_use_the_drawn_advance_and_keep_the_base_family() -> None:
    layout = invoice_layout(3)
    sources = glyphs.sources()
    fonts = {family: names[-1] for family, names in sources.items()}
    drawn, labelled = redraw(layout, fonts)
    for d, item, original in zip(drawn.texts, labelled.texts, layout.texts, strict=True):
        assert item.font == original.font and item.text == original.text
        assert d.font.family == fonts[original.font.family]
        assert item.advance == d.advance
        assert (item.x, item.baseline) == (original.x, original.baseline)


def test_pick_fonts_mixes_sources() -> None:
    rng = np.random.default_rng(0)
    picks = [pick_fonts(rng, 0.4)["Helvetica"] for _ in range(200)]
    assert picks.count("Helvetica") > 40
    assert len(set(picks)) == len(glyphs.sources()["Helvetica"])


def test_glyph_sources_include_tex_office_and_urw_faces() -> None:
    """setup.sh installs every listed source: each base family is drawn by its URW clone, Latin Modern (TeX's
    face) and, for the proportional ones, an Office-shaped face."""
    sources = glyphs.sources()
    assert all(len(sources[family]) == 1 + len(t1) + len(tt) for family, (t1, tt) in glyphs.ALTERNATIVES.items())
    assert {"glyph-lmr10", "glyph-lmri10", "glyph-P052-Roman", "glyph-Caladea-Regular"} <= set(sources["Times-Roman"])
    assert {"glyph-lmss10", "glyph-Carlito-Regular", "glyph-URWGothic-Book"} <= set(sources["Helvetica"])
    assert "glyph-lmtt10" in sources["Courier"] and "glyph-lmtk10" in sources["Courier-Bold"]


@pytest.mark.parametrize("seed", [3, 8])
def test_code_strings_keep_their_advance_and_their_words(seed: int) -> None:
    original = page_layout(seed, "letter")
    coded = codify(original, np.random.default_rng(seed))
    changed = [(a, b) for a, b in zip(original.texts, coded.texts, strict=True) if a.text != b.text]
    assert changed
    for before, after in changed:
        assert after.advance <= before.advance + 1e-6 and (after.x, after.baseline) == (before.x, before.baseline)
        assert "_" in after.text and after.text.replace("_", " ").lower() == before.text.lower()
        assert after.font.family == before.font.family and after.font.size <= before.font.size


def test_code_pages_keep_ink_inside_their_labels() -> None:
    sample = training_sample(3, DataConfig(code_share=1.0))
    assert any("_" in t for t in sample.texts)
    for box in quad_bounds(sample.quads).astype(int):
        x0, y0, x1, y1 = box
        assert sample.image[max(y0, 0) : y1, max(x0, 0) : x1].min() < 180


def test_tutorial_layout_is_the_tutorial_arrangement() -> None:
    layout = tutorial_layout(1)
    texts = [t.text for t in layout.texts]
    assert texts[5:10] == ["Bill To:", layout.texts[6].text, "Description", "Qty", "Cost"]
    assert texts[-1] == "Payment due within 30 days" and texts[-2] == "Terms:"
    assert texts[-3].startswith("Total: $")
    assert {t.font.family for t in layout.texts} <= {"Helvetica", "Times-Roman"}
    assert len({t.font for t in layout.texts}) == 1
    assert (layout.texts[0].x, layout.texts[0].baseline) == (30.0, 750.0)


def test_tutorial_sample_is_poppler_rendered_at_the_tutorial_density() -> None:
    sample = tutorial_sample(2)
    height, width = sample.image.shape
    assert 620 < width < 645 and 800 < height < 835  # ~1.03 px/pt after the 95% rescale
    boxes = quad_bounds(sample.quads)
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= width).all()
    assert sample.image[boxes[0, 1].astype(int) : boxes[0, 3].astype(int), 40:140].min() < 180  # ink under a label


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_training_samples_have_ink_inside_their_labels(seed: int) -> None:
    sample = training_sample(seed, DataConfig())
    assert len(sample.texts) == len(sample.quads) > 5
    for box in quad_bounds(sample.quads)[:5].astype(int):
        x0, y0, x1, y1 = box
        assert sample.image[max(y0, 0) : y1, max(x0, 0) : x1].min() < 180


def test_training_pages_draw_the_open_families_at_scan_densities() -> None:
    """Most training pages come from the validator's open mix, in published faces, some at scan densities;
    their crops carry the nearest base family for the font head."""
    config = DataConfig(open_share=1.0, open_native_share=0.0, open_range=(3.0, 3.0))
    sample = training_sample(3, config)
    assert set(sample.families) <= set(PUBLISHED_FAMILIES) and not set(sample.families) <= set(FONT_FAMILIES)
    assert sample.image.shape[1] > 1500  # a 612 pt page at ~3 px/pt (the level may shrink it a little)
    crops = recognizer_examples(sample, np.random.default_rng(0), config)
    assert {c.family for c in crops} == {FONT_FAMILIES.index(base_family(f)) for f in sample.families}
    mixed = [training_sample(seed, DataConfig()) for seed in range(20)]
    opened = sum(not set(s.families) <= set(FONT_FAMILIES) for s in mixed)
    assert 6 <= opened <= 18  # DataConfig().open_share of them, give or take


def test_training_crops_are_squeezed_into_the_recipes_columns() -> None:
    """Training keeps the shipped weights' recipe (crops squeezed into `crop_columns`), so the README's commands still
    reproduce them, while inference reads every line at its own aspect ratio."""
    config = DataConfig(open_share=1.0, open_native_share=0.0, open_range=(3.0, 3.0))
    sample = training_sample(3, config)
    natural = max(c.crop.shape[1] for c in recognizer_examples(sample, np.random.default_rng(0), config))
    squeezed = replace(config, crop_columns=natural // 2)
    widths = [c.crop.shape[1] for c in recognizer_examples(sample, np.random.default_rng(0), squeezed)]
    assert natural > 200 and max(widths) == natural // 2


@pytest.mark.parametrize(
    ("face", "base"),
    [
        ("DejaVuSansMono-BoldOblique", "Courier-Bold"),
        ("LiberationMono", "Courier"),
        ("FreeSerifItalic", "Times-Roman"),
        ("DejaVuSerifCondensed-Bold", "Times-Bold"),
        ("LiberationSansNarrow-Bold", "Helvetica-Bold"),
        ("FreeSans", "Helvetica"),
        ("Times-Bold", "Times-Bold"),
    ],
)
def test_base_family_of_a_published_face(face: str, base: str) -> None:
    assert base_family(face) == base


def test_base_family_of_an_unpublished_face_is_refused() -> None:
    with pytest.raises(KeyError, match="not a published family"):
        base_family("Comic Sans")


def test_detector_example_and_recognizer_examples() -> None:
    sample = training_sample(4, DataConfig())
    example = detector_example(sample)
    h, w = example.page.shape
    assert example.kernel.shape == example.care.shape == (h // 2, w // 2) and example.kernel.any()
    assert example.care.all()  # an ordinary page's strings are all the detector's targets
    crops = recognizer_examples(sample, np.random.default_rng(0), DataConfig())
    assert len(crops) == len(sample.texts)
    assert all(c.crop.shape[0] == CROP_HEIGHT and c.target for c in crops)


def test_a_headline_page_trains_the_detector_on_the_coarse_canvas_its_headline_lands_on() -> None:
    """Inference finds a huge string on a shrunk canvas (`scales.COARSE_SHRINKS`); training shows it there, the
    headline a target, the body text shrunk to a texture masked out of the loss rather than called background."""
    sample = training_sample(3, DataConfig(headline_share=1.0, open_share=1.0))
    example = detector_example(sample)
    canonical = canvas(sample.image.shape[1], sample.image.shape[0])
    tallest = float(quad_rects(sample.quads)[:, 3].max()) * canonical.scale
    shrink = landing_shrink(tallest)
    assert shrink < 1 and tallest * shrink <= LARGE_TEXT < tallest * shrink * 2
    coarse = canvas(sample.image.shape[1], sample.image.shape[0], shrink)
    assert example.page.shape == (coarse.padded_height, coarse.padded_width)
    assert example.kernel.any() and not example.care.all()
    assert not (example.kernel.astype(bool) & ~example.care.astype(bool)).any()  # targets are cared about


def test_detector_targets_measure_edges_from_cell_centres() -> None:
    quads = np.array([[[10, 20], [90, 20], [90, 32], [10, 32]]], dtype=np.float64)
    kernel, top, bottom = detector_targets(quads, 32, 64)
    rows, cols = np.nonzero(kernel)
    assert kernel.sum() > 0 and rows.min() * 2 >= 20 and rows.max() * 2 + 2 <= 32
    y = 2 * (rows + 0.5)
    np.testing.assert_allclose(top[rows, cols], y - 20)
    np.testing.assert_allclose(bottom[rows, cols], 32 - y)
    assert (top[kernel == 0] >= 0).all()


def test_jitter_keeps_rectangles_valid() -> None:
    quads = np.array([[[10, 20], [12, 20], [12, 30], [10, 30]]], dtype=np.float64).repeat(100, 0)
    rects = jitter(quad_rects(quads), np.random.default_rng(0), DataConfig(jitter_ends=2.0))
    assert (rects[:, 2] > 0).all() and (rects[:, 3] > 0).all()


def test_pools_batches_respect_the_column_budget() -> None:
    rng = np.random.default_rng(0)
    pools = Pools(pages=4, crops=500, rng=rng)
    for seed in (1, 2):
        sample = training_sample(seed, DataConfig())
        pools.add((detector_example(sample), recognizer_examples(sample, rng, DataConfig())))
    pages, kernel, care, top, bottom = pools.detector_batch(3, 128)
    assert pages.shape == (3, 1, 128, 128) and kernel.shape == care.shape == top.shape == bottom.shape == (3, 64, 64)
    for _ in range(20):
        crops, widths, targets, lengths, families = pools.recognizer_batch(32, 2000)
        assert (widths <= crops.shape[-1]).all()
        assert len(crops) == 1 or len(crops) * crops.shape[-1] <= 2000 + 4 * len(crops)
        assert int(lengths.sum()) == len(targets) and len(families) == len(crops)


def test_evaluation_seeds_are_disjoint_and_held_out() -> None:
    held = held_out_seeds()
    sets = [set(source_seeds(base, "level1", 16)) for base in (VALIDATION_BASE, CALIBRATION_BASE, BENCHMARK_BASE)]
    assert not (sets[0] & sets[1]) and not (sets[1] & sets[2])
    assert all(s <= held for s in sets)
    assert set(source_seeds(BENCHMARK_BASE, "tutorial", 4)) <= held


def test_eval_pages_and_metrics_of_a_perfect_answer() -> None:
    (page,) = eval_pages(VALIDATION_BASE, 1, ["level2"])
    metrics = page_metrics(page.labels, list(page.labels))
    assert metrics["reward"] == pytest.approx(1.0) and metrics["cer"] == 0.0 and metrics["font"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="held out"):
        eval_pages(VALIDATION_BASE, 10_000)


def test_font_calibration_fits_the_size_gain_and_the_family_prior() -> None:
    from ocr_subnet.model.evaluate import EvalPage, calibrate_fonts, match_boxes
    from ocr_subnet.model.geometry import Calibration
    from ocr_subnet.model.pipeline import Reading
    from ocr_subnet.sections import Font, Section

    labels = tuple(
        Section(text="x", position=(10.0, 10.0 + 20 * i, 110.0, 20.0 + 20 * i), font=Font(family="Courier", size=10.0))
        for i in range(6)
    )
    # boxes found 5% too tall; the font head is unsure about one string
    rects = np.array([[60.0, 15.0 + 20 * i, 100.0, 10.5, 0.0, 1.0] for i in range(6)])
    probs = np.tile(np.eye(6)[4] * 0.9 + 0.0166, (6, 1))
    probs[5] = [0.0, 0.0, 0.0, 0.0, 0.4, 0.6]
    page = EvalPage("level0", 0, np.full((792, 612), 255, np.uint8), labels)
    rows, _, quality = match_boxes(labels, rects)
    assert len(rows) == 6 and quality > 0.9
    calibration, fit = calibrate_fonts([(Reading(rects, ["x"] * 6, probs), page)], Calibration())
    assert calibration.size_gain == pytest.approx(10 / 10.5)
    assert fit["size_ratio"] == pytest.approx(1.0) and fit["family_accuracy"] == pytest.approx(1.0)
    assert calibration.family_prior > 0


def test_font_calibration_without_any_match_keeps_the_knobs() -> None:
    from ocr_subnet.model.evaluate import EvalPage, calibrate_fonts
    from ocr_subnet.model.geometry import Calibration
    from ocr_subnet.model.pipeline import Reading
    from ocr_subnet.sections import Font, Section

    label = Section(text="x", position=(10.0, 10.0, 110.0, 20.0), font=Font(family="Courier", size=10.0))
    page = EvalPage("level0", 0, np.full((792, 612), 255, np.uint8), (label,))
    nothing = Reading(np.zeros((0, 6)), [], np.zeros((0, 6), np.float32))
    base = Calibration(size_gain=1.1)
    assert calibrate_fonts([(nothing, page)], base) == (base, {"size_ratio": 0.0, "family_accuracy": 0.0})
