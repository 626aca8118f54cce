"""Our reward on hand-made labels: exact values, invariances, and that reading is what pays."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from ocr_subnet.metric_names import REWARD_PARTS
from ocr_subnet.scoring import matrices, strategies
from ocr_subnet.scoring.cer import character_error_rate, reading_order
from ocr_subnet.scoring.reward import DEFAULT_CONFIG, Reward, ScoringConfig, score, time_reward
from ocr_subnet.scoring.tutorial import tutorial_reward
from ocr_subnet.sections import Font, Section, lines_text
from pydantic import ValidationError

WIDTH, HEIGHT = 1275, 1650
DEADLINE = 12.0


def section(text: str, box: tuple[float, float, float, float], family: str = "Helvetica", size: float = 10.0):
    return Section(text=text, position=box, font=Font(family=family, size=size))


LABELS = [
    section("INVOICE", (100, 80, 260, 113), "Helvetica-Bold", 16),
    section("Acme Widgets LLC", (100, 140, 300, 165), "Helvetica", 12),
    section("742 Evergreen Terrace, Springfield", (100, 170, 480, 195), "Helvetica", 12),
    section("Date: 2024-03-14", (800, 140, 990, 165), "Helvetica", 12),
    section("Description", (100, 300, 240, 321), "Helvetica-Bold", 10),
    section("Qty", (700, 300, 740, 321), "Helvetica-Bold", 10),
    section("Amount", (900, 300, 990, 321), "Helvetica-Bold", 10),
    section("Blue widget, large", (100, 330, 310, 351)),
    section("3", (700, 330, 712, 351)),
    section("$1,204.50", (900, 330, 1010, 351)),
    section("Total: $1,204.50", (800, 420, 1000, 445), "Helvetica-Bold", 12),
    section("Payment due within 30 days.", (100, 500, 420, 521)),
]


def shifted(s: Section, dx: float = 0.0, dy: float = 0.0) -> Section:
    x0, y0, x1, y1 = s.position
    return s.model_copy(update={"position": (x0 + dx, y0 + dy, x1 + dx, y1 + dy)})


def reading_answer() -> list[Section]:
    """What a decent OCR engine answers: a few typos, boxes a little off, one section missed."""
    answer = [shifted(s, dx=3, dy=2) for s in LABELS[:-1]]
    answer[2] = answer[2].model_copy(update={"text": "742 Evergreen Terrace, Springfie1d"})
    answer[9] = answer[9].model_copy(update={"text": "$1,204.5O"})
    return answer


def fast(labels, predictions, config: ScoringConfig = DEFAULT_CONFIG) -> Reward:
    return score(labels, predictions, latency_s=0.2, deadline_s=DEADLINE, config=config)


# --- matrices -------------------------------------------------------------------------------


def test_iou_is_the_pixel_formula_without_plus_one():
    a = [section("a", (0, 0, 10, 10))]
    b = [section("b", (5, 0, 15, 10)), section("c", (20, 20, 30, 30)), section("d", (0, 0, 10, 10))]
    assert matrices.iou(a, b).tolist() == [[50 / 150, 0.0, 1.0]]
    assert matrices.iou(a, b, pixel_offset=1.0)[0, 0] == pytest.approx(66 / 176)


def test_iou_of_a_box_inside_another_is_the_area_ratio():
    outer = [section("a", (0, 0, 100, 100))]
    inner = [section("b", (10, 10, 20, 30))]
    assert matrices.iou(outer, inner)[0, 0] == pytest.approx(200 / 10_000)


def test_text_similarity_is_one_minus_normalized_edit_distance():
    sims = matrices.text_similarity([section("kitten", (0, 0, 1, 1))], [section("sitting", (0, 0, 1, 1))])
    assert sims[0, 0] == pytest.approx(1 - 3 / 7)


def test_font_similarity_is_family_match_and_size_ratio():
    label = [section("a", (0, 0, 1, 1), "Times-Roman", 12)]
    predictions = [
        section("a", (0, 0, 1, 1), "times-roman", 12),
        section("a", (0, 0, 1, 1), "Times-Roman", 10),
        section("a", (0, 0, 1, 1), "Courier", 6),
    ]
    similarity = matrices.font_similarity(label, predictions)[0]
    assert similarity.tolist() == pytest.approx([1.0, (1 + 10 / 12) / 2, 0.25])


def test_matrices_have_the_right_shape_when_a_side_is_empty():
    assert matrices.text_similarity(LABELS, []).shape == (len(LABELS), 0)
    assert matrices.iou([], LABELS).shape == (0, len(LABELS))
    assert matrices.font_similarity(LABELS, []).shape == (len(LABELS), 0)


# --- the reward's anchors ---------------------------------------------------------------------


def test_oracle_scores_exactly_one():
    reward = fast(LABELS, strategies.oracle(LABELS))
    assert reward.prediction == 1.0
    assert reward.total == 1.0
    assert (reward.text, reward.position, reward.font, reward.precision, reward.recall) == (1, 1, 1, 1, 1)
    assert reward.matched == len(LABELS)


@pytest.mark.parametrize(
    "config",
    [
        ScoringConfig(alpha_prediction=0.7, alpha_time=0.3),
        ScoringConfig(weight_text=0.4, weight_position=0.3, weight_font=0.3),
    ],
)
def test_oracle_scores_exactly_one_under_any_valid_weights(config):
    assert fast(LABELS, LABELS, config).total == 1.0


def test_empty_answer_scores_zero():
    reward = fast(LABELS, [])
    assert reward.prediction == 0.0
    assert reward.time == 0.0
    assert reward.total == 0.0
    assert reward.speed == 1.0


def test_no_labels_and_no_answer_is_perfect_but_any_claim_on_a_blank_page_is_not():
    assert fast([], []).prediction == 1.0
    assert fast([], LABELS[:1]).prediction == 0.0


def test_order_of_predictions_does_not_matter():
    answer = [*reading_answer()[:5], section("noise", (600, 700, 680, 720))]
    expected = fast(LABELS, answer)
    rng = random.Random(7)
    permutations = list(itertools.permutations(answer))
    for permutation in rng.sample(permutations, 60):
        reward = fast(LABELS, list(permutation))
        assert reward.model_dump() == pytest.approx(expected.model_dump(), abs=1e-12)


def test_order_of_labels_does_not_matter():
    answer = reading_answer()
    expected = fast(LABELS, answer)
    assert fast(list(reversed(LABELS)), answer).model_dump() == pytest.approx(expected.model_dump(), abs=1e-12)


def test_a_reading_answer_scores_high_and_below_the_oracle():
    reward = fast(LABELS, reading_answer())
    missed = len(LABELS[-1].text) / sum(len(s.text) for s in LABELS)  # 27 of 164 characters
    assert 0.75 < reward.prediction < 1.0 - missed  # paid by the character: the missed line costs its share
    assert reward.prediction == min(reward.recall, reward.precision)
    assert reward.matched == len(LABELS) - 1
    assert reward.precision > reward.recall  # it missed one label but claimed nothing extra


# --- what must not pay -----------------------------------------------------------------------


def test_perfect_answer_duplicated_five_times_scores_at_most_half():
    reward = fast(LABELS, strategies.duplicated(LABELS, 5))
    assert reward.prediction == pytest.approx(0.2)
    assert reward.total <= 0.5
    assert reward.recall == 1.0
    assert reward.precision == pytest.approx(0.2)


def test_every_extra_prediction_costs():
    junk = [section(f"junk {i}", (50, 600 + 30 * i, 150, 620 + 30 * i)) for i in range(10)]
    rewards = [fast(LABELS, LABELS + junk[:k]).prediction for k in range(len(junk) + 1)]
    assert all(later < earlier for earlier, later in itertools.pairwise(rewards))


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (0, 0, 1, 1)), id="stock-words-tiny-box"),
        pytest.param(
            strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (0, 0, WIDTH, HEIGHT)),
            id="stock-words-page-box",
        ),
        pytest.param(
            strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (500, 300, 700, 320)),
            id="stock-words-line-box",
        ),
        pytest.param(strategies.constant_box([s.text for s in LABELS], (0, 0, 1, 1)), id="true-text-constant-box"),
        pytest.param(strategies.whole_page_empty(WIDTH, HEIGHT), id="whole-page-empty"),
        pytest.param(strategies.true_boxes_empty_text(LABELS), id="true-boxes-empty-text"),
    ],
)
def test_answers_that_do_not_read_score_near_zero(answer):
    reward = fast(LABELS, answer)
    assert reward.total <= 0.15
    assert reward.prediction <= 0.15


@pytest.mark.parametrize(("wrong", "credit"), [(0, 1.0), (2, 0.75), (4, 0.5), (8, 0.0), (12, 0.0)])
def test_text_credit_is_floored_at_half_similarity_and_rescaled_above(wrong: int, credit: float):
    """16 characters with `wrong` of them misread: similarity 1 - wrong/16, credit (similarity - 0.5) / 0.5."""
    label = LABELS[1]  # "Acme Widgets LLC"
    misread = "".join("#" if i < wrong else c for i, c in enumerate(label.text))
    reward = fast([label], [label.model_copy(update={"text": misread})])
    assert reward.text == pytest.approx(credit)
    assert reward.prediction == pytest.approx(credit)


def test_credit_is_paid_by_the_character_and_fixed_strings_weigh_a_tenth():
    """Reading only "INVOICE" (7 of 164 characters) pays 7/164; as a fixed template string it pays a tenth of that."""
    read = [LABELS[0]]
    chars = sum(len(s.text) for s in LABELS)
    assert fast(LABELS, read).recall == pytest.approx(7 / chars)
    stocked = score(LABELS, read, 0.2, DEADLINE, stock={"INVOICE"})
    assert stocked.recall == pytest.approx(0.7 / (chars - 7 + 0.7))
    assert stocked.precision == 1.0


def test_text_read_far_from_where_it_is_drawn_earns_little():
    far = [shifted(s, dy=600) for s in LABELS]
    assert fast(LABELS, far).prediction == 0.0


def test_position_and_font_credit_need_the_text():
    reward = fast(LABELS, strategies.true_boxes_empty_text(LABELS))
    assert (reward.text, reward.position, reward.font, reward.matched) == (0.0, 0.0, 0.0, 0)


def test_the_tutorial_scorer_pays_for_what_ours_does_not():
    """The reference's defects, reproduced: duplicates are free and unread boxes earn credit."""
    duplicated = strategies.duplicated(LABELS, 5)
    assert tutorial_reward(LABELS, duplicated, 0.2, DEADLINE).prediction == 1.0
    text_at_constant_box = strategies.constant_box([s.text for s in LABELS], (0, 0, 1, 1))
    assert tutorial_reward(LABELS, text_at_constant_box, 0.2, DEADLINE).prediction > 0.5
    assert fast(LABELS, text_at_constant_box).prediction < 0.01
    assert tutorial_reward(LABELS, [], 0.2, DEADLINE).total == pytest.approx(0.2 * (1 - 0.2 / DEADLINE))


