"""The demo hospital: deterministic, realistic, and telling the stories it promises."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from surveys.demo import DatabaseNotEmpty, load_demo
from surveys.invitations.used import used_clause
from surveys.models import (
    Answer,
    CellRollup,
    Comment,
    Department,
    Division,
    Invitation,
    ItemRollup,
    Response,
    SurveyCycle,
)
from surveys.storage import make_engine, migrate, read_session
from tests.support.demo import copy_demo


@pytest.fixture(scope="module")
def demo_engine(demo_hospital_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One demo hospital on SQLite (the run's, loaded by `load_demo` once) shared by the
    read-only tests in this module."""
    path = copy_demo(demo_hospital_file, tmp_path_factory.mktemp("demo"))
    return make_engine(f"sqlite:///{path}")


def fingerprint(engine: Engine) -> dict:
    with read_session(engine) as session:
        return {
            "responses": sorted(session.scalars(select(Response.id))),
            "rollups": sorted(tuple(row) for row in session.execute(select(ItemRollup.__table__))),
            "comments": Counter(session.scalars(select(Comment.text))),
            "invitations": sorted(session.scalars(select(Invitation.token_hash))),
        }


def percent_favourable(engine: Engine, where: str, **params: object) -> dict[str, float]:
    """Percent favourable per cycle for the rollup rows matching `where`."""
    query = text(
        "SELECT c.name, 100.0 * SUM(CASE WHEN i.reverse THEN r.v1 + r.v2 ELSE r.v4 + r.v5 END)"
        " / SUM(r.v1 + r.v2 + r.v3 + r.v4 + r.v5)"
        " FROM item_rollup r JOIN item i ON i.id = r.item_id"
        " JOIN survey_cycle c ON c.id = r.cycle_id"
        " JOIN department d ON d.id = r.department_id"
        " JOIN staff_group g ON g.id = r.staff_group_id"
        f" WHERE {where} GROUP BY c.name ORDER BY c.name"
    )
    with engine.connect() as connection:
        return dict(connection.execute(query, params).all())


def index_by_cycle(engine: Engine, department: str) -> list[float]:
    query = text(
        "SELECT SUM(s.total) / SUM(s.n) FROM score_rollup s"
        " JOIN survey_cycle c ON c.id = s.cycle_id JOIN department d ON d.id = s.department_id"
        " WHERE s.measure = 'index' AND d.name = :name GROUP BY c.name ORDER BY c.name"
    )
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(query, {"name": department})]


def test_demo_is_deterministic(demo_engine: Engine, tmp_path) -> None:
    again = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    migrate(again)
    summary = load_demo(again)
    assert summary.responses > 10_000
    assert fingerprint(again) == fingerprint(demo_engine)


def test_demo_builds_a_hospital_of_realistic_size(demo_engine: Engine) -> None:
    with read_session(demo_engine) as session:
        divisions = session.scalar(select(func.count()).select_from(Division))
        departments = set(session.scalars(select(Department.name)))
        cycles = session.execute(select(SurveyCycle.name, SurveyCycle.state)).all()
        invited = session.scalar(
            select(func.count())
            .select_from(Invitation)
            .join(SurveyCycle, SurveyCycle.id == Invitation.cycle_id)
            .where(SurveyCycle.name == "2026 Q3")
        )
    assert divisions == 3
    assert len(departments) == 14
    assert {"Emergency", "Intensive Care (ICU)", "Pharmacy", "Billing"} <= departments
    assert len(cycles) == 8
    assert [state for _, state in sorted(cycles)] == ["closed"] * 7 + ["open"]
    assert 2300 <= invited <= 2700


def test_demo_response_rates_lie_between_55_and_80_percent(demo_engine: Engine) -> None:
    with read_session(demo_engine) as session:
        responses = dict(
            session.execute(
                select(CellRollup.cycle_id, func.sum(CellRollup.responses)).group_by(
                    CellRollup.cycle_id
                )
            ).all()
        )
        invited = dict(
            session.execute(
                select(Invitation.cycle_id, func.count()).group_by(Invitation.cycle_id)
            ).all()
        )
        used = dict(
            session.execute(
                select(Invitation.cycle_id, func.count())
                .where(used_clause())
                .group_by(Invitation.cycle_id)
            ).all()
        )
    assert len(responses) == 8
    for cycle_id, count in responses.items():
        assert 0.55 <= count / invited[cycle_id] <= 0.80
        assert used[cycle_id] == count  # every response used exactly one invitation


def test_demo_rollups_agree_with_raw_rows(demo_engine: Engine) -> None:
    with read_session(demo_engine) as session:
        responses = session.scalar(select(func.count()).select_from(Response))
        answers = session.scalar(select(func.count()).select_from(Answer))
        comments = session.scalar(select(func.count()).select_from(Comment))
        cells = session.execute(
            select(func.sum(CellRollup.responses), func.sum(CellRollup.comments))
        ).one()
        rolled_answers = session.scalar(
            text(
                "SELECT SUM(n_na + v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7 + v8 + v9 + v10)"
                " FROM item_rollup"
            )
        )
    assert cells == (responses, comments)
    assert rolled_answers == answers
    assert comments > 0.1 * responses


def test_emergency_nurses_respect_for_physicians_declines_over_the_last_year(
    demo_engine: Engine,
) -> None:
    trend = percent_favourable(
        demo_engine,
        "d.name = 'Emergency' AND g.key = 'nursing' AND i.code = 'respect.physicians'",
    )
    first_year, last_year = list(trend.values())[:4], list(trend.values())[4:]
    assert min(first_year) > 50
    assert last_year == sorted(last_year, reverse=True)
    assert last_year[-1] < min(first_year) - 25
    # Physicians see it less sharply, so the relationship matrix shows an asymmetry.
    mirror = percent_favourable(
        demo_engine,
        "d.name = 'Emergency' AND g.key = 'physicians' AND i.code = 'respect.nursing'",
    )
    assert list(mirror.values())[-1] > last_year[-1] + 15


def test_icu_improves_after_its_teamwork_programme(demo_engine: Engine) -> None:
    trend = index_by_cycle(demo_engine, "Intensive Care (ICU)")
    assert max(trend[:3]) < min(trend[4:])
    assert trend[-1] - trend[0] > 15


def test_administrative_staff_feel_their_feedback_is_ignored(demo_engine: Engine) -> None:
    by_group = {}
    for group in ("nursing", "physicians", "allied_health", "administrative"):
        scores = percent_favourable(demo_engine, "g.key = :group AND i.key = 'feedback'",
                                    group=group)  # fmt: skip
        by_group[group] = sum(scores.values()) / len(scores)
    assert by_group["administrative"] == min(by_group.values())
    assert (
        by_group["administrative"]
        < min(score for group, score in by_group.items() if group != "administrative") - 20
    )


def test_demo_refuses_a_database_that_already_holds_data(demo_engine: Engine) -> None:
    with read_session(demo_engine) as session:
        before = session.scalar(select(func.count()).select_from(Response))
    with pytest.raises(DatabaseNotEmpty, match="empty database"):
        load_demo(demo_engine)
    with read_session(demo_engine) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == before


# 15 s: the whole demo hospital loaded again. On SQLite that is test_demo_is_deterministic.
@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_demo_loads_identically_on_each_backend(engine: Engine, demo_engine: Engine) -> None:
    summary = load_demo(engine)
    assert summary.responses > 10_000
    assert fingerprint(engine) == fingerprint(demo_engine)
