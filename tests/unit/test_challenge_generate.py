"""Challenges from seeds: determinism, variety, the layout's promises, and the documented levels."""

from __future__ import annotations

import collections
import io
import itertools
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from faker import Faker
from ocr_subnet.challenge import corrupt, fonts, generate, geometry, levels
from ocr_subnet.challenge.families import FAMILIES
from ocr_subnet.challenge.generate import (
    derive_seeds,
    generate_challenge,
    invoice_layout,
    page_layout,
    prepare,
    render_page,
)
from ocr_subnet.challenge.invoice import (
    MAX_SIZE,
    MIN_SIZE,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    TEMPLATES,
    Rule,
    make_invoice,
    make_style,
    money,
)
from ocr_subnet.challenge.invoice_layout import COLUMNS as ITEM_COLUMNS
from ocr_subnet.challenge.invoice_layout import META as INVOICE_META
from ocr_subnet.protocol import MAX_BODY_BYTES, MAX_IMAGE_PIXELS, OcrRequest, decode_image, encode_image
from ocr_subnet.sections import FONT_FAMILIES
from PIL import Image

LAYOUT_SEEDS = range(150)


@pytest.mark.parametrize("level", range(len(levels.LEVELS)))
def test_same_seed_and_difficulty_give_identical_bytes_and_labels(level: int) -> None:
    first, again = generate_challenge(11, level), generate_challenge(11, level)
    assert first.image == again.image
    assert first.sections == again.sections
    assert first.id == again.id


def test_concurrent_generation_gives_the_sequential_results() -> None:
    """Validators may generate in threads: Faker and pdfium are shared, so they must be guarded."""
    jobs = [(seed, seed % 5) for seed in range(8)]
    sequential = [generate_challenge(seed, level) for seed, level in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda job: generate_challenge(*job), jobs))
    assert [c.image for c in concurrent] == [c.image for c in sequential]
    assert [c.sections for c in concurrent] == [c.sections for c in sequential]


def test_global_random_state_neither_matters_nor_changes() -> None:
    random.seed(1)
    np.random.seed(1)
    state = random.getstate(), np.random.get_state()[1].copy()
    first = generate_challenge(5, 2)
    random.seed(99)
    np.random.seed(99)
    assert generate_challenge(5, 2).image == first.image
    random.seed(1)
    np.random.seed(1)
    generate_challenge(6, 2)
    assert random.getstate() == state[0]
    assert np.array_equal(np.random.get_state()[1], state[1])


def test_content_depends_on_the_seed_only_and_corruption_on_the_difficulty() -> None:
    easy, hard = generate_challenge(3, 1), generate_challenge(3, 3)
    assert [s.text for s in easy.sections] == [s.text for s in hard.sections]
    assert easy.image != hard.image
    assert easy.id != hard.id


def test_seeds_vary_templates_fonts_sizes_and_positions() -> None:
    pages = [invoice_layout(seed) for seed in range(24)]
    assert {page.template for page in pages} == set(TEMPLATES)
    families = {text.font.family for page in pages for text in page.texts}
    assert families == set(FONT_FAMILIES)
    assert len({text.font.size for page in pages for text in page.texts}) >= 5
    first_positions = {(round(page.texts[0].x), round(page.texts[0].baseline)) for page in pages}
    assert len(first_positions) >= 20
    # The quantity column (the table's second header) sits at many different places.
    quantity_x = {
        round(page.texts[i].x)
        for page in pages
        for i, text in enumerate(page.texts)
        if text.text in ("Qty", "Quantity", "Units", "Hours")
    }
    assert len(quantity_x) >= 15


def test_each_seed_draws_a_different_image() -> None:
    images = {generate_challenge(seed, 1).image for seed in range(6)}
    assert len(images) == 6