def test_tutorial_iou_has_the_plus_one():
    label = [section("a", (0, 0, 10, 10))]
    assert tutorial_reward(label, [section("a", (5, 0, 15, 10))], 0.0, DEADLINE).position == pytest.approx(66 / 176)


# --- time, totals and non-finite input --------------------------------------------------------


@pytest.mark.parametrize(
    ("latency", "expected"),
    [(0.0, 1.0), (1.0, 1.0), (6.5, 0.5), (11.9, pytest.approx(0.1 / 11)), (12.0, 0.0), (30.0, 0.0)],
)
def test_time_reward_is_one_when_fast_and_falls_to_zero_at_the_deadline(latency, expected):
    assert time_reward(latency, DEADLINE, fast_latency_s=1.0) == expected


@pytest.mark.parametrize(
    ("latency", "deadline"),
    [
        (math.nan, 12.0),
        (math.inf, 12.0),
        (-math.inf, 12.0),
        (-0.1, 12.0),
        (1.0, math.nan),
        (1.0, math.inf),
        (1.0, 0.0),
    ],
)
def test_bad_timing_earns_nothing(latency, deadline):
    assert time_reward(latency, deadline) == 0.0
    reward = score(LABELS, LABELS, latency, deadline)
    assert reward.total == 0.0
    assert all(math.isfinite(v) for v in reward.model_dump().values())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_in_unvalidated_sections_earn_zero_not_nan(bad):
    """Sections built with model_construct skip validation; the scorer must still never emit NaN."""
    forged = Section.model_construct(text="INVOICE", position=(100, 80, bad, 113), font=LABELS[0].font)
    forged_font = Section.model_construct(
        text="INVOICE", position=LABELS[0].position, font=Font.model_construct(family="Helvetica", size=bad)
    )
    for answer in ([forged], [forged_font], [*LABELS, forged]):
        reward = fast(LABELS, answer)
        assert reward.total == 0.0
        assert all(math.isfinite(v) for v in reward.model_dump().values())
    assert fast([forged], LABELS).total == 0.0


