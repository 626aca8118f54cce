"""Our reward on real generated challenges (difficulty 1): reading pays, every shortcut does not.

Scored as the validator scores (`stock=challenge.stock`: the generator's fixed strings weigh less).

The same answers under the tutorial's scorer show the defects we fixed: there, boxes without
text, duplicates and stock words all earn real reward.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from ocr_subnet.challenge.api import Challenge
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.scoring import strategies
from ocr_subnet.scoring.reward import Reward, ScoringConfig, score
from ocr_subnet.scoring.tutorial import tutorial_reward
from ocr_subnet.sections import Section

SEEDS = (1, 2, 3, 4, 5)
TRAINING_SEEDS = range(1000, 1030)  # what an attacker studied: disjoint from the scored seeds
DEADLINE = 12.0
INSTANT = 0.01  # gaming answers cost nothing to compute, so they always earn full speed

Strategy = Callable[[Challenge], list[Section]]


def pay(challenge: Challenge, answer: list[Section], latency: float = INSTANT) -> Reward:
    return score(challenge.sections, answer, latency, DEADLINE, stock=challenge.stock)


@pytest.fixture(scope="module")
def challenges() -> list[Challenge]:
    return [generate_challenge(seed, difficulty=1) for seed in SEEDS]


@pytest.fixture(scope="module")
def learned() -> list[Section]:
    return strategies.learned_layout(generate_challenge(seed, 1).sections for seed in TRAINING_SEEDS)


def non_reading_strategies(learned: list[Section]) -> dict[str, Strategy]:
    learned_texts = [s.text for s in learned]
    pool = [s.text for seed in TRAINING_SEEDS[:5] for s in generate_challenge(seed, 1).sections]
    return {
        "true boxes, other invoices' text of the same length": lambda c: strategies.plausible_text(
            c.sections, pool, np.random.default_rng(c.seed)
        ),
        "stock words, tiny box": lambda c: strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (0, 0, 1, 1)),
        "stock words, page box": lambda c: strategies.constant_box(
            strategies.STOCK_INVOICE_WORDS, (0, 0, c.width, c.height)
        ),
        "stock words, line box": lambda c: strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (40, 100, 200, 111)),
        "learned words, line box": lambda c: strategies.constant_box(learned_texts, (40, 100, 200, 111)),
        "learned words at learned boxes": lambda c: learned,
        "whole page, empty text": lambda c: strategies.whole_page_empty(c.width, c.height),
        "true boxes, empty text": lambda c: strategies.true_boxes_empty_text(c.sections),
    }


def test_the_challenges_are_real_invoices(challenges):
    for challenge in challenges:
        assert challenge.difficulty == 1
        assert len(challenge.sections) >= 20


def test_oracle_scores_exactly_one_on_every_challenge(challenges):
    for challenge in challenges:
        reward = pay(challenge, strategies.oracle(challenge.sections))
        assert reward.prediction == 1.0
        assert reward.total == 1.0


def test_empty_answer_scores_zero_on_every_challenge(challenges):
    for challenge in challenges:
        assert score(challenge.sections, [], INSTANT, DEADLINE).total == 0.0


def test_every_non_reading_strategy_earns_at_most_0_02(challenges, learned):
    assert len(learned) >= 20  # the attacker did learn a dictionary of recurring strings
    for name, strategy in non_reading_strategies(learned).items():
        for challenge in challenges:
            reward = pay(challenge, strategy(challenge))
            assert reward.prediction <= 0.02, (name, challenge.seed, reward)
            assert reward.total <= 0.02, (name, challenge.seed, reward)


def test_text_of_the_right_length_in_the_right_box_earns_nothing_below_the_similarity_floor(challenges):
    """Near misses: with the floor gone (text_floor=0) the same unread strings earned credit."""
    pool = [s.text for seed in TRAINING_SEEDS[:5] for s in generate_challenge(seed, 1).sections]
    for challenge in challenges:
        answer = strategies.plausible_text(challenge.sections, pool, np.random.default_rng(challenge.seed))
        assert pay(challenge, answer).text == 0.0
        unfloored = ScoringConfig(text_floor=0.0)
        assert score(challenge.sections, answer, INSTANT, DEADLINE, unfloored, challenge.stock).text > 0.02


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75])
def test_reading_part_of_the_page_pays_no_more_than_that_part(challenges, fraction):
    """Half the page read perfectly earns at most 55% of full (F1 paid 2f/(1+f): 67% for half), and two
    hotkeys splitting a page earn no more together than one reading it whole."""
    for challenge in challenges:
        labels = challenge.sections
        part = strategies.top_part(labels, fraction, challenge.stock)
        rest = [s for s in labels if s not in part]
        read = pay(challenge, part).total
        assert fraction - 0.1 < read <= fraction + 1e-9, (challenge.seed, read)
        assert read + pay(challenge, rest).total <= 1.0 + 1e-9, challenge.seed


def test_a_perfect_answer_duplicated_five_times_scores_at_most_half(challenges):
    for challenge in challenges:
        reward = pay(challenge, strategies.duplicated(challenge.sections, 5))
        assert reward.total <= 0.5
        assert reward.recall == 1.0


def test_the_tutorial_scorer_pays_for_the_same_shortcuts(challenges, learned):
    """Why we replaced it: each of these earns real reward there."""
    for challenge in challenges:
        labels = challenge.sections
        assert tutorial_reward(labels, strategies.duplicated(labels, 5), INSTANT, DEADLINE).prediction == 1.0
        boxes_only = tutorial_reward(labels, strategies.true_boxes_empty_text(labels), INSTANT, DEADLINE)
        assert boxes_only.prediction > 0.6
        assert tutorial_reward(labels, learned, INSTANT, DEADLINE).total > 0.3
        assert tutorial_reward(labels, [], INSTANT, DEADLINE).total > 0.19
