"""Prose pages for the prose benchmark: the held-out licence's text, set in the asked faces, labelled exactly."""

from __future__ import annotations

import numpy as np
from ocr_subnet.evaluation import Variant
from ocr_subnet.evaluation.prose import paragraphs, prose_pages
from ocr_subnet.evaluation.real_pdfs import normalise
from ocr_subnet.sections import plain_text


def test_each_face_gets_a_clean_and_a_degraded_page_of_the_held_out_text_at_its_density() -> None:
    pages = prose_pages(["Helvetica", "DejaVuSerif"], (1.0, 2.0))
    assert [(p.face, p.variant, p.px_per_pt) for p in pages] == [
        ("Helvetica", Variant.CLEAN, 1.0),
        ("Helvetica", Variant.DEGRADED, 1.0),
        ("DejaVuSerif", Variant.CLEAN, 2.0),
        ("DejaVuSerif", Variant.DEGRADED, 2.0),
    ]
    blocks = paragraphs()
    helvetica, _, serif, _ = pages
    assert normalise(plain_text(list(helvetica.labels))).startswith(normalise(blocks[0])[:200])
    assert normalise(plain_text(list(serif.labels))).startswith(
        normalise(blocks[1])[:200]
    )  # each face reads other text
    assert serif.image.shape[0] > 1.9 * helvetica.image.shape[0]
    for clean, degraded in (pages[0:2], pages[2:4]):
        assert clean.labels == degraded.labels and clean.image.shape == degraded.image.shape  # no warp
        assert not np.array_equal(clean.image, degraded.image)
        for section in clean.labels:  # every label box holds ink
            x0, y0, x1, y1 = (int(v) for v in section.position)
            assert clean.image[y0:y1, x0:x1].min() < 128


def test_a_spread_is_each_page_beside_its_continuation_with_both_pages_labels() -> None:
    single = prose_pages(["Helvetica"], (1.0,), (Variant.CLEAN,))[0]
    spread = prose_pages(["Helvetica"], (1.0,), (Variant.CLEAN,), spread=True)[0]
    height, width = single.image.shape
    assert spread.image.shape == (height, 2 * width)
    np.testing.assert_array_equal(spread.image[:, :width], single.image)
    right = spread.labels[len(single.labels) :]
    assert spread.labels[: len(single.labels)] == single.labels and right
    assert normalise(plain_text(list(right))).startswith(normalise(paragraphs()[3])[:100])  # 3 paragraphs on
    for section in right:  # the right page's labels moved onto its ink
        x0, y0, x1, y1 = (int(v) for v in section.position)
        assert x0 >= width and spread.image[y0:y1, x0:x1].min() < 128