def test_layouts_stay_on_the_page_with_fonts_from_the_contract_and_no_overlaps() -> None:
    for seed in LAYOUT_SEEDS:
        page = invoice_layout(seed)
        boxes = [text.box for text in page.texts]
        for text, (x0, y0, x1, y1) in zip(page.texts, boxes, strict=True):
            assert text.font.family in FONT_FAMILIES
            assert MIN_SIZE <= text.font.size <= MAX_SIZE
            assert text.text == text.text.strip() and text.text
            text.text.encode("cp1252")  # the standard fonts' encoding: no missing glyphs
            assert x0 >= 10 and x1 <= PAGE_WIDTH - 10, (seed, text.text)
            assert y0 >= 10 and y1 <= PAGE_HEIGHT - 10, (seed, text.text)
        for a, b in itertools.combinations(boxes, 2):
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (seed, a, b)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_draws_all_the_tutorial_fields(template: str) -> None:
    rng = np.random.default_rng(17)
    fake = Faker("en_US")
    fake.seed_instance(17)
    invoice = make_invoice(fake, rng)
    invoice = replace(invoice, items=invoice.items[:3])
    drawn = TEMPLATES[template](invoice, make_style(rng), rng)
    page = " | ".join(text.text for text in drawn.texts)
    fields = [invoice.company, *invoice.company_lines, invoice.number, invoice.date, invoice.customer]
    fields += [item.description for item in invoice.items] + [invoice.terms]
    fields += [money(invoice.subtotal + invoice.tax)]
    for field in fields:
        assert field in page, field


def test_totals_match_the_drawn_items() -> None:
    for seed in range(40):
        texts = [text.text for text in invoice_layout(seed).texts]
        header = next(i for i, t in enumerate(texts) if t in ("Description", "Item", "Service", "Details"))
        rows = []
        i = header + 3
        while i + 2 < len(texts) and texts[i + 2].startswith("$"):
            rows.append((int(texts[i + 1]), float(texts[i + 2][1:].replace(",", ""))))
            i += 3
        amounts = [float(t.split("$")[-1].replace(",", "")) for t in texts[i:] if "$" in t]
        subtotal = sum(q * c for q, c in rows)
        assert rows
        assert subtotal == pytest.approx(amounts[0], abs=0.006), seed


@pytest.mark.parametrize("seed", range(4))
def test_level_1_delivers_a_631_by_816_jpeg(seed: int) -> None:
    challenge = generate_challenge(seed, 1)
    image = Image.open(io.BytesIO(challenge.image))
    assert image.format == "JPEG" and challenge.image_format == "jpeg"
    assert image.size == (challenge.width, challenge.height) == (631, 816)
    assert generate_challenge(seed).image == challenge.image  # level 1 is the default


def documented_levels(table: int = 0) -> list[dict[str, str]]:
    """The rows of the levels docstring's `table`-th table (0: corruption, 1: scan effects)."""
    blocks = [block.splitlines() for block in levels.__doc__.split("\n\n") if block.startswith("|")]
    lines = blocks[table]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]]


def span(cell: str) -> tuple[float, float]:
    low, high = cell.split("..")
    return float(low), float(high)


def test_the_documented_table_is_the_levels_in_code() -> None:
    rows = documented_levels()
    assert len(rows) == len(levels.LEVELS)
    for row, level in zip(rows, levels.LEVELS, strict=True):
        assert int(row["level"]) == level.level
        assert span(row["scale"]) == level.scale
        assert span(row["rotation deg"]) == level.rotation_deg
        assert float(row["perspective"]) == level.perspective
        assert row["noise"] == f"{level.noise_density:.2f}/{level.noise_sigma:g}"
        assert int(row["spots"]) == level.spots
        assert row["border pt/curl"] == f"{level.border_pt:g}/{level.border_curl:.1f}"
        assert float(row["blur px"]) == level.blur_radius
        assert row["format"] == ("png" if level.jpeg_quality is None else f"jpeg{level.jpeg_quality}")
    scan_rows = documented_levels(1)
    assert len(scan_rows) == len(levels.LEVELS)
    for row, level in zip(scan_rows, levels.LEVELS, strict=True):
        assert int(row["level"]) == level.level
        scan = level.scan
        assert [float(row[name]) for name in ("bleed", "fade", "texture", "lighting", "ghost")] == [
            scan.bleed,
            scan.fade,
            scan.texture,
            scan.lighting,
            scan.ghost,
        ]
        assert int(row["lines"]) == scan.lines


