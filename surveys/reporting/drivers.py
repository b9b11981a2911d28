"""Key drivers: which dimensions go together most closely with the outcomes.

For one cycle and a selection, each relationship dimension's *impact* is the correlation,
across respondents, between their mean answer in the dimension and an outcome (whether they
would recommend working here, or their overall rating), with a 95% interval from Fisher's z.
It is computed from the sums the score rollup keeps with every submission (n, x, y, x², y²,
xy per cell), added up through the one release path like every other figure: only whole
atoms, and only where at least `ATTUNE_MIN_DRIVER_GROUP_SIZE` respondents stand behind it.

Correlation, not cause: a dimension that goes with recommending the workplace is a place to
look, not proof that improving it would change how people feel.
"""

from __future__ import annotations

import statistics as stats
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.figures import Figure, missing, score_figures
from surveys.reporting.reference import DimensionInfo, Reference
from surveys.reporting.release import AtomTable, atoms_of, release
from surveys.reporting.scope import Filters, Selection
from surveys.reporting.source import DriverSource, open_source
from surveys.reporting.statistics import correlations
from surveys.scoring import OUTCOMES, OVERALL, RECOMMENDATION

OUTCOME_LABELS = {RECOMMENDATION: "Would recommend working here", OVERALL: "Overall rating"}
# A correlation of 0.3 or more is "moderate" or stronger (Cohen); a strong driver also has
# its whole 95% interval above zero.
STRONG_CORRELATION = 0.3

STRONG_HIGH = "strong and high"
STRONG_LOW = "strong and low (focus here)"
WEAKER_HIGH = "weaker and high"
WEAKER_LOW = "weaker and low"
QUADRANTS = (STRONG_HIGH, STRONG_LOW, WEAKER_HIGH, WEAKER_LOW)

HELP = (
    "Impact is the correlation, across the people who answered, between how they answered a "
    "dimension and the outcome: 1 means they always move together, 0 not at all. It is "
    "correlation, not cause: a strong driver is a good place to look, not proof that "
    "improving it would change the outcome. Strong means a correlation of at least "
    f"{STRONG_CORRELATION} with its whole 95% interval above zero; high means a score at or "
    "above the middle of these dimensions' scores."
)


@dataclass(frozen=True)
class DriverFigure:
    """One dimension: its score (% favourable, as the overview shows it), its impact on the
    outcome (a correlation from -1 to 1, with its 95% interval), and its quadrant ("" when
    either is not shown)."""

    key: str
    label: str
    score: Figure
    impact: Figure
    quadrant: str

    @property
    def strong(self) -> bool:
        return is_strong(self.impact)


@dataclass(frozen=True)
class KeyDrivers:
    """Key drivers of one outcome for one cycle and selection."""

    cycle_id: int
    cycle: str
    outcome: str
    outcome_label: str
    drivers: tuple[DriverFigure, ...]  # shown ones strongest first, then the others
    high_from: float | None  # the middle score: "high" at or above it
    minimum: int  # ATTUNE_MIN_DRIVER_GROUP_SIZE

    @property
    def shows_nothing(self) -> bool:
        return all(driver.impact.suppressed for driver in self.drivers)

    @property
    def note(self) -> str:
        return (
            f"Key drivers need at least {self.minimum} people in the selection who answered "
            "both the dimension and the outcome."
        )

    @property
    def shown(self) -> tuple[DriverFigure, ...]:
        """The drivers the chart draws (score and impact both shown), strongest first: the
        chart numbers them in this order, and `legend` lists them."""
        return tuple(driver for driver in self.drivers if driver.quadrant)

    def legend(self) -> pd.DataFrame:
        """The chart's numbered points as a table, for a phone and for screen readers."""
        return pd.DataFrame(
            [
                {
                    "#": number,
                    "Dimension": driver.label,
                    "Score": f"{driver.score.value:.0f}%",
                    "Impact": f"{driver.impact.value:.2f}",
                    "Where": driver.quadrant,
                    "95% interval": f"{driver.impact.low:.2f} to {driver.impact.high:.2f}",
                }
                for number, driver in enumerate(self.shown, start=1)
            ],
            columns=["#", "Dimension", "Score", "Impact", "Where", "95% interval"],
        )

    def table(self) -> pd.DataFrame:
        rows = [
            {
                "cycle": self.cycle,
                "outcome": self.outcome_label,
                "dimension": driver.label,
                "score": driver.score.value,
                "impact": driver.impact.value,
                "impact_low": driver.impact.low,
                "impact_high": driver.impact.high,
                "n": None if driver.impact.suppressed else driver.impact.n,
                "quadrant": driver.quadrant,
                "suppressed": driver.impact.suppressed,
                "note": driver.impact.note,
            }
            for driver in self.drivers
        ]
        return pd.DataFrame(rows)


