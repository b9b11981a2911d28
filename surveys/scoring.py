"""Pure scoring: answers and answer counts in, scores and 95% intervals out (no I/O).

Conventions used throughout Attune:
- Agreement and rating items are scored 1-5 after reverse-scoring negatively worded items.
- Favourable means 4 or 5 after reverse-scoring; "does not apply" is left out of every
  denominator.
- The Relationship Health Index (RHI) of one respondent is the mean of their scored answers on
  index items, rescaled so that 1 -> 0 and 5 -> 100; a group's RHI is the mean over respondents.
- A respondent's dimension score is the share of their applicable answers in that dimension
  that are favourable (0-100); a group's dimension score is the mean over respondents, so
  every respondent weighs the same whatever the number of items they answered.
- eNPS is % promoters (9-10) minus % detractors (0-6), from -100 to 100.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

LIKERT_POINTS = 5
FAVOURABLE_MIN = 4
NEUTRAL = 3
PROMOTER_MIN = 9
DETRACTOR_MAX = 6
NPS_SCALE = "nps"
INDEX = "index"
# Sections whose items say how the respondent works with someone: a staff group, or patients.
GROUPS_SECTION = "groups"
PATIENTS = "patients"
Z_95 = 1.959963984540054

# Two-sided 95% Student t quantiles for 1-30 degrees of freedom; beyond that an expansion
# around the normal quantile is accurate to the third decimal.
_T_95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


class ScoredItem(Protocol):
    """What scoring needs to know about a question."""

    dimension: str
    scale: str
    reverse: bool
    in_index: bool


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval; `value` is None when nothing was measured."""

    value: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def standard_error(self) -> float | None:
        if self.value is None or self.low is None or self.high is None:
            return None
        return (self.high - self.low) / (2 * Z_95)


EMPTY = Estimate(None, None, None, 0)


@dataclass(frozen=True)
class ItemSummary:
    """Everything the dashboard shows about one agreement or rating item."""

    n: int
    not_applicable: int
    mean: float | None
    percent_favourable: Estimate
    percent_neutral: float | None
    percent_unfavourable: float | None
    distribution: dict[int, int]


def t_quantile_95(degrees_of_freedom: int) -> float:
    if degrees_of_freedom < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if degrees_of_freedom <= len(_T_95):
        return _T_95[degrees_of_freedom - 1]
    z, df = Z_95, degrees_of_freedom
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def scored(value: int, *, reverse: bool, points: int = LIKERT_POINTS) -> int:
    """The value as scored: negatively worded items are flipped so that high is good."""
    if not 1 <= value <= points:
        raise ValueError(f"value {value} is outside 1-{points}")
    return points + 1 - value if reverse else value


def rescale(score: float, points: int = LIKERT_POINTS) -> float:
    """Map a 1..points score onto 0-100."""
    return (score - 1) / (points - 1) * 100


def wilson_interval(successes: int, n: int) -> Estimate:
    """A proportion in percent with its Wilson 95% interval (sound near 0% and 100%)."""
    if not 0 <= successes <= max(n, 0):
        raise ValueError("successes must lie between 0 and n")
    if n <= 0:
        return EMPTY
    p = successes / n
    z2 = Z_95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # At 0% and 100% rounding can leave the bound a hair on the wrong side of the estimate.
    low = max(0.0, min(p, centre - half))
    high = min(1.0, max(p, centre + half))
    return Estimate(100 * p, 100 * low, 100 * high, n)


def mean_interval(n: int, total: float, total_sq: float) -> Estimate:
    """Mean of n values given their sum and sum of squares, with a t-based 95% interval."""
    if n <= 0:
        return EMPTY
    mean = total / n
    if n == 1:
        return Estimate(mean, None, None, 1)
    # Clamp tiny negative variances that floating-point sums can produce.
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    half = t_quantile_95(n - 1) * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half, n)


