"""Reporting: hand-computed figures from real submissions, scope, suppression and an attacker."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from surveys import reporting
from surveys.config import get_settings
from surveys.instruments import builtin_instrument
from surveys.models import (
    Answer,
    CellRollup,
    Comment,
    Invitation,
    ItemRollup,
    Response,
    ScoreRollup,
)
from surveys.organisation.catalogue import instrument_items, register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import (
    add_department,
    add_division,
    staff_groups,
)
from surveys.reporting import ALL_SELECTED, Comments, RollupSource
from surveys.reporting.figures import with_change
from surveys.reporting.relationships import PATIENTS_LABEL
from surveys.reporting.statistics import change_is_significant, mean_interval
from surveys.storage import new_random_id, write_session
from surveys.survey import rollups
from tests.support.backends import backends

# --- A small hospital built from real submissions ----------------------------------------------
#
# Every respondent gives one answer v to every 1-5 item (reverse-worded items get 6 - v, so
# they too score v). Their index is then (v - 1) * 25, and every dimension score is 100 when
# v >= 4 and 0 otherwise, which makes every figure below easy to work out by hand.
#
# Minimum group size 3, comments 4. Cells of the newer cycle, 2026 Q4:
#   Emergency  nursing [5, 4, 4, 2]   physicians [4, 3, 3]
#   ICU        nursing [2, 2, 3, 4, 5] admin [3, 3]        (admin is small: pooled with nursing)
#   Pharmacy   allied [4, 4, 4]       nursing [5]          (nursing is small: pooled with allied)

Q3 = {
    ("Emergency", "nursing"): ([4, 4, 4], [9, 9, 9]),
    ("Emergency", "physicians"): ([3, 3, 3], [7, 7, 7]),
    ("ICU", "nursing"): ([2, 2, 2], [5, 5, 5]),
    ("Pharmacy", "allied_health"): ([4, 4, 4], [8, 8, 8]),
}
Q4 = {
    ("Emergency", "nursing"): ([5, 4, 4, 2], [10, 9, 7, 3]),
    ("Emergency", "physicians"): ([4, 3, 3], [8, 6, 9]),
    ("ICU", "nursing"): ([2, 2, 3, 4, 5], [6, 6, 8, 9, 10]),
    ("ICU", "administrative"): ([3, 3], [5, 5]),
    ("Pharmacy", "allied_health"): ([4, 4, 4], [9, 9, 9]),
    ("Pharmacy", "nursing"): ([5], [10]),
}
COMMENTS = {
    ("Emergency", "nursing"): "Handover is calm now.",
    ("Emergency", "physicians"): "Rounds run late.",
    ("ICU", "nursing"): "The huddle helps.",
    ("Pharmacy", "nursing"): '=HYPERLINK("http://x") we are few here',
}


def uniform_answers(items: dict, value: int, nps: int) -> dict:
    answers = {}
    for item in items.values():
        if item.scale == "nps":
            answers[item] = nps
        else:
            answers[item] = 6 - value if item.reverse else value
    return answers


def build_survey(engine: Engine) -> dict:
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        acute = add_division(session=session, name="Acute care")
        support = add_division(session=session, name="Clinical support")
        departments = {
            "Emergency": add_department(session=session, name="Emergency", division_id=acute),
            "ICU": add_department(session=session, name="ICU", division_id=acute),
            "Pharmacy": add_department(session=session, name="Pharmacy", division_id=support),
        }
        cycles = {
            name: add_cycle(
                session=session,
                name=name,
                opens=opens,
                closes=date(opens.year, opens.month + 1, 28),
                instrument_id=instrument_id,
            )
            for name, opens in (("2026 Q3", date(2026, 7, 12)), ("2026 Q4", date(2026, 10, 12)))
        }
        groups = {group.key: group.id for group in staff_groups(session=session)}
        items = instrument_items(session=session, instrument_id=instrument_id)
    return {
        "instrument_id": instrument_id,
        "divisions": {"Acute care": acute, "Clinical support": support},
        "departments": departments,
        "cycles": cycles,
        "groups": groups,
        "items": items,
    }


def submit(engine: Engine, survey: dict, cycle: str, cells: dict, comments: dict) -> None:
    """Store raw responses, answers and comments, then rebuild the cycle's rollups from them
    (tests/test_storage.py shows a rebuild equals the rollups kept by store_response)."""
    responses, answers, comment_rows = [], [], []
    for (department, group), (values, nps_values) in cells.items():
        cell = {
            "cycle_id": survey["cycles"][cycle],
            "department_id": survey["departments"][department],
            "staff_group_id": survey["groups"][group],
        }
        for position, (value, nps) in enumerate(zip(values, nps_values, strict=True)):
            response_id = new_random_id()
            responses.append(cell | {"id": response_id, "instrument_id": survey["instrument_id"]})
            answers += [
                {"response_id": response_id, "item_id": item.id, "value": answer}
                for item, answer in uniform_answers(survey["items"], value, nps).items()
            ]
            if position == 0 and (department, group) in comments:
                comment_rows.append(
                    cell | {"id": new_random_id(), "text": comments[(department, group)]}
                )
    with write_session(engine) as session:
        session.execute(insert(Response), responses)
        session.execute(insert(Answer), answers)
        if comment_rows:
            session.execute(insert(Comment), comment_rows)
        rollups.rebuild(session=session, cycle_id=survey["cycles"][cycle])


@pytest.fixture
def hospital(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "3")
    monkeypatch.setenv("ATTUNE_MIN_COMMENT_GROUP_SIZE", "4")
    get_settings.cache_clear()
    survey = build_survey(engine)
    submit(engine, survey, "2026 Q3", Q3, {})
    submit(engine, survey, "2026 Q4", Q4, COMMENTS)
    with write_session(engine) as session:
        # Ten Emergency nurses invited in Q4 (four answered); open links count for nothing.
        session.execute(
            insert(Invitation),
            [
                {
                    "token_hash": f"{index:064x}",
                    "cycle_id": survey["cycles"]["2026 Q4"],
                    "department_id": survey["departments"]["Emergency"],
                    "staff_group_id": survey["groups"]["nursing"],
                    "is_open": False,
                }
                for index in range(10)
            ]
            + [{"token_hash": "f" * 64, "cycle_id": survey["cycles"]["2026 Q4"], "is_open": True}],
        )
    return survey | {"engine": engine, "q3": survey["cycles"]["2026 Q3"]}


def q4(hospital: dict) -> int:
    return hospital["cycles"]["2026 Q4"]


def index_of(values: list[int]) -> float:
    return sum((v - 1) * 25 for v in values) / len(values)


# --- Overview -----------------------------------------------------------------------------------


@backends()
def test_overview_of_everyone_matches_the_hand_computed_figures(hospital: dict) -> None:
    result = reporting.overview(hospital["engine"], cycle_id=q4(hospital), departments=None)
    assert result.cycle == "2026 Q4" and result.previous_cycle == "2026 Q3"
    assert result.responses == 18
    # Index: (275 + 175 + 275 + 100 + 225 + 100) / 18 respondents.
    assert result.index.value == pytest.approx(1150 / 18)
    assert result.index.n == 18
    assert result.index.change == pytest.approx(1150 / 18 - 675 / 12)
    # eNPS: 9 promoters (9-10) and 6 detractors (0-6) of 18.
    assert result.enps.value == pytest.approx(100 * (9 - 6) / 18)
    # Only Emergency nurses were invited personally: 10; the responses come from everyone.
    assert result.invited == 10
    respect = next(d for d in result.dimensions if d.key == "respect")
    assert respect.figure.value == pytest.approx(100 * 10 / 18)  # 10 of 18 answered 4 or 5
    assert respect.label == "Mutual respect"


@backends()
def test_overview_ranks_dimensions_and_departments_by_change(hospital: dict) -> None:
    result = reporting.overview(hospital["engine"], cycle_id=q4(hospital), departments=None)
    # With one answer per respondent every relationship dimension scores the same here.
    assert len(result.strongest) == 3 and len(result.weakest) == 3
    values = [d.figure.value for d in result.dimensions if not d.figure.suppressed]
    assert values == sorted(values, reverse=True)
    # Index per department, Q3 -> Q4: ICU 25 -> 53.6, Pharmacy 75 -> 81.25, Emergency 62.5 -> 64.3.
    assert [d.department for d in result.improvements] == ["ICU", "Pharmacy", "Emergency"]
    assert result.improvements[0].figure.change == pytest.approx(375 / 7 - 25)
    assert result.declines == ()


@backends()
def test_a_staff_group_filter_leaves_out_small_groups_pooled_with_another_group(
    hospital: dict,
) -> None:
    nursing = frozenset({hospital["groups"]["nursing"]})
    result = reporting.overview(
        hospital["engine"], cycle_id=q4(hospital), departments=None, staff_groups=nursing
    )
    # ICU and Pharmacy nurses share an atom with another group, so only Emergency's count.
    assert result.responses == 4
    assert result.index.value == pytest.approx(index_of([5, 4, 4, 2]))
    assert result.response_rate == pytest.approx(4 / 10)


@backends()
def test_a_department_filter_counts_its_pooled_small_group(hospital: dict) -> None:
    icu = frozenset({hospital["departments"]["ICU"]})
    result = reporting.overview(
        hospital["engine"], cycle_id=q4(hospital), departments=None, selected_departments=icu
    )
    assert result.responses == 7
    assert result.index.value == pytest.approx(index_of([2, 2, 3, 4, 5, 3, 3]))
    assert result.response_rate is None  # nobody in ICU was invited personally


def test_an_overview_of_too_few_responses_is_suppressed(hospital: dict) -> None:
    pharmacy_nurses = reporting.overview(
        hospital["engine"],
        cycle_id=q4(hospital),
        departments=None,
        selected_departments=frozenset({hospital["departments"]["Pharmacy"]}),
        staff_groups=frozenset({hospital["groups"]["nursing"]}),
    )
    assert pharmacy_nurses.responses is None
    assert pharmacy_nurses.index.suppressed and pharmacy_nurses.index.value is None
    assert pharmacy_nurses.index.n == 0
    assert pharmacy_nurses.index.note == "fewer than 3 responses"
    assert pharmacy_nurses.enps.suppressed


# --- Heatmap ------------------------------------------------------------------------------------


@backends()
def test_heatmap_gives_percent_favourable_n_and_change_per_department(hospital: dict) -> None:
    result = reporting.heatmap(hospital["engine"], cycle_id=q4(hospital), departments=None)
    assert [name for _, name in result.rows] == [
        reporting.ALL_SELECTED,
        "Emergency",
        "ICU",
        "Pharmacy",
    ]
    cells = {(c.department, c.dimension): c.figure for c in result.cells}
    emergency = cells[("Emergency", "respect")]
    assert emergency.value == pytest.approx(100 * 4 / 7) and emergency.n == 7
    assert emergency.change == pytest.approx(100 * 4 / 7 - 50)
    assert cells[("ICU", "respect")].value == pytest.approx(100 * 2 / 7)
    assert cells[("ICU", "respect")].change == pytest.approx(100 * 2 / 7)
    assert cells[("Pharmacy", "respect")].value == pytest.approx(100)
    assert cells[("Pharmacy", "respect")].change == pytest.approx(0)
    assert cells[(reporting.ALL_SELECTED, "respect")].value == pytest.approx(100 * 10 / 18)
    assert {c.dimension for c in result.cells} == {d.key for d in result.dimensions}
    assert "enps" not in {d.key for d in result.dimensions}
    before = reporting.heatmap(hospital["engine"], cycle_id=hospital["q3"], departments=None)
    earlier = {(c.department, c.dimension): c.figure for c in before.cells}
    for key, figure in cells.items():
        if earlier[key].suppressed:
            assert figure.change is None
        else:
            assert figure.change == pytest.approx(figure.value - earlier[key].value)
            assert figure.significant == change_is_significant(
                earlier[key].estimate, figure.estimate
            )


@backends()
def test_heatmap_marks_cells_that_rest_on_a_small_group(hospital: dict) -> None:
    nursing = frozenset({hospital["groups"]["nursing"]})
    result = reporting.heatmap(
        hospital["engine"], cycle_id=q4(hospital), departments=None, staff_groups=nursing
    )
    cells = {(c.department, c.dimension): c.figure for c in result.cells}
    assert cells[("Emergency", "respect")].value == pytest.approx(75)
    for department in ("ICU", "Pharmacy"):
        figure = cells[(department, "respect")]
        assert figure.suppressed and figure.value is None and figure.n == 0
        assert figure.note == "fewer than 3 responses"
    table = result.table()
    assert table.loc[table["suppressed"], "value"].isna().all()
    assert table.loc[table["suppressed"], "n"].isna().all()


@backends()
def test_heatmap_by_division_adds_up_each_division_as_its_filter_would(hospital: dict) -> None:
    engine, cycle = hospital["engine"], q4(hospital)
    result = reporting.heatmap(engine, cycle_id=cycle, departments=None, by="division")
    assert [name for _, name in result.rows] == [ALL_SELECTED, "Acute care", "Clinical support"]
    cells = {(c.department, c.dimension): c.figure for c in result.cells}
    # Acute care: Emergency's 4 nurses and 3 physicians, ICU's 5 nurses and 2 administrators;
    # 6 of the 14 answered respect favourably (4 or 5).
    assert cells[("Acute care", "respect")].n == 14
    assert cells[("Acute care", "respect")].value == pytest.approx(100 * 6 / 14)
    # Clinical support is Pharmacy alone: its one nurse is pooled with its pharmacists.
    assert cells[("Clinical support", "respect")].n == 4
    assert cells[("Clinical support", "respect")].value == pytest.approx(100)
    for name, division in hospital["divisions"].items():
        filtered = reporting.heatmap(
            engine, cycle_id=cycle, departments=None, divisions=frozenset({division})
        )
        # The filter's "all selected" row; a division of one department has none, since it
        # would only repeat that department's row.
        total = {
            c.dimension: c.figure for c in filtered.cells if c.department == reporting.ALL_SELECTED
        } or {c.dimension: c.figure for c in filtered.cells}
        assert len(total) == len(filtered.dimensions)
        row = {c.dimension: c.figure for c in result.cells if c.department == name}
        assert {k: (f.n, f.suppressed) for k, f in row.items()} == {
            k: (f.n, f.suppressed) for k, f in total.items()
        }
        assert [f.value for f in row.values()] == pytest.approx([f.value for f in total.values()])
    table = result.table()
    assert {"division_id", "division"} <= set(table.columns)
    assert "department" not in table.columns
    with pytest.raises(ValueError, match="per department or per division"):
        reporting.heatmap(engine, cycle_id=cycle, departments=None, by="staff_group")  # type: ignore[arg-type]


# --- Trends -------------------------------------------------------------------------------------


@backends()
def test_trends_give_each_department_per_cycle_with_confidence_bands(hospital: dict) -> None:
    frame = reporting.trends(hospital["engine"], departments=None)
    icu = frame[frame["department"] == "ICU"].set_index("cycle")
    assert icu.loc["2026 Q3", "value"] == pytest.approx(25)
    assert icu.loc["2026 Q4", "value"] == pytest.approx(index_of([2, 2, 3, 4, 5, 3, 3]))
    scores = [(v - 1) * 25 for v in [2, 2, 3, 4, 5, 3, 3]]
    expected = mean_interval(len(scores), sum(scores), sum(s * s for s in scores))
    assert icu.loc["2026 Q4", "low"] == pytest.approx(expected.low)
    assert icu.loc["2026 Q4", "high"] == pytest.approx(expected.high)
    # Every Q3 ICU nurse scored 25: no spread, so the band collapses onto the value.
    assert icu.loc["2026 Q3", "low"] == pytest.approx(25)
    total = frame[frame["department_id"].isna()]
    assert total["department"].unique().tolist() == [reporting.ALL_SELECTED]
    assert list(frame["cycle"].unique()) == ["2026 Q3", "2026 Q4"]


@backends()
def test_trends_follow_a_chosen_dimension_over_a_cycle_range(hospital: dict) -> None:
    q4_id = q4(hospital)
    frame = reporting.trends(
        hospital["engine"], departments=None, measure="respect", cycle_range=(q4_id, q4_id)
    )
    assert frame["cycle"].unique().tolist() == ["2026 Q4"]
    assert frame["label"].unique().tolist() == ["Mutual respect"]
    pharmacy = frame[frame["department"] == "Pharmacy"].iloc[0]
    assert pharmacy["value"] == pytest.approx(100) and pharmacy["n"] == 4
    with pytest.raises(reporting.UnknownDimension):
        reporting.trends(hospital["engine"], departments=None, measure="no_such_thing")


# --- Relationships ------------------------------------------------------------------------------


@backends()
def test_relationship_matrix_rates_each_group_as_each_group_sees_it(hospital: dict) -> None:
    groups = hospital["groups"]
    result = reporting.relationships(hospital["engine"], cycle_id=q4(hospital), departments=None)
    assert [name for _, name in result.rated][-1] == PATIENTS_LABEL
    # Nurses' row rests on Emergency nurses only (the others are pooled with other groups).
    nurses_on_physicians = result.cell(groups["nursing"], groups["physicians"]).figure
    assert nurses_on_physicians.value == pytest.approx(75) and nurses_on_physicians.n == 4
    physicians_on_nurses = result.cell(groups["physicians"], groups["nursing"]).figure
    assert physicians_on_nurses.value == pytest.approx(100 / 3) and physicians_on_nurses.n == 3
    nurses_on_patients = result.cell(groups["nursing"], None).figure
    assert nurses_on_patients.value == pytest.approx(75)
    # Administrative staff answered only in ICU, pooled with ICU nurses: never shown alone.
    assert result.cell(groups["administrative"], groups["nursing"]).figure.suppressed
    # Physicians rate nurses 42 points lower, but with 3 and 4 people that is within chance.
    assert result.asymmetries == ()


@backends()
def test_a_clear_and_significant_asymmetry_is_flagged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "3")
    get_settings.cache_clear()
    survey = build_survey(engine)
    cells = {
        ("Emergency", "nursing"): ([1] * 6, [5] * 6),
        ("Emergency", "physicians"): ([5] * 6, [9] * 6),
    }
    submit(engine, survey, "2026 Q4", cells, {})
    cycle = survey["cycles"]["2026 Q4"]
    result = reporting.relationships(engine, cycle_id=cycle, departments=None)
    nursing, physicians = survey["groups"]["nursing"], survey["groups"]["physicians"]
    assert [(a.rater_id, a.rated_id) for a in result.asymmetries] == [(nursing, physicians)]
    assert result.asymmetries[0].difference == pytest.approx(100)
    table = result.table()
    flagged = table[table["rates_lower_than_rated_back"]]
    assert flagged[["rating_group", "rated_group"]].values.tolist() == [["Nursing", "Physicians"]]
    stricter = reporting.relationships(
        engine, cycle_id=cycle, departments=None, asymmetry_points=101
    )
    assert stricter.asymmetries == ()


@backends()
def test_relationship_trends_give_the_matrix_in_every_cycle(hospital: dict) -> None:
    groups = hospital["groups"]
    frame = reporting.relationship_trends(hospital["engine"], departments=None)
    pair = frame[
        (frame["rater_id"] == groups["nursing"]) & (frame["rated_id"] == groups["physicians"])
    ]
    assert pair["cycle"].tolist() == ["2026 Q3", "2026 Q4"]
    # Q3: Emergency nurses [4,4,4] and ICU nurses [2,2,2], each their own atom: 50%.
    assert pair["value"].tolist() == pytest.approx([50, 75])


# --- Item detail --------------------------------------------------------------------------------


@backends()
def test_item_distribution_counts_scored_values_after_reverse_scoring(hospital: dict) -> None:
    frame = reporting.item_distributions(
        hospital["engine"],
        cycle_id=q4(hospital),
        departments=None,
        dimension="collaboration",
        selected_departments=frozenset({hospital["departments"]["Emergency"]}),
        staff_groups=frozenset({hospital["groups"]["nursing"]}),
    )
    assert set(frame["dimension"]) == {"collaboration"}
    blame = frame[frame["code"] == "blame.physicians"].iloc[0]
    # Raw answers were 1, 2, 2, 4 on a negatively worded item: scored 5, 4, 4, 2.
    assert [blame[f"count_{v}"] for v in range(1, 6)] == [0, 1, 0, 2, 1]
    assert blame["percent_favourable"] == pytest.approx(75)
    assert blame["percent_2"] == pytest.approx(25)
    assert blame["n"] == 4 and blame["not_applicable"] == 0
    assert "blame" in blame["text"].lower() and blame["about_group"] == "Physicians"


def test_item_distributions_cover_every_dimension_when_none_is_chosen(hospital: dict) -> None:
    frame = reporting.item_distributions(
        hospital["engine"], cycle_id=q4(hospital), departments=None
    )
    assert len(frame) == len([i for i in hospital["items"].values() if i.scale != "nps"])
    assert not frame["suppressed"].any()
    assert (frame["n"] == 18).all()


# --- Comments -----------------------------------------------------------------------------------


@backends()
def test_comments_come_only_from_groups_of_the_comment_minimum(hospital: dict) -> None:
    engine, cycle, departments = hospital["engine"], q4(hospital), hospital["departments"]
    everyone = reporting.comments(engine, cycle_id=cycle, departments=None)
    assert sorted(everyone.texts) == sorted(COMMENTS.values())
    nurses = reporting.comments(
        engine,
        cycle_id=cycle,
        departments=None,
        staff_groups=frozenset({hospital["groups"]["nursing"]}),
    )
    # Every nursing cell shares its comment atom with another group (minimum 4).
    assert nurses.texts == () and nurses.suppressed
    pharmacy = reporting.comments(
        engine,
        cycle_id=cycle,
        departments=None,
        selected_departments=frozenset({departments["Pharmacy"]}),
    )
    assert pharmacy.texts == (COMMENTS[("Pharmacy", "nursing")],)  # allied 3 + nursing 1 = 4


def test_comments_come_back_in_a_fresh_random_order(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_MIN_COMMENT_GROUP_SIZE", "3")
    get_settings.cache_clear()
    survey = build_survey(engine)
    for index in range(8):
        cells = {("ICU", "nursing"): ([4], [9])}
        submit(engine, survey, "2026 Q4", cells, {("ICU", "nursing"): f"Comment number {index}"})
    orders = {
        reporting.comments(engine, cycle_id=survey["cycles"]["2026 Q4"], departments=None).texts
        for _ in range(6)
    }
    assert all(sorted(order) == [f"Comment number {i}" for i in range(8)] for order in orders)
    assert len(orders) > 1  # 6 draws of 8! orders all equal by chance: about 1 in 10^23


# --- Scope: a manager sees their departments and nothing else -----------------------------------


def everything_about(engine: Engine, cycle: int, **scope) -> list[pd.DataFrame]:
    return [
        reporting.overview(engine, cycle_id=cycle, **scope).table(),
        reporting.heatmap(engine, cycle_id=cycle, **scope).table(),
        reporting.heatmap(engine, cycle_id=cycle, by="division", **scope).table(),
        reporting.trends(engine, **scope),
        reporting.relationships(engine, cycle_id=cycle, **scope).table(),
        reporting.relationship_trends(engine, **scope),
        reporting.item_distributions(engine, cycle_id=cycle, **scope),
        reporting.comments(engine, cycle_id=cycle, **scope).table(),
    ]


@backends()
def test_a_manager_scope_never_returns_data_about_another_department(hospital: dict) -> None:
    engine, cycle = hospital["engine"], q4(hospital)
    emergency, icu = hospital["departments"]["Emergency"], hospital["departments"]["ICU"]
    scope = {"departments": frozenset({emergency})}
    asking_for_icu = scope | {"selected_departments": frozenset({icu})}
    for frame in everything_about(engine, cycle, **asking_for_icu):
        text = frame.to_csv()
        assert "ICU" not in text and "huddle" not in text
        for rows in ("department", "division"):  # the whole organisation's benchmark row
            if rows in frame:  # is about no one department
                frame = frame[frame[rows] != reporting.WHOLE_ORGANISATION]
        if "value" in frame:
            assert frame["value"].isna().all()
        if "department_id" in frame:
            assert not (frame["department_id"] == icu).any()
    result = reporting.overview(engine, cycle_id=cycle, **asking_for_icu)
    assert result.responses is None and result.index.suppressed
    assert reporting.comments(engine, cycle_id=cycle, **asking_for_icu).texts == ()
    own = reporting.overview(engine, cycle_id=cycle, **scope)
    assert own.responses == 7
    assert own.index.value == pytest.approx(index_of([5, 4, 4, 2, 4, 3, 3]))
    for frame in everything_about(engine, cycle, **scope):
        assert "ICU" not in frame.to_csv() and "Pharmacy" not in frame.to_csv()
    options = reporting.filter_options(engine, departments=frozenset({emergency}))
    assert [d.name for d in options.departments] == ["Emergency"]
    assert [d.name for d in options.divisions] == ["Acute care"]


@settings(max_examples=200, deadline=None)
@given(
    values=st.tuples(*[st.floats(0, 100) for _ in range(2)]),
    halves=st.tuples(*[st.one_of(st.none(), st.floats(0, 20)) for _ in range(2)]),
)
def test_changes_are_called_significant_exactly_as_scoring_does(
    values: tuple[float, float], halves: tuple[float | None, float | None]
) -> None:
    before, after = (
        reporting.Figure(v, None if h is None else v - h, None if h is None else v + h, 30, False)
        for v, h in zip(values, halves, strict=True)
    )
    changed = with_change(after, before)
    assert changed.change == pytest.approx(values[1] - values[0])
    assert changed.significant == change_is_significant(before.estimate, after.estimate)


def test_an_unknown_cycle_is_refused(hospital: dict) -> None:
    with pytest.raises(reporting.UnknownCycle):
        reporting.overview(hospital["engine"], cycle_id=999_999, departments=None)


# --- Downloads ----------------------------------------------------------------------------------


def test_downloads_are_the_aggregates_as_safe_csv(hospital: dict) -> None:
    engine, cycle = hospital["engine"], q4(hospital)
    heat = reporting.to_csv(reporting.heatmap(engine, cycle_id=cycle, departments=None))
    header = heat.splitlines()[0].split(",")
    assert {"department", "dimension", "value", "low", "high", "n", "change"} <= set(header)
    assert "fewer than" not in heat  # nothing is suppressed over all groups
    comments_csv = reporting.to_csv(reporting.comments(engine, cycle_id=cycle, departments=None))
    assert "'=HYPERLINK" in comments_csv and "\n=HYPERLINK" not in comments_csv
    trend_csv = reporting.to_csv(reporting.trends(engine, departments=None))
    assert trend_csv.startswith("cycle_id,cycle,opens,department_id,department")


# --- The attacker: every answer to every filter, solved as a linear system ----------------------
#
# Rollups are written directly, with each cell's responses a distinct power of two, so the
# n of any figure spells out exactly which cells it added up (the attacker's strongest
# position: they know the rules). Per-cell sums are random, and each figure's numerator is
# checked to be the sum over those same cells, so the same equations hold for counts and sums.

ATTACK_MINIMUM = 20
ATTACK_COMMENT_MINIMUM = 40
# cycle -> (department, group) -> responses
ATTACK_CELLS = {
    1: {
        ("A", "nursing"): 1024, ("A", "physicians"): 16, ("A", "allied_health"): 64,
        ("B", "nursing"): 512, ("B", "physicians"): 1, ("B", "allied_health"): 2,
        ("B", "administrative"): 128,
        ("C", "nursing"): 256, ("C", "allied_health"): 32, ("C", "administrative"): 4096,
        ("D", "administrative"): 8, ("D", "physicians"): 4,
    },
    2: {
        ("A", "nursing"): 2048, ("A", "physicians"): 1024, ("A", "allied_health"): 16,
        ("A", "administrative"): 2,
        ("B", "nursing"): 512, ("B", "allied_health"): 256, ("B", "physicians"): 1,
        ("C", "nursing"): 8,
        ("D", "allied_health"): 4,
    },
}  # fmt: skip
ATTACK_DIVISIONS = {"A": "West", "B": "West", "C": "East", "D": "East"}


@pytest.fixture
def attack(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", str(ATTACK_MINIMUM))
    monkeypatch.setenv("ATTUNE_MIN_COMMENT_GROUP_SIZE", str(ATTACK_COMMENT_MINIMUM))
    get_settings.cache_clear()
    rng = np.random.default_rng(5)
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        divisions = {name: add_division(session=session, name=name) for name in ("West", "East")}
        departments = {
            name: add_department(
                session=session, name=f"Dept {name}", division_id=divisions[division]
            )
            for name, division in ATTACK_DIVISIONS.items()
        }
        cycles = {
            number: add_cycle(
                session=session,
                name=f"Cycle {number}",
                opens=date(2026, 3 * number, 1),
                closes=date(2026, 3 * number, 20),
                instrument_id=instrument_id,
            )
            for number in ATTACK_CELLS
        }
        groups = {group.key: group.id for group in staff_groups(session=session)}
        items = list(instrument_items(session=session, instrument_id=instrument_id).values())
        measures = ["index", *sorted({i.dimension for i in items if i.scale != "nps"})]
        truth: dict = {}
        cell_rows, item_rows, score_rows, comment_rows = [], [], [], []
        for number, cells in ATTACK_CELLS.items():
            for (department, group), responses in cells.items():
                key = (cycles[number], departments[department], groups[group])
                cell = dict(zip(("cycle_id", "department_id", "staff_group_id"), key, strict=True))
                cell_rows.append(cell | {"responses": responses, "comments": 2})
                truth[key] = {"responses": responses}
                for measure in measures:
                    total = float(rng.uniform(0, 100)) * responses
                    total_sq = total * total / responses + float(rng.uniform(0, 50)) * responses
                    score_rows.append(
                        cell | {"measure": measure, "n": responses, "total": total,
                                "total_sq": total_sq}
                    )  # fmt: skip
                    truth[key][("score", measure)] = total
                for item in items:
                    values = range(11) if item.scale == "nps" else range(1, 6)
                    counts = rng.multinomial(responses, np.ones(len(values)) / len(values))
                    row = {f"v{v}": int(c) for v, c in zip(values, counts, strict=True)}
                    item_rows.append(cell | {"item_id": item.id, "n_na": 0} | row)
                    truth[key][("item", item.id)] = row
                for index in range(2):
                    comment_rows.append(
                        cell
                        | {
                            "id": len(comment_rows) + 1,
                            "text": f"{number}|{department}|{group}|{index}",
                        }
                    )
        session.execute(insert(CellRollup), cell_rows)
        session.execute(insert(ScoreRollup), score_rows)
        session.execute(insert(ItemRollup), item_rows)
        session.execute(insert(Comment), comment_rows)
    return {
        "departments": departments,
        "groups": groups,
        "cycles": cycles,
        "items": {item.id: item for item in items},
        "truth": truth,
    }


class Attacker:
    """Collects every released figure as an equation over the cycle's unknown cells."""

    def __init__(self, attack: dict) -> None:
        self.attack = attack
        self.cells = {
            cycle_id: sorted(key for key in attack["truth"] if key[0] == cycle_id)
            for cycle_id in attack["cycles"].values()
        }
        self.rows: dict[int, set[tuple[int, ...]]] = {c: set() for c in self.cells}
        self.figures = 0

    def decode(self, cycle_id: int, n: float) -> list[tuple]:
        by_size = {self.attack["truth"][key]["responses"]: key for key in self.cells[cycle_id]}
        n = int(round(n))
        chosen = [key for size, key in by_size.items() if n & size]
        assert sum(self.attack["truth"][key]["responses"] for key in chosen) == n
        return chosen

    def learn(
        self,
        cycle_id: int,
        n: float | None,
        selection: set[tuple[int, int]],
        numerator: float | None = None,
        per_cell: Callable[[tuple], float] | None = None,
    ) -> None:
        """Record a figure resting on `n` responses; `numerator` is what it adds up of the
        quantity `per_cell` gives for each cell (a score total, an answer count ...)."""
        if n is None or pd.isna(n):
            return
        chosen = self.decode(cycle_id, n)
        # Nothing outside what was asked for (and within scope) ever enters a figure.
        assert {(key[1], key[2]) for key in chosen} <= selection
        if per_cell is not None:
            expected = sum(per_cell(key) for key in chosen)
            assert math.isclose(numerator, expected, rel_tol=1e-9, abs_tol=1e-6)
        self.rows[cycle_id].add(tuple(int(key in chosen) for key in self.cells[cycle_id]))
        self.figures += 1

    def score(self, measure: str) -> Callable[[tuple], float]:
        return lambda key: self.attack["truth"][key][("score", measure)]

    def count(self, item_id: int, columns: list[str]) -> Callable[[tuple], float]:
        return lambda key: sum(self.attack["truth"][key][("item", item_id)][c] for c in columns)

    def determined(self, cycle_id: int) -> dict[tuple, bool]:
        rows = np.asarray(sorted(self.rows[cycle_id]), dtype=float)
        rank = np.linalg.matrix_rank(rows)
        unknowns = len(self.cells[cycle_id])
        return {
            key: np.linalg.matrix_rank(np.vstack([rows, np.eye(unknowns)[j]])) == rank
            for j, key in enumerate(self.cells[cycle_id])
        }