def is_strong(impact: Figure) -> bool:
    """A strong driver: a correlation of at least STRONG_CORRELATION, interval above zero."""
    return (
        not impact.suppressed
        and impact.value is not None
        and impact.low is not None
        and impact.value >= STRONG_CORRELATION
        and impact.low > 0
    )


def driver_dimensions(reference: Reference) -> list[DimensionInfo]:
    """The dimensions key drivers rank: the relationship dimensions, never an outcome."""
    return [d for d in reference.dimensions if d.in_index and d.key not in OUTCOMES]


def key_drivers(
    data: Engine | DriverSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
    outcome: str = RECOMMENDATION,
) -> KeyDrivers:
    """Each relationship dimension's score and its impact on `outcome` ("enps": would
    recommend working here, or "overall": the overall rating), for one cycle."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    with open_source(data) as opened:
        source = cast(DriverSource, opened)
        reference = source.reference()
        cycle = reference.cycle(cycle_id)
        selection = Filters(departments, selected_departments, divisions, staff_groups).within(
            reference
        )
        sums = DriverSums.read(source, reference, cycle_id, outcome)
    by_key = sums.figures(selection, keys=[])
    return KeyDrivers(
        cycle_id=cycle.id,
        cycle=cycle.name,
        outcome=outcome,
        outcome_label=OUTCOME_LABELS[outcome],
        drivers=by_key.get(-1, sums.nothing()),
        high_from=middle_score(by_key.get(-1, ())),
        minimum=sums.driver_minimum,
    )


def middle_score(drivers: Sequence[DriverFigure]) -> float | None:
    shown = [d.score.value for d in drivers if not d.score.suppressed and d.score.value is not None]
    return stats.median(shown) if shown else None


@dataclass(frozen=True)
class DriverSums:
    """One cycle's cell-level scores and key-driver sums with its atoms: released for any
    selection, all departments together or each on its own (focus areas use both)."""

    reference: Reference
    cycle_id: int
    dimensions: tuple[DimensionInfo, ...]
    atoms: AtomTable
    scores: pd.DataFrame
    pairs: pd.DataFrame
    minimum: int
    driver_minimum: int

    @classmethod
    def read(
        cls, source: DriverSource, reference: Reference, cycle_id: int, outcome: str
    ) -> DriverSums:
        settings = get_settings()
        dimensions = tuple(driver_dimensions(reference))
        measures = [d.key for d in dimensions]
        cells = source.cells([cycle_id])
        return cls(
            reference=reference,
            cycle_id=cycle_id,
            dimensions=dimensions,
            atoms=atoms_of(cells, reference, [cycle_id], settings.min_group_size),
            scores=source.scores([cycle_id], measures),
            pairs=source.driver_sums([cycle_id], measures, outcome),
            minimum=settings.min_group_size,
            driver_minimum=settings.min_driver_group_size,
        )

    def nothing(self) -> tuple[DriverFigure, ...]:
        score = missing(self.minimum)
        impact = Figure(None, None, None, 0, True, note=driver_note(self.driver_minimum))
        return tuple(DriverFigure(d.key, d.label, score, impact, "") for d in self.dimensions)

    def released_pairs(self, selection: Selection, keys: Sequence[str]) -> pd.DataFrame:
        """The released key-driver sums: whole atoms with at least k respondents behind the
        pair each (the per-measure rule), then only figures of at least the driver minimum."""
        return release_driver_sums(
            self.atoms,
            self.pairs,
            selection,
            keys=keys,
            minimum=self.minimum,
            driver_minimum=self.driver_minimum,
        )

    def figures(
        self, selection: Selection, *, keys: Sequence[str]
    ) -> dict[int, tuple[DriverFigure, ...]]:
        """Drivers for all selected departments together (key -1, `keys` empty) or for each
        department (`keys` ["department_id"]), each strongest first."""
        measures = [d.key for d in self.dimensions]
        score_sums = ["total", "total_sq"]
        scores = score_figures(
            release(
                self.atoms,
                self.scores,
                selection,
                keys=keys,
                n="n",
                sums=score_sums,
                minimum=self.minimum,
            ),
            measures,
            keys,
            self.minimum,
        )
        impacts = impact_figures(self.released_pairs(selection, keys), measures, keys)
        groups = {key[2] if keys else -1 for key in (*scores, *impacts)}
        absent_score = missing(self.minimum)
        absent_impact = Figure(None, None, None, 0, True, note=driver_note(self.driver_minimum))
        result = {}
        for group in groups:
            suffix = (group,) if keys else ()
            raw = [
                (
                    d,
                    scores.get((self.cycle_id, d.key, *suffix), absent_score),
                    impacts.get((self.cycle_id, d.key, *suffix), absent_impact),
                )
                for d in self.dimensions
            ]
            shown_scores = [s.value for _, s, _ in raw if not s.suppressed and s.value is not None]
            middle = stats.median(shown_scores) if shown_scores else None
            drivers = [
                DriverFigure(d.key, d.label, score, impact, _quadrant(score, impact, middle))
                for d, score, impact in raw
            ]
            drivers.sort(key=lambda d: (d.impact.suppressed, -(d.impact.value or 0.0), d.label))
            result[group] = tuple(drivers)
        return result


def driver_note(driver_minimum: int) -> str:
    """What a driver resting on too few respondents shows instead."""
    return f"fewer than {driver_minimum} respondents"


def _quadrant(score: Figure, impact: Figure, middle: float | None) -> str:
    if score.suppressed or impact.suppressed or middle is None or score.value is None:
        return ""
    high = score.value >= middle
    if is_strong(impact):
        return STRONG_HIGH if high else STRONG_LOW
    return WEAKER_HIGH if high else WEAKER_LOW


PAIR_SUMS = ["x", "y", "xx", "yy", "xy"]


def release_driver_sums(
    atoms: AtomTable,
    pairs: pd.DataFrame,
    selection: Selection,
    *,
    keys: Sequence[str],
    minimum: int,
    driver_minimum: int,
) -> pd.DataFrame:
    """Key-driver sums through the one release path (`release`), with the respondents who
    answered both sides as n; then a figure resting on fewer than `driver_minimum` of them
    is dropped whole (a dropped row is suppressed)."""
    released = release(atoms, pairs, selection, keys=keys, n="n", sums=PAIR_SUMS, minimum=minimum)
    return released[released["n"] >= driver_minimum].reset_index(drop=True)


def impact_figures(
    released: pd.DataFrame, measures: Sequence[str], keys: Sequence[str]
) -> dict[tuple, Figure]:
    """(cycle_id, measure key, *keys) -> the correlation Figure, from released sums."""
    if released.empty:
        return {}
    r, low, high = correlations(*(released[c].to_numpy() for c in ["n", *PAIR_SUMS]))
    figures: dict[tuple, Figure] = {}
    identities = zip(
        *(released[column].tolist() for column in ("cycle_id", "measure", *keys)), strict=True
    )
    for (cycle_id, measure, *rest), n, value, lower, upper in zip(
        identities, released["n"].tolist(), r.tolist(), low.tolist(), high.tolist(), strict=True
    ):
        if np.isnan(value):
            continue  # nobody varied: no correlation to show
        figures[(int(cycle_id), measures[int(measure)], *rest)] = Figure(
            value, lower, upper, int(n), False
        )
    return figures


def drivers_by_department(
    sums: DriverSums, selection: Selection
) -> Mapping[int, tuple[DriverFigure, ...]]:
    """`DriverSums.figures` for each department of the selection."""
    return sums.figures(selection, keys=["department_id"])