def item_summary(
    counts: Mapping[int, int], *, reverse: bool, not_applicable: int = 0
) -> ItemSummary:
    """Summarise a 1-5 item from how many answers each raw value received."""
    scored_counts = {
        scored(value, reverse=reverse): count for value, count in counts.items() if count
    }
    n = sum(scored_counts.values())
    distribution = {value: scored_counts.get(value, 0) for value in range(1, LIKERT_POINTS + 1)}
    if n == 0:
        return ItemSummary(0, not_applicable, None, EMPTY, None, None, distribution)
    favourable = sum(c for v, c in scored_counts.items() if v >= FAVOURABLE_MIN)
    neutral = scored_counts.get(NEUTRAL, 0)
    return ItemSummary(
        n=n,
        not_applicable=not_applicable,
        mean=sum(v * c for v, c in scored_counts.items()) / n,
        percent_favourable=wilson_interval(favourable, n),
        percent_neutral=100 * neutral / n,
        percent_unfavourable=100 * (n - favourable - neutral) / n,
        distribution=distribution,
    )


def percent_favourable(counts: Mapping[int, int], *, reverse: bool) -> Estimate:
    return item_summary(counts, reverse=reverse).percent_favourable


def enps(counts: Mapping[int, int]) -> Estimate:
    """Employee Net Promoter Score from 0-10 answer counts, with a 95% interval."""
    if any(not 0 <= value <= 10 for value in counts):
        raise ValueError("eNPS answers must lie between 0 and 10")
    n = sum(counts.values())
    if n == 0:
        return EMPTY
    promoters = sum(c for v, c in counts.items() if v >= PROMOTER_MIN) / n
    detractors = sum(c for v, c in counts.items() if v <= DETRACTOR_MAX) / n
    score = promoters - detractors
    # Variance of a difference of two multinomial shares from the same sample.
    variance = promoters + detractors - score * score
    half = Z_95 * math.sqrt(max(0.0, variance) / n)
    return Estimate(100 * score, 100 * max(-1.0, score - half), 100 * min(1.0, score + half), n)


def change_is_significant(previous: Estimate, current: Estimate) -> bool:
    """Whether the change between two independent estimates is beyond chance at 95%."""
    se_previous, se_current = previous.standard_error, current.standard_error
    if previous.value is None or current.value is None:
        return False
    if se_previous is None or se_current is None:
        return False
    combined = math.hypot(se_previous, se_current)
    if combined == 0:
        return previous.value != current.value
    return abs(current.value - previous.value) > Z_95 * combined


def relationship_target(section: str, about_group_id: int | None) -> str | None:
    """Which relationship an item measures, as the key the relationship matrix uses:
    `group:<id>` for the staff group it asks about, `patients`, or None for any other item."""
    if section == GROUPS_SECTION and about_group_id is not None:
        return f"group:{about_group_id}"
    if section == PATIENTS:
        return PATIENTS
    return None


def respondent_scores(answers: Iterable[tuple[ScoredItem, int | None]]) -> dict[str, float]:
    """One respondent's index and dimension scores (0-100) from (item, raw value) pairs.

    Answers of None ("does not apply") and 0-10 recommendation answers count toward nothing
    here; a dimension or the index is absent when the respondent answered none of its items.
    """
    index_scores: list[float] = []
    favourable: dict[str, int] = {}
    applicable: dict[str, int] = {}
    for item, value in answers:
        if value is None or item.scale == NPS_SCALE:
            continue
        score = scored(value, reverse=item.reverse)
        if item.in_index:
            index_scores.append(rescale(score))
        applicable[item.dimension] = applicable.get(item.dimension, 0) + 1
        favourable[item.dimension] = favourable.get(item.dimension, 0) + (score >= FAVOURABLE_MIN)
    result = {
        dimension: 100 * favourable[dimension] / count for dimension, count in applicable.items()
    }
    if index_scores:
        result[INDEX] = sum(index_scores) / len(index_scores)
    return result
