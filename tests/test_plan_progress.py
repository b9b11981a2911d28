"""The demo's action plans, and each plan's figures since it began: the released trends, picked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from dashboard.charts import plan_progress_chart
from surveys import reporting
from surveys.access.accounts import account_named
from surveys.actions import plans
from surveys.actions.plans import PlanRecord, PlanStatus
from surveys.reporting.figures import Figure
from surveys.reporting.plan_progress import PlanProgress, ProgressPoint, plan_progress
from tests.support.demo import copy_demo, demo_engine


@pytest.fixture(scope="module")
def demo_path(demo_hospital_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_hospital_file, tmp_path_factory.mktemp("plans"))


@pytest.fixture
def demo(demo_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from demo_engine(demo_path, monkeypatch)


def demo_plans(engine: Engine) -> dict[str, PlanRecord]:
    admin = account_named(engine=engine, username="admin")
    return {plan.title: plan for plan in plans.plans_visible_to(engine=engine, viewer=admin)}


def progress(engine: Engine, plan: PlanRecord, scope: frozenset[int] | None = None):
    return plan_progress(
        engine,
        departments=scope,
        department_id=plan.department_id,
        since_cycle_id=plan.started_cycle_id,
        dimension_key=plan.dimension_key,
        from_group_id=plan.from_group_id,
        to_group_id=plan.to_group_id,
    )


def test_the_demo_tells_the_three_plan_stories(demo: Engine) -> None:
    found = demo_plans(demo)
    summary = {
        title: (plan.department, plan.started_cycle, plan.status, plan.overdue, len(plan.notes))
        for title, plan in found.items()
    }
    assert summary == {
        "ICU teamwork programme": (
            "Intensive Care (ICU)", "2025 Q3", PlanStatus.done, False, 0,
        ),
        "Nurses and physicians: rebuilding respect at handover": (
            "Emergency", "2026 Q2", PlanStatus.in_progress, False, 0,
        ),
        "Act on administrative staff's feedback": (
            "Whole organisation", "2026 Q1", PlanStatus.in_progress, True, 0,
        ),
    }  # fmt: skip
    admin = account_named(engine=demo, username="admin")
    for plan in found.values():
        assert plans.plan(engine=demo, viewer=admin, plan_id=plan.id).notes  # noted since
    # The Emergency manager sees Emergency's plan and no other.
    manager = account_named(engine=demo, username="ed.manager")
    assert [plan.department for plan in plans.plans_visible_to(engine=demo, viewer=manager)] == [
        "Emergency"
    ]


def test_a_plans_figures_are_the_released_trend_from_the_cycle_it_began(demo: Engine) -> None:
    icu = demo_plans(demo)["ICU teamwork programme"]
    shown = progress(demo, icu)
    assert shown is not None
    assert [point.cycle for point in shown.points] == [
        "2025 Q3", "2025 Q4", "2026 Q1", "2026 Q2", "2026 Q3", "2026 Q4",
    ]  # fmt: skip
    trend = reporting.trends(
        demo,
        departments=None,
        measure="team_support",
        selected_departments=frozenset({icu.department_id}),
    )
    trend = trend[trend["department_id"] == icu.department_id].set_index("cycle")
    for point in shown.points:
        expected = trend.loc[point.cycle, "value"]
        assert (point.figure.value is None) == pd.isna(expected)
        if point.figure.value is not None:
            assert point.figure.value == pytest.approx(float(expected))
    # The programme worked, and the page says so in words.
    assert shown.verdict.startswith("Team support: ")
    assert "more than chance would explain" in shown.verdict
    assert "up " in shown.verdict


def test_a_relationship_plan_follows_the_pair_in_the_relationship_trend(demo: Engine) -> None:
    emergency = demo_plans(demo)["Nurses and physicians: rebuilding respect at handover"]
    shown = progress(demo, emergency)
    assert shown is not None
    assert shown.measure == "How nursing staff see working with physicians"
    history = reporting.relationship_trends(
        demo, departments=None, selected_departments=frozenset({emergency.department_id})
    )
    pair = history[
        (history["rater_id"] == emergency.from_group_id)
        & (history["rated_id"] == emergency.to_group_id)
    ].set_index("cycle")
    assert [point.cycle for point in shown.points] == ["2026 Q2", "2026 Q3", "2026 Q4"]
    for point in shown.points:
        assert point.figure.value == pytest.approx(pair.loc[point.cycle, "value"])


def test_a_plans_figures_never_reach_outside_the_viewers_departments(demo: Engine) -> None:
    found = demo_plans(demo)
    manager = account_named(engine=demo, username="ed.manager")
    icu = found["ICU teamwork programme"]
    # Asked for ICU with the Emergency manager's scope: nothing is released.
    shown = progress(demo, icu, scope=manager.department_ids)
    assert shown is not None
    assert all(point.figure.suppressed for point in shown.points)
    # The whole organisation's plan, seen by that manager, covers only their departments.
    feedback = found["Act on administrative staff's feedback"]
    theirs = progress(demo, feedback, scope=manager.department_ids)
    everyone = progress(demo, feedback)
    assert theirs is not None and everyone is not None
    assert theirs.where == "All your departments"
    assert everyone.where == "The whole organisation"
    assert [p.figure.n for p in theirs.points] != [p.figure.n for p in everyone.points]


def test_a_plan_that_addresses_nothing_has_no_figures(demo: Engine) -> None:
    icu = demo_plans(demo)["ICU teamwork programme"]
    assert (
        plan_progress(
            demo,
            departments=None,
            department_id=icu.department_id,
            since_cycle_id=icu.started_cycle_id,
        )
        is None
    )


def test_the_plan_chart_leaves_a_gap_where_a_figure_is_suppressed() -> None:
    points = (
        ProgressPoint(1, "2026 Q1", date(2026, 1, 12), Figure(40.0, 35.0, 45.0, 80, False)),
        ProgressPoint(2, "2026 Q2", date(2026, 4, 12), Figure(None, None, None, 0, True)),
        ProgressPoint(3, "2026 Q3", date(2026, 7, 12), Figure(55.0, 50.0, 60.0, 90, False)),
    )
    figure = plan_progress_chart(PlanProgress("Feedback acted on", "Billing", points, "", 5))
    line = next(trace for trace in figure.data if trace.mode == "lines+markers")
    assert list(line.y) == [40.0, None, 55.0]
    assert [annotation.text for annotation in figure.layout.annotations] == ["Plan began"]
    assert figure.layout.annotations[0].x == "2026 Q1"
