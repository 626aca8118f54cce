"""Yuma-style consensus on inputs small enough to check by hand."""

from __future__ import annotations

import pytest
from ocr_subnet.chain.consensus import consensus_weight, incentive, normalize, validator_permits


def test_permits_go_to_the_top_stakes_with_ties_to_the_lower_uid():
    stakes = {0: 10.0, 1: 50.0, 2: 30.0, 3: 30.0, 4: 0.0}

    assert validator_permits(stakes, 2) == {1, 2}
    assert validator_permits(stakes, 3) == {1, 2, 3}


def test_zero_stake_never_gets_a_permit():
    assert validator_permits({0: 0.0, 1: 0.0, 2: 5.0}, 8) == {2}


def test_normalize_drops_zeros_and_sums_to_one():
    assert normalize({0: 1.0, 1: 3.0, 2: 0.0}) == {0: 0.25, 1: 0.75}
    assert normalize({0: 0.0}) == {}


def test_consensus_weight_is_the_stake_weighted_median_from_above():
    # 40% of stake says 1.0, 35% says 0.2, 25% says 0.2: a majority only backs 0.2.
    assert consensus_weight([(1.0, 0.4), (0.2, 0.35), (0.2, 0.25)]) == 0.2
    # 60% of stake agrees on 0.5.
    assert consensus_weight([(0.5, 0.6), (0.9, 0.1), (0.0, 0.3)]) == 0.5
    assert consensus_weight([]) == 0.0


def test_agreeing_validators_split_incentive_as_they_weighted():
    weights = {0: {2: 1.0, 3: 3.0}, 1: {2: 1.0, 3: 3.0}}
    stakes = {0: 60.0, 1: 40.0}

    assert incentive(weights, stakes) == pytest.approx({2: 0.25, 3: 0.75})


def test_a_lone_validator_cannot_inflate_its_favourite():
    """Stakes 40/35/25: the largest validator gives everything to uid 3, the others prefer uid 4.

    Consensus for uid 3 is 0.2 (only 40% of stake backs more), for uid 4 it is 0.8; ranks are
    0.4*0.2 + 0.35*0.2 + 0.25*0.2 = 0.2 and 0.35*0.8 + 0.25*0.8 = 0.48.
    """
    weights = {0: {3: 1.0}, 1: {3: 0.2, 4: 0.8}, 2: {3: 0.2, 4: 0.8}}
    stakes = {0: 40.0, 1: 35.0, 2: 25.0}

    assert incentive(weights, stakes) == pytest.approx({3: 0.2 / 0.68, 4: 0.48 / 0.68})


def test_an_outlier_minority_gets_nothing_through():
    weights = {0: {3: 1.0}, 1: {3: 1.0}, 2: {5: 1.0}}
    stakes = {0: 60.0, 1: 30.0, 2: 10.0}

    assert incentive(weights, stakes) == pytest.approx({3: 1.0, 5: 0.0})


def test_rows_are_normalized_before_voting():
    assert incentive({0: {1: 10.0, 2: 30.0}}, {0: 1.0}) == pytest.approx({1: 0.25, 2: 0.75})


def test_validators_without_stake_or_weights_do_not_vote():
    weights = {0: {2: 1.0}, 1: {3: 1.0}, 4: {}}
    stakes = {0: 10.0, 1: 0.0, 4: 100.0}

    assert incentive(weights, stakes) == pytest.approx({2: 1.0})


def test_no_votes_means_no_incentive():
    assert incentive({}, {}) == {}
    assert incentive({0: {1: 0.0}}, {0: 5.0}) == {}