@pytest.mark.slow  # about half a minute: it tries every combination of filters
def test_no_combination_of_filters_lets_an_attacker_solve_for_a_small_cell(
    attack: dict, engine: Engine
) -> None:
    departments, groups = attack["departments"], attack["groups"]
    items = attack["items"]
    nps_item = next(item for item in items.values() if item.scale == "nps")
    attacker = Attacker(attack)
    comment_outputs: dict[int, list[tuple[set, frozenset[str]]]] = {
        c: [] for c in attack["cycles"].values()
    }
    subsets = lambda values: [  # noqa: E731
        frozenset(chosen)
        for size in range(1, len(values) + 1)
        for chosen in itertools.combinations(values, size)
    ]
    with engine.connect() as connection:
        source = RollupSource(connection)
        for chosen_departments in subsets(sorted(departments.values())):
            for chosen_groups in subsets(sorted(groups.values())):
                selection = set(itertools.product(chosen_departments, chosen_groups))
                # The benchmark beside a part of the organisation: every department.
                whole = set(itertools.product(departments.values(), chosen_groups))
                scope = {
                    "departments": None,
                    "selected_departments": chosen_departments,
                    "staff_groups": chosen_groups,
                }
                for measure in ("index",):
                    trend = reporting.trends(source, measure=measure, **scope)
                    for row in trend.itertuples():
                        if not row.suppressed:
                            chosen = (
                                whole
                                if row.department == reporting.WHOLE_ORGANISATION
                                else selection
                                if pd.isna(row.department_id)
                                else {c for c in selection if c[0] == row.department_id}
                            )
                            attacker.learn(
                                row.cycle_id, row.n, chosen, row.value * row.n,
                                attacker.score(measure),
                            )  # fmt: skip
                for cycle_id in attack["cycles"].values():
                    overview = reporting.overview(source, cycle_id=cycle_id, **scope)
                    if overview.responses is not None:
                        attacker.learn(cycle_id, overview.responses, selection)
                    for key, figure in [("index", overview.index)] + [
                        (d.key, d.figure) for d in overview.dimensions
                    ]:
                        if not figure.suppressed:
                            attacker.learn(
                                cycle_id, figure.n, selection, figure.value * figure.n,
                                attacker.score(key),
                            )  # fmt: skip
                    if not overview.enps.suppressed:
                        promoters = attacker.count(nps_item.id, ["v9", "v10"])
                        detractors = attacker.count(nps_item.id, [f"v{v}" for v in range(7)])
                        attacker.learn(
                            cycle_id, overview.enps.n, selection,
                            overview.enps.value * overview.enps.n / 100,
                            lambda key: promoters(key) - detractors(key),  # noqa: B023
                        )  # fmt: skip
                    for moved in (*overview.declines, *overview.improvements):
                        attacker.learn(
                            cycle_id, moved.figure.n,
                            {c for c in selection if c[0] == moved.department_id},
                            moved.figure.value * moved.figure.n, attacker.score("index"),
                        )  # fmt: skip
                    heat = reporting.heatmap(source, cycle_id=cycle_id, **scope)
                    for cell in heat.cells:
                        if cell.figure.suppressed:
                            continue
                        chosen = (
                            whole
                            if cell.department == reporting.WHOLE_ORGANISATION
                            else selection
                            if cell.department_id is None
                            else {c for c in selection if c[0] == cell.department_id}
                        )
                        attacker.learn(
                            cycle_id, cell.figure.n, chosen, cell.figure.value * cell.figure.n,
                            attacker.score(cell.dimension),
                        )  # fmt: skip
                    by_division = reporting.heatmap(
                        source, cycle_id=cycle_id, by="division", **scope
                    )
                    for cell in by_division.cells:
                        if cell.figure.suppressed:
                            continue
                        within = {
                            departments[name]
                            for name, division in ATTACK_DIVISIONS.items()
                            if division == cell.department
                        }
                        chosen = (
                            whole
                            if cell.department == reporting.WHOLE_ORGANISATION
                            else selection
                            if cell.department_id is None
                            else {c for c in selection if c[0] in within}
                        )
                        attacker.learn(
                            cycle_id, cell.figure.n, chosen, cell.figure.value * cell.figure.n,
                            attacker.score(cell.dimension),
                        )  # fmt: skip
                    detail = reporting.item_distributions(source, cycle_id=cycle_id, **scope)
                    for row in detail.itertuples():
                        if row.suppressed:
                            continue
                        item = items[row.item_id]
                        for value in range(1, 6):
                            raw = 6 - value if item.reverse else value
                            attacker.learn(
                                cycle_id, row.n, selection, getattr(row, f"count_{value}"),
                                attacker.count(row.item_id, [f"v{raw}"]),
                            )  # fmt: skip
                    said = reporting.comments(source, cycle_id=cycle_id, **scope)
                    comment_outputs[cycle_id].append((selection, frozenset(said.texts)))
        for chosen_departments in subsets(sorted(departments.values())):
            selection = set(itertools.product(chosen_departments, groups.values()))
            for cycle_id in attack["cycles"].values():
                matrix = reporting.relationships(
                    source, cycle_id=cycle_id, departments=None,
                    selected_departments=chosen_departments,
                )  # fmt: skip
                for cell in matrix.cells:
                    if cell.figure.suppressed:
                        continue
                    rated = [
                        item
                        for item in items.values()
                        if (item.section == "groups" and item.about_group_id == cell.rated_id)
                        or (cell.rated_id is None and item.section == "patients")
                    ]
                    favourable = [
                        attacker.count(item.id, ["v1", "v2"] if item.reverse else ["v4", "v5"])
                        for item in rated
                    ]
                    attacker.learn(
                        cycle_id, cell.figure.n,
                        {c for c in selection if c[1] == cell.rater_id},
                        cell.figure.value / 100 * cell.figure.n * len(rated),
                        lambda key, parts=favourable: sum(part(key) for part in parts),
                    )  # fmt: skip

    assert attacker.figures > 10_000
    for cycle_number, cells in ATTACK_CELLS.items():
        cycle_id = attack["cycles"][cycle_number]
        pinned = attacker.determined(cycle_id)
        for (department, group), responses in cells.items():
            key = (cycle_id, departments[department], groups[group])
            if responses < ATTACK_MINIMUM:
                assert not pinned[key], f"cycle {cycle_number}: {department}/{group} solved"
        # Not vacuous: a large cell standing alone is pinned down, as it should be.
        assert pinned[(cycle_id, departments["A"], groups["nursing"])]

    # Comments are sets, not sums: group texts by which answers they appear in. Each class is
    # the finest an attacker can separate; it must come from at least the comment minimum.
    for cycle_id, outputs in comment_outputs.items():
        signature: dict[str, tuple[bool, ...]] = {}
        texts = {text for _, said in outputs for text in said}
        for text in texts:
            signature[text] = tuple(text in said for _, said in outputs)
        for selection, said in outputs:
            for text in said:
                _, department, group, _ = text.split("|")
                assert (departments[department], groups[group]) in selection
        classes: dict[tuple[bool, ...], set[tuple[str, str]]] = {}
        for text, shown_in in signature.items():
            _, department, group, _ = text.split("|")
            classes.setdefault(shown_in, set()).add((department, group))
        number = next(n for n, c in attack["cycles"].items() if c == cycle_id)
        for cells in classes.values():
            assert sum(ATTACK_CELLS[number][cell] for cell in cells) >= ATTACK_COMMENT_MINIMUM