def quantization(quality: int) -> dict[int, list[int]]:
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 255).save(buffer, format="JPEG", quality=quality)
    return Image.open(buffer).quantization


@pytest.mark.parametrize("level", levels.LEVELS, ids=lambda level: f"level{level.level}")
def test_each_level_behaves_as_documented(level: levels.Difficulty) -> None:
    for seed in range(3):
        page, distortion = prepare(seed, level.level)
        assert level.scale[0] <= distortion.scale <= level.scale[1]
        assert level.rotation_deg[0] <= distortion.rotation_deg <= level.rotation_deg[1]
        height, width = page.raster.shape
        corners = geometry.corners((0, 0, width, height))
        moved = np.array(distortion.corners) - corners * distortion.scale
        assert np.all(np.abs(moved) <= level.perspective * np.array([width, height]) * distortion.scale + 1e-9)
        assert geometry.is_affine(distortion.matrix) == (level.perspective == 0)
        # The matrix is exactly: scale, perspective onto the drawn corners, rotate, then frame at the origin.
        mapped = geometry.apply(distortion.matrix, corners)
        rotated = geometry.apply(geometry.rotation(distortion.rotation_deg), distortion.corners)
        np.testing.assert_allclose(mapped - mapped.min(axis=0), rotated - rotated.min(axis=0), atol=1e-6)
        challenge = generate_challenge(seed, level.level)
        image = Image.open(io.BytesIO(challenge.image))
        assert image.size == distortion.size == (challenge.width, challenge.height)
        assert challenge.image_format == level.image_format == image.format.lower()
        if level.jpeg_quality is not None:
            assert image.quantization == quantization(level.jpeg_quality)


def test_level_0_is_the_clean_render_with_only_the_documented_noise() -> None:
    level = levels.difficulty(0)
    page, distortion = prepare(4, 0)
    np.testing.assert_array_equal(distortion.matrix, np.eye(3))
    delivered = np.asarray(Image.open(io.BytesIO(generate_challenge(4, 0).image)), dtype=np.float64)
    # On white paper only the darkening half of the noise shows (the rest clips at 255).
    white = page.raster == 255
    darkening = 255.0 - delivered[white]
    hit = darkening > 0
    assert hit.mean() == pytest.approx((1 - np.exp(-level.noise_density)) * 0.49, rel=0.1)
    assert darkening[hit].mean() == pytest.approx(level.noise_sigma * np.sqrt(2 / np.pi), rel=0.1)


def test_the_documented_levels_get_harsher_step_by_step() -> None:
    for easier, harder in itertools.pairwise(levels.LEVELS):
        assert harder.scale[1] <= easier.scale[1]
        assert max(map(abs, harder.rotation_deg)) >= max(map(abs, easier.rotation_deg))
        assert harder.perspective >= easier.perspective
        assert harder.noise_density > easier.noise_density and harder.noise_sigma > easier.noise_sigma
        assert harder.spots >= easier.spots
        assert harder.border_pt >= easier.border_pt and harder.border_curl >= easier.border_curl
        assert harder.blur_radius >= easier.blur_radius
        assert (harder.jpeg_quality or 0) < (easier.jpeg_quality or 100)
        for effect in ("bleed", "fade", "texture", "lighting", "lines", "ghost"):
            assert getattr(harder.scan, effect) >= getattr(easier.scan, effect), effect
    assert levels.LEVELS[1].scan == levels.LEVELS[0].scan == levels.ScanEffects()  # level 1: the tutorial's


