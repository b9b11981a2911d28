"""Key drivers and focus areas: equal to numpy on raw answers, released only above the minimum."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.instruments import builtin_instrument
from surveys.organisation.catalogue import instrument_items, register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import add_department, add_division, staff_groups
from surveys.records import CycleState
from surveys.reporting import drivers as driver_report
from surveys.reporting.drivers import (
    STRONG_LOW,
    DriverSums,
    key_drivers,
    release_driver_sums,
)
from surveys.reporting.focus import focus_areas
from surveys.reporting.scope import filter_options
from surveys.reporting.source import open_source
from surveys.reporting.statistics import Z_95, correlation_interval
from surveys.storage import write_session
from surveys.survey.submit import store_response
from tests.support.backends import backends
from tests.support.demo import copy_demo, demo_engine


def raw_drivers(engine: Engine, cycle_id: int, outcome: str) -> dict[str, tuple[float, int]]:
    """The correlations straight from raw answers with numpy: each respondent's mean answer in
    each relationship dimension (rescaled 0-100) against their outcome score, over the
    respondents of atoms (the release path's, tested on their own in test_suppression) where
    at least k answered both, as the per-measure rule asks."""
    with engine.connect() as connection:
        frame = pd.read_sql_query(
            "SELECT a.response_id, r.department_id, r.staff_group_id, a.value, i.dimension,"
            " i.scale, i.reverse, i.in_index"
            " FROM answer a JOIN response r ON r.id = a.response_id"
            f" JOIN item i ON i.id = a.item_id WHERE r.cycle_id = {int(cycle_id)}"
            " AND a.value IS NOT NULL",
            connection,
        )
    with open_source(engine) as source:
        atoms = DriverSums.read(source, source.reference(), cycle_id, outcome).atoms
    cells = pd.DataFrame(
        {
            "department_id": atoms.columns["department_id"],
            "staff_group_id": atoms.columns["staff_group_id"],
            "atom": atoms.atom,
        }
    )
    frame["reverse"] = frame["reverse"].astype(bool)
    likert = frame["scale"] != "nps"
    scored = np.where(frame["reverse"], 6 - frame["value"], frame["value"])
    frame["score"] = np.where(likert, (scored - 1) * 25.0, frame["value"] * 10.0)
    where = frame.groupby("response_id")[["department_id", "staff_group_id"]].first()
    where = where.reset_index().merge(cells, on=["department_id", "staff_group_id"])
    atom_of = where.set_index("response_id")["atom"]
    y = frame[frame["dimension"] == outcome].groupby("response_id")["score"].mean()
    result = {}
    dimensions = frame[likert & frame["in_index"].astype(bool)]["dimension"].unique()
    for dimension in dimensions:
        x = frame[likert & (frame["dimension"] == dimension)].groupby("response_id")["score"]
        both = pd.concat([x.mean().rename("x"), y.rename("y")], axis=1, join="inner")
        both["atom"] = atom_of.reindex(both.index).to_numpy()
        sizes = both.groupby("atom")["x"].transform("size")
        both = both[sizes >= get_settings().min_group_size]
        values = both[["x", "y"]].to_numpy()
        result[str(dimension)] = (float(np.corrcoef(values.T)[0, 1]), len(values))
    return result


def test_a_correlation_and_its_fisher_interval_match_numpy() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=80)
    y = 0.5 * x + rng.normal(size=80)
    estimate = correlation_interval(
        80, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()
    )
    r = np.corrcoef(x, y)[0, 1]
    assert estimate.value == pytest.approx(r)
    half = Z_95 / np.sqrt(77)
    assert estimate.low == pytest.approx(np.tanh(np.arctanh(r) - half))
    assert estimate.high == pytest.approx(np.tanh(np.arctanh(r) + half))
    flat = correlation_interval(10, 10.0, 5.0, 10.0, 3.0, 5.0)  # x never varies
    assert flat.value is None


@pytest.fixture
def hospital_with_answers(engine: Engine) -> dict:
    """A closed cycle with 48 respondents in four cells whose answers follow one mood."""
    rng = random.Random(11)
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division = add_division(session=session, name="Acute care")
        departments = [
            add_department(session=session, name=name, division_id=division)
            for name in ("Emergency", "Oncology")
        ]
        cycle_id = add_cycle(
            session=session,
            name="2026 Q3",
            opens=date(2026, 7, 12),
            closes=date(2026, 8, 30),
            instrument_id=instrument_id,
            state=CycleState.closed,
        )
        groups = [group.id for group in staff_groups(session=session)][:2]
        items = instrument_items(session=session, instrument_id=instrument_id)
    for number in range(48):
        mood = rng.randint(1, 5)
        answers: dict = {}
        for item in items.values():
            if item.scale == "nps":
                answers[item] = min(10, max(0, 2 * mood + rng.randint(-2, 2)))
            elif rng.random() < 0.08 and item.scale != "rating":
                answers[item] = None
            else:
                value = min(5, max(1, mood + rng.randint(-1, 1)))
                answers[item] = 6 - value if item.reverse else value
        with write_session(engine) as session:
            store_response(
                session=session,
                cycle_id=cycle_id,
                department_id=departments[number % 2],
                staff_group_id=groups[(number // 2) % 2],
                instrument_id=instrument_id,
                answers=answers,
                comment=None,
            )
    return {"cycle_id": cycle_id, "departments": departments}


@backends()
@pytest.mark.parametrize("outcome", ["enps", "overall"])
def test_drivers_equal_numpy_on_raw_answers_of_hand_made_data(
    engine: Engine, hospital_with_answers: dict, outcome: str
) -> None:
    cycle_id = hospital_with_answers["cycle_id"]
    result = key_drivers(engine, cycle_id=cycle_id, departments=None, outcome=outcome)
    expected = raw_drivers(engine, cycle_id, outcome)
    assert {d.key for d in result.drivers} == set(expected)
    for driver in result.drivers:
        r, n = expected[driver.key]
        assert not driver.impact.suppressed
        assert driver.impact.value == pytest.approx(r, abs=1e-9)
        assert driver.impact.n == n
        assert driver.impact.low < driver.impact.value < driver.impact.high
    assert min(d.impact.value for d in result.drivers) > 0.5  # the answers follow one mood


@backends()
def test_a_selection_below_the_driver_minimum_releases_no_driver(
    engine: Engine, hospital_with_answers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle_id = hospital_with_answers["cycle_id"]
    emergency = frozenset(hospital_with_answers["departments"][:1])  # 24 respondents
    below = key_drivers(engine, cycle_id=cycle_id, departments=emergency)
    assert below.minimum == 30
    assert below.shows_nothing
    assert all(d.impact.value is None and d.impact.n == 0 for d in below.drivers)
    assert all(d.quadrant == "" for d in below.drivers)
    assert not below.table()["impact"].notna().any()
    # Scores still show: they need only the ordinary minimum.
    assert all(not d.score.suppressed for d in below.drivers)
    monkeypatch.setenv("ATTUNE_MIN_DRIVER_GROUP_SIZE", "20")
    get_settings.cache_clear()
    shown = key_drivers(engine, cycle_id=cycle_id, departments=emergency)
    assert not shown.shows_nothing


def test_driver_sums_below_the_minimum_are_dropped_whole() -> None:
    from tests.test_suppression import cell_frame, table_for

    counts = {(1, 1): 20, (1, 2): 12, (2, 1): 9}
    table = table_for(counts)
    data = cell_frame(counts, x=counts, y=counts, xx=counts, yy=counts, xy=counts)
    selected = table.selected({1, 2}, {1, 2})
    released = release_driver_sums(
        table, data, _Selection({1, 2}, {1, 2}), keys=["department_id"], minimum=5,
        driver_minimum=30,
    )  # fmt: skip
    assert released["department_id"].tolist() == [1]  # 32 behind it; department 2 has 9
    assert released["n"].tolist() == [32]
    assert selected.any()


class _Selection:
    def __init__(self, departments: set[int], groups: set[int]) -> None:
        self.departments = frozenset(departments)
        self.groups = frozenset(groups)


# --- The demo -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_path(demo_hospital_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_hospital_file, tmp_path_factory.mktemp("drivers"))


@pytest.fixture
def demo(demo_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from demo_engine(demo_path, monkeypatch)


def _cycle(engine: Engine, name: str) -> int:
    options = filter_options(engine, departments=None)
    return next(cycle.id for cycle in options.cycles if cycle.name == name)


@pytest.mark.parametrize("outcome", ["enps", "overall"])
def test_drivers_equal_numpy_on_the_demo(demo: Engine, outcome: str) -> None:
    cycle_id = _cycle(demo, "2026 Q3")  # closed: every answer is released
    result = key_drivers(demo, cycle_id=cycle_id, departments=None, outcome=outcome)
    expected = raw_drivers(demo, cycle_id, outcome)
    assert len(result.drivers) == len(expected) == 11
    for driver in result.drivers:
        r, n = expected[driver.key]
        assert driver.impact.value == pytest.approx(r, abs=1e-9), driver.key
        assert driver.impact.n == n
    quadrants = {d.quadrant for d in result.drivers}
    assert STRONG_LOW in quadrants and "strong and high" in quadrants
    values = [d.impact.value for d in result.drivers]
    assert values == sorted(values, reverse=True)


def test_focus_areas_find_every_demo_story(demo: Engine) -> None:
    options = filter_options(demo, departments=None)
    cycle_id = options.default_cycle.id
    result = focus_areas(demo, cycle_id=cycle_id, departments=None)
    by_name = {name: result.of(department_id) for department_id, name in result.departments}
    assert all(len(areas) <= 3 for areas in by_name.values())
    assert all(len({a.kind for a in areas}) == len(areas) for areas in by_name.values())
    # Emergency: nursing staff rate working with physicians far lower than the reverse.
    emergency = [a for a in by_name["Emergency"] if a.kind == "relationship"]
    assert [(a.from_group, a.to_group) for a in emergency] == [("nursing", "physicians")]
    assert "Nursing staff rate working with physicians" in emergency[0].reason
    # ICU improved: nothing there has declined.
    assert not [a for a in by_name["Intensive Care (ICU)"] if a.kind == "decline"]
    # Administrative staff's feedback: where they are the department, and across the wards.
    for department in ("Patient Access", "Billing"):
        assert ("driver", "feedback") in {(a.kind, a.dimension_key) for a in by_name[department]}
    admin = next(g.id for g in options.staff_groups if g.key == "administrative")
    theirs = focus_areas(demo, cycle_id=cycle_id, departments=None, staff_groups=frozenset({admin}))
    feedback = [a for a in theirs.areas if a.dimension_key == "feedback"]
    assert len(feedback) >= len(theirs.departments) // 2
    assert all(a.title == "Feedback acted on" and a.kind == "driver" for a in feedback)
    # One line each, in plain words.
    assert all("\n" not in a.reason and a.reason.endswith(".") for a in result.areas)


def test_a_manager_sees_focus_areas_of_their_departments_only(demo: Engine) -> None:
    options = filter_options(demo, departments=None)
    emergency = next(d.id for d in options.departments if d.name == "Emergency")
    result = focus_areas(
        demo, cycle_id=options.default_cycle.id, departments=frozenset({emergency})
    )
    assert {a.department_id for a in result.areas} == {emergency}
    assert result.departments == ((emergency, "Emergency"),)


def test_the_drivers_module_says_correlation_not_cause() -> None:
    assert "correlation, not cause" in driver_report.HELP