def test_a_comment_search_keeps_those_with_every_word_ignoring_case_and_accents() -> None:
    found = Comments(
        ("Café handover was late", "Handover on time", "The cafe is closed"),
        suppressed=False,
        minimum=8,
    )
    assert found.matching("  ").texts == found.texts
    assert found.matching("HANDOVER").texts == ("Café handover was late", "Handover on time")
    assert found.matching("cafe handover").texts == ("Café handover was late",)
    assert found.matching("night shift").texts == ()


@backends()
def test_a_part_of_the_organisation_sees_the_whole_beside_it(hospital: dict) -> None:
    """#13: the benchmark a manager asks for first, released like every other figure."""
    engine, cycle = hospital["engine"], q4(hospital)
    emergency = hospital["departments"]["Emergency"]
    whole = reporting.heatmap(engine, cycle_id=cycle, departments=None)
    assert reporting.WHOLE_ORGANISATION not in [name for _, name in whole.rows]
    expected = {
        c.dimension: (c.figure.n, c.figure.value)
        for c in whole.cells
        if c.department == reporting.ALL_SELECTED
    }
    manager = reporting.heatmap(engine, cycle_id=cycle, departments=frozenset({emergency}))
    assert [name for _, name in manager.rows] == [reporting.WHOLE_ORGANISATION, "Emergency"]
    benchmark = {
        c.dimension: (c.figure.n, c.figure.value)
        for c in manager.cells
        if c.department == reporting.WHOLE_ORGANISATION
    }
    assert benchmark == expected
    assert any(n for n, _ in benchmark.values())
    line = reporting.trends(engine, departments=frozenset({emergency}))
    organisation = line[line["department"] == reporting.WHOLE_ORGANISATION]
    everyone = reporting.trends(engine, departments=None)
    assert reporting.WHOLE_ORGANISATION not in set(everyone["department"])
    total = everyone[everyone["department"] == reporting.ALL_SELECTED]
    assert organisation["value"].tolist() == pytest.approx(total["value"].tolist(), nan_ok=True)
    assert organisation["department_id"].isna().all()
    items = reporting.item_distributions(engine, cycle_id=cycle, departments=frozenset({emergency}))
    all_items = reporting.item_distributions(engine, cycle_id=cycle, departments=None)
    assert all_items["organisation_percent_favourable"].isna().all()
    assert items["organisation_percent_favourable"].tolist() == pytest.approx(
        all_items["percent_favourable"].tolist(), nan_ok=True
    )
    assert items["organisation_percent_favourable"].notna().any()


@backends()
def test_the_data_version_moves_with_what_results_show_and_only_with_that(
    engine: Engine,
) -> None:
    """Every replica keys its cached figures on it: a change through any of them must move it."""
    from surveys import audit

    def audited(action: str) -> None:
        with write_session(engine) as session:
            audit.record(session=session, actor="test", action=action)

    start = reporting.data_version(engine)
    audited("sign_in")
    audited("mail.send")
    assert reporting.data_version(engine) == start
    audited("department.rename")
    renamed = reporting.data_version(engine)
    assert renamed != start
    audited("cycle.close")
    assert reporting.data_version(engine) not in {start, renamed}
