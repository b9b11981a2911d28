"""Scoring and statistics: reverse-scoring, favourability, Wilson and t intervals, eNPS, RHI."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveys.reporting.statistics import (
    EMPTY,
    Z_95,
    Estimate,
    change_is_significant,
    enps,
    mean_interval,
    t_quantile_95,
    wilson_interval,
)
from surveys.scoring import INDEX, NPS_SCALE, respondent_scores, scored

# Interval bounds below are worked out by hand to four or more decimals; 0.01 percentage points
# is tight enough to catch a wrong formula and loose enough for rounding in the working.
BOUND_TOLERANCE = 0.01


@dataclass(frozen=True)
class FakeItem:
    """Just the fields respondent_scores reads (satisfies scoring.ScoredItem)."""

    dimension: str
    scale: str = "agreement"
    reverse: bool = False
    in_index: bool = True


# --- scored -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reverse", "expected"),
    [
        (1, False, 1),
        (2, False, 2),
        (3, False, 3),
        (4, False, 4),
        (5, False, 5),
        # Reversed: 6 - value, so 1<->5, 2<->4 and 3 stays.
        (1, True, 5),
        (2, True, 4),
        (3, True, 3),
        (4, True, 2),
        (5, True, 1),
    ],
)
def test_scored_flips_negatively_worded_items(value: int, reverse: bool, expected: int) -> None:
    assert scored(value, reverse=reverse) == expected


@pytest.mark.parametrize("value", [0, 6, -1, 10])
@pytest.mark.parametrize("reverse", [False, True])
def test_scored_rejects_values_outside_the_scale(value: int, reverse: bool) -> None:
    with pytest.raises(ValueError, match="outside 1-5"):
        scored(value, reverse=reverse)


# --- wilson_interval ----------------------------------------------------------------------------


def test_wilson_interval_of_ten_in_twenty() -> None:
    # 10 of 20: p = 0.5, z^2 = 3.841459, so the centre stays 0.5 (symmetric) and
    # half = 1.959964 * sqrt(0.25/20 + 3.841459/1600) / (1 + 3.841459/20)
    #      = 1.959964 * sqrt(0.0125 + 0.0024009) / 1.1920730 = 1.959964 * 0.1220693 / 1.1920730
    #      = 0.200702 -> 29.93% .. 70.07%.
    interval = wilson_interval(10, 20)
    assert interval.low == pytest.approx(29.93, abs=BOUND_TOLERANCE)
    assert interval.high == pytest.approx(70.07, abs=BOUND_TOLERANCE)


@pytest.mark.parametrize(
    ("successes", "n", "value", "low", "high"),
    [
        # z^2 = 1.959964^2 = 3.841459.
        # 8/10: centre = (0.8 + 0.192073) / 1.384146 = 0.716742;
        #       half = 1.959964 * sqrt(0.016 + 0.0096036) / 1.384146
        #            = 1.959964 * 0.160011 / 1.384146 = 0.226577 -> 49.02 .. 94.33.
        (8, 10, 80.0, 49.02, 94.33),
        # 0/10: centre = half = 0.192073 / 1.384146 = 0.138766 -> 0 .. 27.75.
        (0, 10, 0.0, 0.0, 27.75),
        # 10/10 mirrors 0/10: 100 - 27.75 = 72.25 .. 100.
        (10, 10, 100.0, 72.25, 100.0),
        # 50/100: centre 0.5; half = 1.959964 * sqrt(0.0025 + 0.0000960) / 1.0384146
        #         = 1.959964 * 0.0509513 / 1.0384146 = 0.0961684 -> 40.38 .. 59.62.
        (50, 100, 50.0, 40.38, 59.62),
        # 1/1: centre = (1 + 1.920730) / 4.841459 = 0.603275;
        #      half = 1.959964 * sqrt(0 + 0.960365) / 4.841459 = 1.920730 / 4.841459 = 0.396726
        #      -> low = 1 / (1 + z^2) = 0.206549 -> 20.65 .. 100.
        (1, 1, 100.0, 20.65, 100.0),
    ],
)
def test_wilson_interval_matches_hand_computed_bounds(
    successes: int, n: int, value: float, low: float, high: float
) -> None:
    estimate = wilson_interval(successes, n)
    assert estimate.n == n
    assert estimate.value == pytest.approx(value)
    assert estimate.low == pytest.approx(low, abs=BOUND_TOLERANCE)
    assert estimate.high == pytest.approx(high, abs=BOUND_TOLERANCE)


# 0/n and n/n for these n used to leave a bound a few ulps past the estimate: centre and
# half-width are equal in exact arithmetic, not in floating point.
EXTREME_COUNTS = [(0, 3), (0, 6), (0, 7), (10, 10), (13, 13)]


@pytest.mark.parametrize(("successes", "n"), EXTREME_COUNTS)
def test_wilson_interval_is_pinned_to_the_edge_at_zero_and_one_hundred(
    successes: int, n: int
) -> None:
    estimate = wilson_interval(successes, n)
    if successes == 0:
        assert estimate.low == 0.0
    else:
        assert estimate.high == 100.0


@pytest.mark.parametrize("n", [0, -1])
def test_wilson_interval_of_nobody_is_empty(n: int) -> None:
    assert wilson_interval(0, n) == EMPTY


@pytest.mark.parametrize(("successes", "n"), [(11, 10), (2, 1), (-1, 10)])
def test_wilson_interval_rejects_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(successes, n)


@given(n=st.integers(min_value=1, max_value=100_000), data=st.data())
def test_wilson_interval_lies_within_zero_to_one_hundred(n: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=n))
    estimate = wilson_interval(successes, n)
    assert estimate.value is not None and estimate.low is not None and estimate.high is not None
    assert estimate.value == pytest.approx(100 * successes / n)
    assert 0.0 <= estimate.low <= estimate.high <= 100.0


@given(n=st.integers(min_value=2, max_value=100_000), data=st.data())
def test_wilson_interval_contains_its_estimate(n: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=n))
    estimate = wilson_interval(successes, n)
    assert estimate.value is not None and estimate.low is not None and estimate.high is not None
    assert estimate.low <= estimate.value <= estimate.high
    if 0 < successes < n:
        assert estimate.low < estimate.value < estimate.high


# --- mean_interval ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "mean", "low", "high"),
    [
        # 50, 75, 100, 25, 50: sum = 300, sum of squares = 2500 + 5625 + 10000 + 625 + 2500
        # = 21250; mean = 60; variance = (21250 - 5 * 60^2) / 4 = 3250 / 4 = 812.5;
        # sd = 28.504386; se = sqrt(812.5 / 5) = sqrt(162.5) = 12.747549;
        # half = t(4) * se = 2.776 * 12.747549 = 35.387196 -> 24.6128 .. 95.3872.
        ([50, 75, 100, 25, 50], 60.0, 24.6128, 95.3872),
        # 1, 2, 3: sum 6, squares 14, mean 2, variance (14 - 12) / 2 = 1, se = sqrt(1/3)
        # = 0.577350; half = t(2) * se = 4.303 * 0.577350 = 2.484339 -> -0.4843 .. 4.4843.
        ([1, 2, 3], 2.0, -0.4843, 4.4843),
        # 0, 100: sum 100, squares 10000, mean 50, variance (10000 - 5000) / 1 = 5000,
        # se = sqrt(2500) = 50; half = t(1) * 50 = 12.706 * 50 = 635.3 -> -585.3 .. 685.3.
        ([0, 100], 50.0, -585.3, 685.3),
        # All equal: zero variance, so the interval collapses onto the mean.
        ([4, 4, 4], 4.0, 4.0, 4.0),
    ],
)
def test_mean_interval_matches_hand_computed_t_interval(
    values: list[float], mean: float, low: float, high: float
) -> None:
    total = sum(values)
    total_sq = sum(value * value for value in values)
    estimate = mean_interval(len(values), total, total_sq)
    assert estimate.n == len(values)
    assert estimate.value == pytest.approx(mean)
    assert estimate.low == pytest.approx(low, abs=BOUND_TOLERANCE)
    assert estimate.high == pytest.approx(high, abs=BOUND_TOLERANCE)


def test_mean_interval_of_one_value_has_no_bounds() -> None:
    assert mean_interval(1, 42.0, 42.0 * 42.0) == Estimate(42.0, None, None, 1)


def test_mean_interval_of_no_values_is_empty() -> None:
    assert mean_interval(0, 0.0, 0.0) == EMPTY


@pytest.mark.parametrize(("value", "n"), [(0.1, 3), (0.2, 3), (33.3, 5)])
def test_mean_interval_survives_a_tiny_negative_variance(value: float, n: int) -> None:
    total = sum([value] * n)
    total_sq = sum([value * value] * n)
    mean = total / n
    # Guard: these sums really do give a (tiny) negative variance, so the clamp is exercised.
    assert total_sq - n * mean * mean < 0
    estimate = mean_interval(n, total, total_sq)
    assert estimate.value == pytest.approx(value)
    assert estimate.low == estimate.high == estimate.value


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=200))
def test_mean_interval_contains_the_mean(values: list[int]) -> None:
    estimate = mean_interval(len(values), sum(values), sum(v * v for v in values))
    assert estimate.value is not None and estimate.low is not None and estimate.high is not None
    assert estimate.value == pytest.approx(sum(values) / len(values))
    assert estimate.low <= estimate.value <= estimate.high


# --- t_quantile_95 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("degrees_of_freedom", "expected"),
    [(1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (20, 2.086), (29, 2.045), (30, 2.042)],
)
def test_t_quantile_95_uses_the_table_up_to_thirty(
    degrees_of_freedom: int, expected: float
) -> None:
    assert t_quantile_95(degrees_of_freedom) == expected


@pytest.mark.parametrize(
    ("degrees_of_freedom", "expected"),
    [
        # z = 1.959964, z^3 = 7.529121, z^5 = 28.92281;
        # t ~ z + (z^3 + z) / (4 df) + (5 z^5 + 16 z^3 + 3 z) / (96 df^2)
        #   = 1.959964 + 2.372271 / df + 2.822500 / df^2.
        (31, 2.0395),  # 1.959964 + 0.076525 + 0.002937 = 2.039426; printed tables say 2.0395
        (60, 2.000),  # 1.959964 + 0.039538 + 0.000784 = 2.000286
        (120, 1.980),  # 1.959964 + 0.019769 + 0.000196 = 1.979929
        (1000, 1.962),  # 1.959964 + 0.002372 + 0.000003 = 1.962339
    ],
)
def test_t_quantile_95_expansion_matches_tables_beyond_thirty(
    degrees_of_freedom: int, expected: float
) -> None:
    assert t_quantile_95(degrees_of_freedom) == pytest.approx(expected, abs=0.001)


def test_t_quantile_95_falls_steadily_toward_the_normal_quantile() -> None:
    quantiles = [t_quantile_95(df) for df in range(1, 2001)]
    # Strictly decreasing, including across the switch from table to expansion at df 30 -> 31.
    assert all(earlier > later for earlier, later in pairwise(quantiles))
    assert quantiles[-1] > Z_95
    assert quantiles[-1] == pytest.approx(Z_95, abs=0.002)


@pytest.mark.parametrize("degrees_of_freedom", [0, -1])
def test_t_quantile_95_rejects_fewer_than_one_degree_of_freedom(degrees_of_freedom: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        t_quantile_95(degrees_of_freedom)


# --- enps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "value", "low", "high"),
    [
        # 5 promoters (10 x3, 9 x2), 3 passives (8 x2, 7 x1), 2 detractors (6, 0) of 10:
        # p = 0.5, d = 0.2, score = 0.3 -> +30; variance = p + d - (p - d)^2 = 0.7 - 0.09 = 0.61;
        # half = 1.959964 * sqrt(0.61 / 10) = 1.959964 * 0.246982 = 0.484075
        # -> -18.41 .. 78.41.
        ({10: 3, 9: 2, 8: 2, 7: 1, 6: 1, 0: 1}, 30.0, -18.41, 78.41),
        # 9 promoters, 1 detractor: score 0.8; variance 1.0 - 0.64 = 0.36;
        # half = 1.959964 * sqrt(0.036) = 1.959964 * 0.189737 = 0.371877
        # -> 42.81 .. 117.19, clamped to 100.
        ({9: 9, 3: 1}, 80.0, 42.81, 100.0),
        # Mirror image: 1 promoter, 9 detractors -> -80, -117.19 clamped to -100 .. -42.81.
        ({10: 1, 5: 9}, -80.0, -100.0, -42.81),
        # 2 promoters, 2 detractors, 4 passives of 8: score 0; variance 0.5 - 0 = 0.5;
        # half = 1.959964 * sqrt(0.5 / 8) = 1.959964 * 0.25 = 0.489991 -> -49.00 .. 49.00.
        ({9: 2, 6: 2, 7: 4}, 0.0, -49.00, 49.00),
        # All detractors: p = 0, d = 1, variance 1 - 1 = 0 -> exactly -100.
        ({0: 4, 6: 6}, -100.0, -100.0, -100.0),
        # All promoters: exactly +100.
        ({9: 1, 10: 2}, 100.0, 100.0, 100.0),
        # All passives: neither promoters nor detractors -> 0 with a zero-width interval.
        ({7: 4, 8: 6}, 0.0, 0.0, 0.0),
    ],
)
def test_enps_matches_hand_computed_score_and_interval(
    counts: dict[int, int], value: float, low: float, high: float
) -> None:
    estimate = enps(counts)
    assert estimate.n == sum(counts.values())
    assert estimate.value == pytest.approx(value)
    assert estimate.low == pytest.approx(low, abs=BOUND_TOLERANCE)
    assert estimate.high == pytest.approx(high, abs=BOUND_TOLERANCE)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(0, -100.0), (6, -100.0), (7, 0.0), (8, 0.0), (9, 100.0), (10, 100.0)],
)
def test_enps_classifies_each_answer(answer: int, expected: float) -> None:
    assert enps({answer: 3}).value == expected


@pytest.mark.parametrize("counts", [{}, {5: 0, 10: 0}])
def test_enps_of_no_answers_is_empty(counts: dict[int, int]) -> None:
    assert enps(counts) == EMPTY


@pytest.mark.parametrize("counts", [{11: 1}, {-1: 2, 9: 3}, {11: 0}])
def test_enps_rejects_answers_outside_zero_to_ten(counts: dict[int, int]) -> None:
    with pytest.raises(ValueError, match="between 0 and 10"):
        enps(counts)


@given(st.dictionaries(st.integers(min_value=0, max_value=10), st.integers(0, 50), min_size=1))
def test_enps_stays_between_minus_and_plus_one_hundred(counts: dict[int, int]) -> None:
    estimate = enps(counts)
    if sum(counts.values()) == 0:
        assert estimate == EMPTY
        return
    assert estimate.value is not None and estimate.low is not None and estimate.high is not None
    assert -100.0 <= estimate.low <= estimate.value <= estimate.high <= 100.0


# --- change_is_significant ----------------------------------------------------------------------


def interval_with_standard_error(value: float, standard_error: float) -> Estimate:
    """An estimate whose interval is value +/- z * standard_error."""
    return Estimate(value, value - Z_95 * standard_error, value + Z_95 * standard_error, n=100)


def test_standard_error_is_backed_out_of_the_interval_width() -> None:
    # (60 - 40) / (2 * 1.959964) = 20 / 3.919928 = 5.102134.
    assert Estimate(50.0, 40.0, 60.0, 10).standard_error == pytest.approx(5.102134)
    assert Estimate(50.0, None, None, 1).standard_error is None
    assert EMPTY.standard_error is None


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        # Standard errors 10 / 3.919928 = 2.551 each; combined 3.608; 60 points >> 1.96 * 3.608.
        (Estimate(20.0, 15.0, 25.0, 100), Estimate(80.0, 75.0, 85.0, 100), True),
        (Estimate(80.0, 75.0, 85.0, 100), Estimate(20.0, 15.0, 25.0, 100), True),
        # 5/10 vs 6/10: Wilson intervals ~23.7..76.3 and ~31.3..83.2 overlap heavily.
        (wilson_interval(5, 10), wilson_interval(6, 10), False),
        # 8/10 vs 9/10: still well within chance.
        (wilson_interval(8, 10), wilson_interval(9, 10), False),
        # 100/1000 vs 900/1000: unmistakable.
        (wilson_interval(100, 1000), wilson_interval(900, 1000), True),
        # Standard errors 3 and 4 combine to 5, so the threshold is 1.96 * 5 = 9.8 points.
        (interval_with_standard_error(50, 3), interval_with_standard_error(59.7, 4), False),
        (interval_with_standard_error(50, 3), interval_with_standard_error(59.9, 4), True),
        (interval_with_standard_error(50, 3), interval_with_standard_error(40.1, 4), True),
        (interval_with_standard_error(50, 3), interval_with_standard_error(40.3, 4), False),
        # Zero-width intervals on both sides: any difference counts, no difference does not.
        (Estimate(50.0, 50.0, 50.0, 9), Estimate(60.0, 60.0, 60.0, 9), True),
        (Estimate(50.0, 50.0, 50.0, 9), Estimate(50.0, 50.0, 50.0, 9), False),
    ],
)
def test_change_is_significant_compares_difference_with_combined_error(
    previous: Estimate, current: Estimate, expected: bool
) -> None:
    assert change_is_significant(previous, current) is expected


@pytest.mark.parametrize(
    ("previous", "current"),
    [
        (EMPTY, Estimate(90.0, 85.0, 95.0, 100)),
        (Estimate(10.0, 5.0, 15.0, 100), EMPTY),
        (EMPTY, EMPTY),
        # A single answer has a value but no interval, so nothing can be said about change.
        (Estimate(1.0, None, None, 1), Estimate(99.0, 98.0, 100.0, 100)),
        (Estimate(1.0, 0.0, 2.0, 100), Estimate(99.0, None, None, 1)),
    ],
)
def test_change_is_not_significant_without_two_intervals(
    previous: Estimate, current: Estimate
) -> None:
    assert change_is_significant(previous, current) is False


# --- respondent_scores --------------------------------------------------------------------------

TRUST = "trust"
COMMUNICATION = "communication"
WORKLOAD = "workload"


def test_respondent_scores_hand_computed_index_and_dimensions() -> None:
    answers = [
        # trust: raw 4 -> 4 (favourable, rescaled (4-1)/4*100 = 75)
        (FakeItem(TRUST), 4),
        # trust, reversed: raw 2 -> 4 (favourable, 75)
        (FakeItem(TRUST, reverse=True), 2),
        # trust: raw 1 -> 1 (unfavourable, 0)
        (FakeItem(TRUST), 1),
        # communication, rating scale: raw 5 -> 5 (favourable, 100)
        (FakeItem(COMMUNICATION, scale="rating"), 5),
        # communication, reversed: raw 3 -> 3 (neutral, 50)
        (FakeItem(COMMUNICATION, reverse=True), 3),
        # "does not apply": in no denominator
        (FakeItem(COMMUNICATION), None),
        # recommendation 0-10: counts toward nothing (10 would not even be a valid 1-5 answer)
        (FakeItem("advocacy", scale=NPS_SCALE), 10),
    ]
    # index = (75 + 75 + 0 + 100 + 50) / 5 = 300 / 5 = 60
    # trust = 2 favourable of 3 -> 66.67; communication = 1 of 2 (None excluded) -> 50
    assert respondent_scores(answers) == pytest.approx(
        {INDEX: 60.0, TRUST: 200 / 3, COMMUNICATION: 50.0}
    )


@pytest.mark.parametrize(
    ("raw", "reverse", "index", "dimension"),
    [
        # Rescaled: (scored - 1) / 4 * 100; favourable when scored >= 4.
        (1, False, 0.0, 0.0),
        (2, False, 25.0, 0.0),
        (3, False, 50.0, 0.0),
        (4, False, 75.0, 100.0),
        (5, False, 100.0, 100.0),
        (1, True, 100.0, 100.0),
        (2, True, 75.0, 100.0),
        (3, True, 50.0, 0.0),
        (4, True, 25.0, 0.0),
        (5, True, 0.0, 0.0),
    ],
)
def test_respondent_scores_rescale_a_single_answer(
    raw: int, reverse: bool, index: float, dimension: float
) -> None:
    assert respondent_scores([(FakeItem(TRUST, reverse=reverse), raw)]) == pytest.approx(
        {INDEX: index, TRUST: dimension}
    )


def test_respondent_scores_count_non_index_items_only_toward_their_dimension() -> None:
    answers = [
        (FakeItem(TRUST), 5),  # index 100, trust favourable
        (FakeItem(TRUST), 3),  # index 50, trust not favourable
        (FakeItem(WORKLOAD, in_index=False), 1),  # workload unfavourable, not in index
        (FakeItem(WORKLOAD, in_index=False, reverse=True), 1),  # raw 1 -> 5: favourable
        (FakeItem(TRUST, in_index=False), 1),  # trust unfavourable, not in index
    ]
    # index = (100 + 50) / 2 = 75 (the two 1s outside the index would pull it down)
    # trust = 1 favourable of 3 -> 33.33; workload = 1 of 2 -> 50
    assert respondent_scores(answers) == pytest.approx(
        {INDEX: 75.0, TRUST: 100 / 3, WORKLOAD: 50.0}
    )


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # Only non-index items answered: dimensions but no index.
        ([(FakeItem(WORKLOAD, in_index=False), 4)], {WORKLOAD: 100.0}),
        # Index items answered "does not apply": neither index nor their dimension.
        (
            [(FakeItem(TRUST), None), (FakeItem(WORKLOAD, in_index=False), 2)],
            {WORKLOAD: 0.0},
        ),
        # Nothing applicable at all.
        ([(FakeItem(TRUST), None), (FakeItem("advocacy", scale=NPS_SCALE), 0)], {}),
        ([], {}),
    ],
)
def test_respondent_scores_omit_what_was_not_answered(
    answers: list[tuple[FakeItem, int | None]], expected: dict[str, float]
) -> None:
    assert respondent_scores(answers) == expected


@pytest.mark.parametrize("raw", [0, 6])
def test_respondent_scores_reject_out_of_scale_answers(raw: int) -> None:
    with pytest.raises(ValueError):
        respondent_scores([(FakeItem(TRUST), raw)])
