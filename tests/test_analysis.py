"""`attune comments analyse` and the runner: themes and tones stored in a batch, and released
only through the comment minimum."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update
from typer.testing import CliRunner

from surveys import reporting
from surveys.analysis import analyse_comments, count_to_analyse
from surveys.cli import app
from surveys.config import get_settings
from surveys.jobs import run_due
from surveys.models import Comment, CommentAnalysis, SurveyCycle
from surveys.reporting.themes import NEGATIVE, POSITIVE, Analysis
from surveys.storage import make_engine, new_random_id, read_session, write_session
from surveys.survey import rollups
from tests.support.backends import backends
from tests.support.demo import copy_demo
from tests.test_reporting import build_survey, submit


class ByPrefix:
    """An analyser that reads the theme from "theme: ..." and the tone from a "!" at the end."""

    def analyse(self, texts: Sequence[str]) -> list[Analysis]:
        return [
            Analysis(text.split(":")[0], NEGATIVE if text.endswith("!") else POSITIVE)
            for text in texts
        ]


# Emergency nurses wrote 9 comments (a group of its own); ICU nurses 2, too few to show.
EMERGENCY = [f"workload and staffing: short {n}!" for n in range(5)] + [
    "respect: kind colleagues",
    "respect: rude consultant!",
    "boundaries: phoned on leave!",
    "timeliness: bleeps answered fast",
]
ICU = ["boundaries: messages on days off!", "boundaries: no breaks!"]


@pytest.fixture
def ward(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "3")
    monkeypatch.setenv("ATTUNE_MIN_COMMENT_GROUP_SIZE", "4")
    get_settings.cache_clear()
    survey = build_survey(engine)
    cells = {("Emergency", "nursing"): ([4] * 9, [9] * 9), ("ICU", "nursing"): ([2] * 3, [3] * 3)}
    submit(engine, survey, "2026 Q4", cells, {})
    cycle_id = survey["cycles"]["2026 Q4"]
    rows = [
        {
            "id": new_random_id(),
            "cycle_id": cycle_id,
            "department_id": survey["departments"][department],
            "staff_group_id": survey["groups"]["nursing"],
            "text": text,
        }
        for department, texts in (("Emergency", EMERGENCY), ("ICU", ICU))
        for text in texts
    ]
    with write_session(engine) as session:
        session.execute(insert(Comment), rows)
        rollups.rebuild(session=session, cycle_id=cycle_id)
    return survey | {"engine": engine, "cycle_id": cycle_id}


def stored(engine: Engine) -> dict[str, tuple[str, str]]:
    with read_session(engine) as session:
        rows = session.execute(
            select(Comment.text, CommentAnalysis.theme, CommentAnalysis.tone).join(
                CommentAnalysis, CommentAnalysis.comment_id == Comment.id
            )
        )
        return {text: (theme, tone) for text, theme, tone in rows}


@backends()
def test_each_comment_is_analysed_once_and_again_with_all(ward: dict) -> None:
    engine = ward["engine"]
    assert count_to_analyse(engine) == 11
    heard: list[int] = []
    assert analyse_comments(engine, analyser=ByPrefix(), batch_size=4, progress=heard.append) == 11
    assert heard == [4, 4, 3]
    assert stored(engine)["respect: rude consultant!"] == ("respect", NEGATIVE)
    assert count_to_analyse(engine) == 0
    assert analyse_comments(engine, analyser=ByPrefix()) == 0
    assert analyse_comments(engine, analyser=ByPrefix(), everything=True) == 11
    assert len(stored(engine)) == 11


def test_an_open_cycle_s_comments_wait_for_their_release(ward: dict) -> None:
    engine = ward["engine"]
    with write_session(engine) as session:
        session.execute(
            update(SurveyCycle).where(SurveyCycle.id == ward["cycle_id"]).values(state="open")
        )
    assert count_to_analyse(engine) == 0
    with write_session(engine) as session:
        session.execute(update(Comment).values(released=True))
    assert count_to_analyse(engine) == 11


def test_the_runner_analyses_new_comments(ward: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("surveys.analysis.default_analyser", lambda: ByPrefix())
    report = run_due(ward["engine"])
    assert report.analysed == 11
    assert "Analysed 11 comment(s)." in report.lines()
    assert run_due(ward["engine"]).analysed == 0


@backends()
def test_theme_counts_come_only_from_released_comments_and_never_by_subtraction(
    ward: dict,
) -> None:
    engine, departments = ward["engine"], ward["departments"]
    analyse_comments(engine, analyser=ByPrefix())
    everyone = reporting.comments(engine, cycle_id=ward["cycle_id"], departments=None)
    emergency = reporting.comments(
        engine,
        cycle_id=ward["cycle_id"],
        departments=None,
        selected_departments=frozenset({departments["Emergency"]}),
    )
    icu = reporting.comments(
        engine,
        cycle_id=ward["cycle_id"],
        departments=None,
        selected_departments=frozenset({departments["ICU"]}),
    )
    counted = [(c.theme, c.count, c.negative) for c in everyone.themes_counted]
    # Respect (2), boundaries (1 + ICU's 2) and timeliness (1) are each below 4: "other".
    assert counted == [("workload and staffing", 5, 5), ("other", 6, 4)]
    # ICU's 2 comments share their release group with Emergency's, so neither department is
    # shown alone: there is no "everyone minus Emergency" to subtract.
    assert emergency.suppressed and emergency.themes_counted == ()
    assert icu.suppressed and icu.themes_counted == () and icu.texts == ()
    assert all(c.count >= 4 for c in everyone.themes_counted)


def test_each_comment_shows_its_counted_theme_and_tone(ward: dict) -> None:
    analyse_comments(ward["engine"], analyser=ByPrefix())
    result = reporting.comments(ward["engine"], cycle_id=ward["cycle_id"], departments=None)
    table = result.table()
    assert list(table.columns) == ["comment", "theme", "sentiment"]
    shown = dict(zip(table["comment"], table["theme"], strict=True))
    assert shown["respect: kind colleagues"] == "other"
    assert shown["boundaries: no breaks!"] == "other"
    assert shown["workload and staffing: short 0!"] == "workload and staffing"
    staffing = result.about("workload and staffing")
    assert sorted(staffing.texts) == sorted(EMERGENCY[:5])
    assert set(staffing.tones) == {NEGATIVE}
    assert result.about("other").matching("kind").texts == ("respect: kind colleagues",)


def test_comments_not_yet_analysed_say_so(ward: dict) -> None:
    result = reporting.comments(ward["engine"], cycle_id=ward["cycle_id"], departments=None)
    assert result.not_analysed == 11 and result.themes_counted == ()
    assert set(result.table()["theme"]) == {"not analysed yet"}


def test_the_command_analyses_with_a_progress_bar(
    ward: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", str(ward["engine"].url))
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(app, ["comments", "analyse"])
    assert result.exit_code == 0, result.output
    assert "Analysing 11 comment(s)" in result.output
    assert "Analysed 11 comment(s) with wordllama." in result.output
    assert runner.invoke(app, ["comments", "analyse"]).output == (
        "Every comment is analysed already.\n"
    )


def test_themes_across_cycles_only_when_every_cycle_passes(ward: dict) -> None:
    engine = ward["engine"]
    analyse_comments(engine, analyser=ByPrefix())
    # Q3 has no comments at all: no chart, rather than a shown cycle beside a hidden one.
    history = reporting.theme_trends(engine, cycle_id=ward["cycle_id"], departments=None)
    assert history.empty
    assert list(history.columns)[:3] == ["cycle_id", "cycle", "theme"]


def test_themes_across_cycles_of_a_demo_history(demo_hospital_file: Path, tmp_path: Path) -> None:
    from surveys.organisation.cycles import list_cycles

    engine = make_engine(f"sqlite:///{copy_demo(demo_hospital_file, tmp_path)}")
    analyse_comments(engine)
    newest = list_cycles(engine=engine)[-1]
    history = reporting.theme_trends(engine, cycle_id=newest.id, departments=None)
    assert history["cycle_id"].nunique() > 1
    assert (history["comments"] >= get_settings().min_comment_group_size).all()