@pytest.mark.parametrize("seed", range(2))
def test_each_level_strays_further_from_the_clean_page(seed: int) -> None:
    """Photometric damage (noise, spots, border, JPEG) against the clean page in the same geometry."""
    damage = []
    for level in levels.LEVELS:
        page, distortion = prepare(seed, level.level)
        blur = levels.blur_px(level, page.to_pixels[0, 0])
        clean = corrupt.blur(corrupt.warp(page.raster, distortion.matrix, distortion.size), blur)
        on_page = corrupt.warp(np.full_like(page.raster, 255), distortion.matrix, distortion.size) == 255
        delivered = np.asarray(Image.open(io.BytesIO(generate_challenge(seed, level.level).image)))
        damage.append(float(np.abs(delivered.astype(float) - clean)[on_page].mean()))
    assert damage == sorted(damage) and len(set(damage)) == len(damage)


def test_bad_seeds_and_levels_are_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_challenge(-1)
    with pytest.raises(ValueError, match="difficulty"):
        generate_challenge(1, 5)


def test_derived_seeds_are_stable_distinct_and_prefix_consistent() -> None:
    assert derive_seeds(42, 5) == derive_seeds(42, 5)
    assert derive_seeds(42, 10)[:5] == derive_seeds(42, 5)
    assert len(set(derive_seeds(42, 100))) == 100
    assert derive_seeds(43, 5) != derive_seeds(42, 5)


def test_challenge_id_hides_the_seed() -> None:
    challenge = generate_challenge(123456789, 1)
    assert len(challenge.id) == 16 and "123456789" not in challenge.id
    assert challenge.id == generate.challenge_id(123456789, 1) != generate.challenge_id(123456789, 2)


def test_render_page_is_independent_of_difficulty_and_matches_prepare() -> None:
    page = render_page(9, px_per_pt=generate.resolution(9, 4))
    prepared, _ = prepare(9, 4)
    assert page.layout == prepared.layout
    assert np.array_equal(page.raster, prepared.raster)


# --- the open families: pages of prose, columns, tables and forms -------------------------------

OPEN_FAMILIES = [family for family in FAMILIES if family != "invoice"]


def rule_box(rule: Rule) -> geometry.Box:
    """The ink a rule may lay down: its bounding box grown by half its width."""
    half = rule.width / 2
    return (
        min(rule.x0, rule.x1) - half,
        min(rule.y0, rule.y1) - half,
        max(rule.x0, rule.x1) + half,
        max(rule.y0, rule.y1) + half,
    )