def test_time_is_paid_in_proportion_to_what_was_read():
    answer = reading_answer()
    quick, slow = (score(LABELS, answer, latency, DEADLINE) for latency in (0.2, 6.5))
    assert quick.prediction == slow.prediction
    assert quick.speed == 1.0 and slow.speed == 0.5
    assert quick.time == pytest.approx(quick.prediction)
    assert slow.total == pytest.approx(0.8 * slow.prediction + 0.2 * 0.5 * slow.prediction)
    late = score(LABELS, answer, DEADLINE + 1, DEADLINE)
    assert late.time == 0.0
    assert late.total == pytest.approx(0.8 * late.prediction)


def test_alphas_weigh_prediction_against_time():
    config = ScoringConfig(alpha_prediction=1.0, alpha_time=0.0)
    reward = score(LABELS, reading_answer(), DEADLINE + 1, DEADLINE, config)
    assert reward.total == reward.prediction


@pytest.mark.parametrize(
    "settings",
    [
        {"alpha_prediction": 0.9, "alpha_time": 0.2},
        {"alpha_prediction": 1.2, "alpha_time": -0.2},
        {"alpha_prediction": math.nan, "alpha_time": 0.2},
        {"weight_text": 0.5, "weight_position": 0.5, "weight_font": 0.5},
        {"weight_text": 1.0, "weight_position": -0.5, "weight_font": 0.5},
        {"full_credit_iou": 0.0},
        {"fast_latency_s": math.inf},
        {"unknown_knob": 1.0},
    ],
)
def test_invalid_configs_are_refused(settings):
    with pytest.raises(ValidationError):
        ScoringConfig(**settings)


