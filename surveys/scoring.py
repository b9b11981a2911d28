"""Pure scoring: what a score is, shared by the rollups and the reports (no I/O).

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
- A respondent's outcome scores (what key drivers explain) are their recommendation answer
  (0-10, times 10) and their overall rating (rescaled like the index), each 0-100. What key
  drivers correlate with them is the respondent's *mean* answer in each dimension, rescaled
  like the index: a share favourable of one or two answers is only 0, 50 or 100 and would
  understate how closely a dimension goes with an outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

LIKERT_POINTS = 5
FAVOURABLE_MIN = 4
PROMOTER_MIN = 9
DETRACTOR_MAX = 6
NPS_SCALE = "nps"
INDEX = "index"
# Sections whose items say how the respondent works with someone: a staff group, or patients.
GROUPS_SECTION = "groups"
PATIENTS = "patients"
# The outcomes key drivers explain: dimension keys of the built-in instrument (the
# recommendation question and the overall rating). Each has its own sums in the score rollup.
RECOMMENDATION = "enps"
OVERALL = "overall"
OUTCOMES = (RECOMMENDATION, OVERALL)
NPS_POINTS = 10


class ScoredItem(Protocol):
    """What scoring needs to know about a question (read-only, so frozen records fit)."""

    @property
    def dimension(self) -> str: ...
    @property
    def scale(self) -> str: ...
    @property
    def reverse(self) -> bool: ...
    @property
    def in_index(self) -> bool: ...


def scored(value: int, *, reverse: bool, points: int = LIKERT_POINTS) -> int:
    """The value as scored: negatively worded items are flipped so that high is good."""
    if not 1 <= value <= points:
        raise ValueError(f"value {value} is outside 1-{points}")
    return points + 1 - value if reverse else value


def rescale(score: float, points: int = LIKERT_POINTS) -> float:
    """Map a 1..points score onto 0-100."""
    return (score - 1) / (points - 1) * 100


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


def outcome_scores(answers: Iterable[tuple[ScoredItem, int | None]]) -> dict[str, float]:
    """One respondent's outcome scores (0-100) from (item, raw value) pairs: the mean over
    each outcome's answered items, a 0-10 answer times 10 and a 1-5 answer rescaled; an
    outcome is absent when the respondent answered none of its items."""
    values: dict[str, list[float]] = {}
    for item, value in answers:
        if value is None or item.dimension not in OUTCOMES:
            continue
        if item.scale == NPS_SCALE:
            score = value * 100 / NPS_POINTS
        else:
            score = rescale(scored(value, reverse=item.reverse))
        values.setdefault(item.dimension, []).append(score)
    return {outcome: sum(scores) / len(scores) for outcome, scores in values.items()}


def respondent_means(answers: Iterable[tuple[ScoredItem, int | None]]) -> dict[str, float]:
    """One respondent's mean scored answer (rescaled 0-100) in each dimension and, as the
    index, over index items: the x of key drivers. Absent where `respondent_scores` is."""
    totals: dict[str, list[float]] = {}
    for item, value in answers:
        if value is None or item.scale == NPS_SCALE:
            continue
        score = rescale(scored(value, reverse=item.reverse))
        totals.setdefault(item.dimension, []).append(score)
        if item.in_index:
            totals.setdefault(INDEX, []).append(score)
    return {measure: sum(values) / len(values) for measure, values in totals.items()}
