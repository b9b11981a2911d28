"""Estimates with 95% intervals (means, shares, eNPS, correlations), and the one test of
whether a change is beyond chance.

Every interval and significance test a report shows comes from here, each written once; the
array forms do the same arithmetic for a whole heatmap or trend at once. What a score *is*
(reverse-scoring, favourable, the index) is `surveys.scoring`, shared with the rollups.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from surveys.scoring import DETRACTOR_MAX, PROMOTER_MIN

Z_95 = 1.959963984540054

# Two-sided 95% Student t quantiles for 1-30 degrees of freedom; beyond that an expansion
# around the normal quantile is accurate to the third decimal.
_T_95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


class Interval(Protocol):
    """A value with its 95% bounds: an Estimate, or a Figure as reports show it."""

    @property
    def value(self) -> float | None: ...

    @property
    def low(self) -> float | None: ...

    @property
    def high(self) -> float | None: ...


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval; `value` is None when nothing was measured."""

    value: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def standard_error(self) -> float | None:
        return _standard_error(self)


EMPTY = Estimate(None, None, None, 0)


def _standard_error(estimate: Interval) -> float | None:
    if estimate.value is None or estimate.low is None or estimate.high is None:
        return None
    return (estimate.high - estimate.low) / (2 * Z_95)


def t_quantile_95(degrees_of_freedom: int) -> float:
    if degrees_of_freedom < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if degrees_of_freedom <= len(_T_95):
        return _T_95[degrees_of_freedom - 1]
    z, df = Z_95, degrees_of_freedom
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def _wilson(share: float, n: int) -> Estimate:
    """A share (0-1) of n observations in percent, with its Wilson 95% interval."""
    z2 = Z_95**2
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # At 0% and 100% rounding can leave the bound a hair on the wrong side of the estimate.
    low = max(0.0, min(share, centre - half))
    high = min(1.0, max(share, centre + half))
    return Estimate(100 * share, 100 * low, 100 * high, n)


def wilson_interval(successes: int, n: int) -> Estimate:
    """A proportion in percent with its Wilson 95% interval (sound near 0% and 100%)."""
    if not 0 <= successes <= max(n, 0):
        raise ValueError("successes must lie between 0 and n")
    if n <= 0:
        return EMPTY
    return _wilson(successes / n, n)


def pooled_percent_favourable(favourable: int, applicable: int, items: int) -> Estimate:
    """% favourable over a set of items each respondent answers several of.

    The interval is a Wilson interval on the number of respondents behind the set (answers
    per item), not on the number of answers: one person's answers about the same group move
    together, and counting each as a separate observation would overstate the precision.
    """
    if applicable <= 0:
        return EMPTY
    respondents = max(1, round(applicable / max(1, items)))
    return _wilson(favourable / applicable, respondents)


def mean_interval(n: int, total: float, total_sq: float) -> Estimate:
    """Mean of n values given their sum and sum of squares, with a t-based 95% interval."""
    if n <= 0:
        return EMPTY
    mean, low, high = mean_intervals(
        np.asarray([n], dtype=np.float64),
        np.asarray([total], dtype=np.float64),
        np.asarray([total_sq], dtype=np.float64),
    )
    if n == 1:
        return Estimate(float(mean[0]), None, None, 1)
    return Estimate(float(mean[0]), float(low[0]), float(high[0]), n)


def mean_intervals(
    n: np.ndarray, total: np.ndarray, total_sq: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means and t-based 95% bounds of many groups at once, from their n, sums and sums of
    squares (bounds are NaN where n is 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / n
        degrees = np.maximum(n - 1, 0).astype(np.int64)
        quantiles = np.full(int(degrees.max(initial=0)) + 1, np.nan)
        for df in np.unique(degrees[degrees >= 1]).tolist():
            quantiles[df] = t_quantile_95(df)
        # Clamp tiny negative variances that floating-point sums can produce.
        variance = np.maximum(0.0, (total_sq - n * mean * mean) / (n - 1))
        half = quantiles[degrees] * np.sqrt(variance / n)
    return mean, mean - half, mean + half


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


def change_is_significant(previous: Interval, current: Interval) -> bool:
    """Whether the change between two independent estimates is beyond chance at 95%."""
    se_previous, se_current = _standard_error(previous), _standard_error(current)
    if previous.value is None or current.value is None:
        return False
    if se_previous is None or se_current is None:
        return False
    return bool(
        changes_are_significant(
            np.asarray([current.value - previous.value]),
            np.asarray([se_previous]),
            np.asarray([se_current]),
        )[0]
    )


def changes_are_significant(
    change: np.ndarray, se_previous: np.ndarray, se_current: np.ndarray
) -> np.ndarray:
    """`change_is_significant` for many changes at once; False where an error is NaN."""
    combined = np.hypot(se_previous, se_current)
    with np.errstate(invalid="ignore"):
        significant = np.where(combined == 0, change != 0, np.abs(change) > Z_95 * combined)
    return significant & ~np.isnan(combined)


def standard_errors(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Standard errors from 95% bounds (NaN where there are none)."""
    return (high - low) / (2 * Z_95)


def correlations(
    n: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    xx: np.ndarray,
    yy: np.ndarray,
    xy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson correlations of many groups at once from their n and sums of x, y, x², y² and
    xy, with 95% bounds from Fisher's z (NaN where n is below 4 or either side never varies)."""
    n, x, y, xx, yy, xy = (np.asarray(v, dtype=np.float64) for v in (n, x, y, xx, yy, xy))
    with np.errstate(divide="ignore", invalid="ignore"):
        spread_x = n * xx - x * x
        spread_y = n * yy - y * y
        # Relative to the sums, a spread this small is rounding, not variation.
        flat = (spread_x <= 1e-9 * np.maximum(1.0, n * xx)) | (
            spread_y <= 1e-9 * np.maximum(1.0, n * yy)
        )
        r = np.clip((n * xy - x * y) / np.sqrt(spread_x * spread_y), -1.0, 1.0)
        r = np.where(flat | (n < 4), np.nan, r)
        z = np.arctanh(np.clip(r, -0.9999999, 0.9999999))
        half = Z_95 / np.sqrt(n - 3)
        low, high = np.tanh(z - half), np.tanh(z + half)
    return r, np.where(np.isnan(r), np.nan, low), np.where(np.isnan(r), np.nan, high)


def correlation_interval(n: int, x: float, y: float, xx: float, yy: float, xy: float) -> Estimate:
    """`correlations` for one group: r with its Fisher-z 95% interval, or EMPTY."""
    r, low, high = correlations(*(np.asarray([v], dtype=np.float64) for v in (n, x, y, xx, yy, xy)))
    if np.isnan(r[0]):
        return EMPTY
    return Estimate(float(r[0]), float(low[0]), float(high[0]), int(n))