def meets(a: geometry.Box, b: geometry.Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("family", OPEN_FAMILIES)
def test_open_layouts_stay_on_the_page_in_published_faces_with_no_overlaps_and_rules_clear_of_text(
    family: str,
) -> None:
    """One label per printed string: boxes never overlap each other, and no rule (underline, table
    ruling, box, checkbox) runs through a label box."""
    for seed in range(30):
        page = page_layout(seed, family)
        assert len(page.texts) >= 10, (family, seed)
        boxes = [text.box for text in page.texts]
        for text, (x0, y0, x1, y1) in zip(page.texts, boxes, strict=True):
            assert text.font.family in fonts.PUBLISHED_FAMILIES
            assert text.text == text.text.strip() and text.text, (family, seed)
            assert text.text.isascii() and text.text.isprintable(), text.text
            assert x0 >= 20 and x1 <= PAGE_WIDTH - 20, (family, seed, text.text)
            assert y0 >= 20 and y1 <= PAGE_HEIGHT - 20, (family, seed, text.text)
        for a, b in itertools.combinations(boxes, 2):
            assert not meets(a, b), (family, seed, a, b)
        for rule in page.rules:
            assert all(not meets(rule_box(rule), box) for box in boxes), (family, seed, rule)
            assert min(rule.x0, rule.x1) >= 0 and max(rule.x0, rule.x1) <= PAGE_WIDTH
            assert min(rule.y0, rule.y1) >= 0 and max(rule.y0, rule.y1) <= PAGE_HEIGHT


@pytest.mark.parametrize("family", [family for family in OPEN_FAMILIES if family != "receipt"])
def test_open_families_draw_every_published_face(family: str) -> None:
    """Every face of the protocol's list turns up in each family (the receipt keeps to monospace ones)."""
    drawn = {text.font.family for seed in range(160) for text in page_layout(seed, family).texts}
    assert drawn == set(fonts.PUBLISHED_FAMILIES)


def test_receipts_draw_every_monospace_face() -> None:
    drawn = {text.font.family for seed in range(120) for text in page_layout(seed, "receipt").texts}
    assert drawn == set(fonts.MONOSPACE)


def test_column_pages_set_two_or_three_columns_of_lines() -> None:
    counts = set()
    for seed in range(20):
        page = page_layout(seed, "columns")
        count = int(page.template.removeprefix("columns-"))
        counts.add(count)
        starts = collections.Counter(round(text.x, 1) for text in page.texts)
        lefts = sorted(x for x, _ in starts.most_common(count))
        # The column heads hold nearly every line, a column's measure apart.
        assert sum(n for _, n in starts.most_common(count)) >= 0.85 * len(page.texts), seed
        assert all(b - a > 80 for a, b in itertools.pairwise(lefts)), (seed, lefts)
    assert counts == {2, 3}


NUMBER = re.compile(r"-?\$?[\d,]+\.\d+%?|-?\d[\d,]*%?")


def test_tables_have_two_to_eight_columns_a_header_and_right_aligned_numbers() -> None:
    widths = set()
    for seed in range(40):
        page = page_layout(seed, "table")
        rows = collections.defaultdict(list)
        for text in page.texts:
            rows[round(text.baseline, 3)].append(text)
        cells = [row for row in rows.values() if len(row) >= 2]
        assert cells, seed
        widths |= {len(row) for row in cells}
        # A number is right-aligned: its right edge is its column's, shared with the column's other cells.
        edges = collections.Counter(round(t.x + t.advance, 2) for row in cells for t in row)
        for row in cells[1:]:
            for text in row:
                if NUMBER.fullmatch(text.text):
                    assert edges[round(text.x + text.advance, 2)] >= 2, (seed, text.text)
    assert min(widths) == 2 and max(widths) <= 8 and len(widths) >= 5, widths
    ruled = {len(page_layout(seed, "table").rules) > 0 for seed in range(20)}
    assert ruled == {True, False}


def test_forms_fill_varied_labels_with_open_values_boxes_and_checkboxes() -> None:
    labels, generated, kinds, rules = set(), 0, set(), 0
    patterns = {
        "date": re.compile(
            r"\d{4}-\d\d-\d\d|\d\d/\d\d/\d{4}|\d\d\.\d\d\.\d{4}|[A-Z][a-z]+ \d\d, \d{4}|\d\d [A-Z][a-z]+ \d{4}"
        ),
        "phone": re.compile(r"\(\d{3}\) \d{3}-\d{4}"),
        "email": re.compile(r"[a-z]+@[a-z]+\.(com|org|net|edu)"),
    }
    for seed in range(20):
        page = page_layout(seed, "form")
        stock = generate.STOCK["form"]
        labels |= {t.text for t in page.texts if t.text in stock}
        generated += sum(t.text.endswith(":") and t.text not in stock for t in page.texts)
        kinds |= {kind for t in page.texts for kind, pattern in patterns.items() if pattern.fullmatch(t.text)}
        rules += len(page.rules)
    assert len(labels) >= 40 and generated >= 20, (len(labels), generated)
    assert kinds == set(patterns)
    assert rules >= 100


def test_invoice_layouts_vary_block_order_table_columns_and_meta_labels() -> None:
    """Procedural invoices: each page orders its blocks and picks and orders its 3-7 table columns anew;
    meta labels mix common wordings (fixed) with open-vocabulary ones."""
    orders, tables, labels, generated = set(), set(), set(), 0
    stock = generate.STOCK["invoice-layout"]
    for seed in range(40):
        page = page_layout(seed, "invoice-layout")
        _, order, columns = page.template.split(":")
        orders.add(order)
        tables.add(columns)
        if columns:
            assert 3 <= len(columns.split(",")) <= 7, (seed, columns)
            assert set(columns.split(",")) <= set(ITEM_COLUMNS), (seed, columns)
        labels |= {t.text.removesuffix(":") for t in page.texts} & {label for label, _ in INVOICE_META}
        generated += sum(t.text.endswith(":") and t.text not in stock for t in page.texts)
    assert len(orders) >= 35 and len(tables) >= 35, (len(orders), len(tables))
    assert {len(columns.split(",")) for columns in tables if columns} == {3, 4, 5, 6, 7}
    assert len(labels) >= 12 and generated >= 20, (sorted(labels), generated)


def test_resolutions_mix_the_tutorials_with_scans_at_whole_dpi_and_keep_the_tutorial_task() -> None:
    drawn = [
        generate.resolution(seed, level, family)
        for seed in range(100)
        for level, family in ((0, "invoice"), (2, "letter"))
    ]
    assert drawn == [
        generate.resolution(seed, level, family)
        for seed in range(100)
        for level, family in ((0, "invoice"), (2, "letter"))
    ]
    tutorial = [px for px in drawn if px == levels.RENDER_PX_PER_PT]
    scans = sorted(round(px * levels.POINTS_PER_INCH, 6) for px in drawn if px != levels.RENDER_PX_PER_PT)
    assert 0.5 < len(tutorial) / len(drawn) < 0.7  # TUTORIAL_SHARE
    assert all(dpi == int(dpi) and levels.SCAN_DPI[0] <= dpi <= levels.SCAN_DPI[1] for dpi in scans)
    assert scans[0] < 170 and scans[-1] > 280 and len(set(scans)) > 40
    # The tutorial's task is always at its resolution; the same seed's letter at level 1 is not.
    assert {generate.resolution(seed, 1, "invoice") for seed in range(100)} == {levels.RENDER_PX_PER_PT}
    assert len({generate.resolution(seed, 1, "letter") for seed in range(100)}) > 20


def test_blur_grows_with_the_square_root_of_the_density() -> None:
    level = levels.difficulty(4)
    assert levels.blur_px(level, 661 / 612) == level.blur_radius  # the tutorial's page, exactly
    assert levels.blur_px(level, 300 / 72) == pytest.approx(level.blur_radius * (300 / 72 / 1.08) ** 0.5, abs=0.01)


def test_the_largest_scan_fits_what_an_honest_miner_accepts() -> None:
    """A 300 dpi page at level 0 (no shrinking, lossless PNG) is the biggest challenge: it stays inside
    the protocol's body and pixel limits, with room for the miner's default two pages at once."""
    level = levels.difficulty(0)
    page = render_page(0, "letter", levels.SCAN_DPI[1] / levels.POINTS_PER_INCH)
    height, width = page.raster.shape
    distortion = generate.plan_distortion(level, width, height, generate.stream(0, generate.GEOMETRY, 0))
    image = corrupt.encode(
        generate.corrupt_page(page, level, distortion, generate.stream(0, generate.PHOTOMETRY, 0)), None
    )
    assert distortion.size == (width, height) and abs(width - 2550) <= 1 and abs(height - 3300) <= 1
    assert 2 * width * height <= MAX_IMAGE_PIXELS
    request = OcrRequest(image=encode_image(image), challenge_id="c")
    assert len(request.model_dump_json()) < MAX_BODY_BYTES / 4
    assert decode_image(request.image).size == (width, height)