def test_reward_is_frozen_and_exports_the_metric_parts():
    reward = fast(LABELS, reading_answer())
    with pytest.raises(ValidationError):
        reward.total = 1.0
    parts = reward.parts()
    assert tuple(parts) == REWARD_PARTS
    assert parts["total"] == reward.total


def test_recall_is_the_weighted_mean_of_the_parts():
    reward = fast(LABELS, reading_answer())
    weighted = 0.5 * reward.text + 0.25 * reward.position + 0.25 * reward.font
    assert reward.recall == pytest.approx(weighted)


def test_random_answers_always_give_bounded_finite_rewards():
    rng = random.Random(3)
    for _ in range(100):
        answer = []
        for _ in range(rng.randint(0, 30)):
            x0, y0 = rng.uniform(-100, WIDTH), rng.uniform(-100, HEIGHT)
            text = "".join(rng.choice("INVOICE Total 0123456789$.,") for _ in range(rng.randint(0, 20)))
            box = (x0, y0, x0 + rng.uniform(0.01, 800), y0 + rng.uniform(0.01, 80))
            answer.append(section(text, box, rng.choice(["Helvetica", "Times-Roman", "x"]), rng.uniform(0.1, 500)))
        reward = score(LABELS, answer, rng.uniform(0, 20), DEADLINE)
        assert all(0.0 <= v <= 1.0 for k, v in reward.model_dump().items() if isinstance(v, float)), reward


def test_protocol_sized_answers_are_scored_correctly():
    """~100 labels against the protocol's 1000 predictions: the matching must find the right 100."""
    rng = np.random.default_rng(0)
    labels = [
        section(
            f"item {i} ${rng.integers(1, 10_000)}.00",
            (100 + 400 * (i % 3), 50 + 16 * i, 350 + 400 * (i % 3), 64 + 16 * i),
        )
        for i in range(100)
    ]
    decoys = [
        section(f"item {rng.integers(0, 1000)}", (float(x), float(y), float(x) + 200, float(y) + 14))
        for x, y in zip(rng.uniform(0, 1000, 900), rng.uniform(0, 1600, 900), strict=True)
    ]
    answer = list(labels) + decoys
    rng.shuffle(answer)
    reward = fast(labels, answer)
    assert reward.recall == 1.0
    read = sum(len(s.text) for s in labels)
    assert reward.precision == pytest.approx(read / (read + sum(len(s.text) for s in decoys)))  # by the character
    assert reward.prediction == reward.precision


# --- character error rate -----------------------------------------------------------------------


def test_cer_ignores_how_the_page_is_split_into_sections():
    merged = [section("Description Qty Amount", (100, 300, 990, 321))]
    assert character_error_rate(LABELS[4:7], merged) == 0.0
    assert lines_text(reading_order(LABELS[4:7])) == "Description Qty Amount"


def test_cer_reads_the_answer_in_the_labels_lines():
    # staggered strings: 5.5 px apart in the labels (two lines), 4 px apart as answered (one line by its own boxes)
    labels = [section("Issued: 08.07.2024", (362, 96, 473, 106)), section("117 Roberson Roads", (61, 101, 172, 112))]
    answer = [section("Issued: 08.07.2024", (362, 97, 473, 107)), section("117 Roberson Roads", (61, 101, 172, 111))]
    own_lines = lines_text(reading_order(answer))  # the answer grouped by its own boxes
    assert own_lines == "117 Roberson Roads Issued: 08.07.2024" != lines_text(reading_order(labels))
    assert character_error_rate(labels, answer) == 0.0
    misread = [
        answer[0],
        section("117 Roberson Roads", (61, 101, 172, 111)).model_copy(update={"text": "117 Roberson Road"}),
    ]
    assert character_error_rate(labels, misread) == pytest.approx(1 / 37)
    stray = section("stray", (300, 700, 340, 712))  # overlaps no label: a line of its own, every character an error
    assert character_error_rate(labels, [*answer, stray]) == pytest.approx(len("\nstray") / 37)


def test_cer_counts_reading_errors():
    assert character_error_rate(LABELS, LABELS) == 0.0
    assert character_error_rate(LABELS, []) == 1.0
    assert 0 < character_error_rate(LABELS, reading_answer()) < 0.2  # typos + the missed line
