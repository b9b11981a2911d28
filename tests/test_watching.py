"""A manager watches the results of an open cycle while colleagues answer, and learns nobody's
answers (surveys/survey/steps.py).

The manager of Emergency notes every figure they can see (every report, every filter the pages
offer, the CSV downloads, the comments), a colleague answers, and they look again. Subtracting
two looks must rest on no respondent or on at least k of them: between two changes of anything
shown, at least k people answered. A control with the steps turned off shows that this very
attack recovers a colleague's answers, so the test can fail.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest
from sqlalchemy import Engine

from surveys import reporting
from surveys.config import get_settings
from surveys.organisation.cycles import change_cycle_state
from surveys.storage import write_session
from surveys.survey import rollups, steps
from surveys.survey.form import load_survey
from surveys.survey.submit import submit_survey
from tests.support.backends import backends
from tests.support.submission import full_answers, tokens

K = get_settings().min_group_size
COMMENT_MINIMUM = get_settings().min_comment_group_size
WATCHED = 3 * K - 1  # arrivals watched one at a time, as the issue asks
CYCLE = "2026 Q4"


@pytest.fixture(autouse=True)
def _drivers_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Key drivers at the lowest minimum allowed, so that the few watched here show some."""
    monkeypatch.setenv("ATTUNE_MIN_DRIVER_GROUP_SIZE", "10")
    get_settings.cache_clear()


@dataclass(frozen=True)
class Respondent:
    token: str
    likert: int
    comment: str


def answer(engine: Engine, respondent: Respondent, key: str) -> None:
    form = load_survey(engine=engine, token=respondent.token)
    submit_survey(
        engine=engine,
        token=respondent.token,
        submission_key=key,
        answers=full_answers(form, likert=respondent.likert, nps=respondent.likert * 2),
        comment=respondent.comment,
    )


def people(engine: Engine, survey: dict, count: int, department: str, seed: int) -> list:
    chosen = random.Random(seed)
    return [
        Respondent(token, chosen.randint(1, 5), f"{department} comment {seed}-{number}")
        for number, token in enumerate(tokens(engine, survey, count, department=department))
    ]


def _frame(result: object) -> str:
    return reporting.to_csv(result)  # type: ignore[arg-type]  # a report or its DataFrame


def looks(engine: Engine, survey: dict, scope: frozenset[int]) -> Iterator[tuple[str, object]]:
    """Everything the manager of `scope` can see of the open cycle, figure by figure."""
    cycle_id = survey["cycles"][CYCLE]
    groups = sorted(survey["groups"].values())
    group_choices = [None, *(frozenset({group}) for group in groups[:2])]
    for selected, chosen in itertools.product([None, scope], group_choices):
        filters = {"departments": scope, "selected_departments": selected, "staff_groups": chosen}
        name = f"{sorted(selected or [])}/{sorted(chosen or [])}"
        yield f"overview {name}", repr(reporting.overview(engine, cycle_id=cycle_id, **filters))
        yield f"heatmap {name}", _frame(reporting.heatmap(engine, cycle_id=cycle_id, **filters))
        items = reporting.item_distributions(engine, cycle_id=cycle_id, **filters)
        yield f"items {name}", _frame(items)
        yield f"trends {name}", _frame(reporting.trends(engine, **filters))
        shown = reporting.comments(engine, cycle_id=cycle_id, **filters)
        yield f"comments {name}", tuple(sorted(shown.texts))
        for outcome in ("enps", "overall"):
            drivers = reporting.key_drivers(engine, cycle_id=cycle_id, outcome=outcome, **filters)
            yield f"drivers {outcome} {name}", repr(drivers)
        yield f"focus {name}", repr(reporting.focus_areas(engine, cycle_id=cycle_id, **filters))
    for selected in (None, scope):
        matrix = reporting.relationships(
            engine, cycle_id=cycle_id, departments=scope, selected_departments=selected
        )
        yield f"matrix {sorted(selected or [])}", repr(matrix)
    rates = reporting.response_rates(engine, cycle_id=cycle_id, departments=scope)
    yield "response rates", repr(rates)
    yield "cycles", repr(reporting.cycle_summaries(engine))


def snapshot(engine: Engine, survey: dict, scope: frozenset[int]) -> dict[str, object]:
    return dict(looks(engine, survey, scope))


def item_counts(engine: Engine, survey: dict, scope: frozenset[int]) -> pd.DataFrame:
    """Item detail's answer counts for the whole of the manager's scope."""
    frame = reporting.item_distributions(
        engine, cycle_id=survey["cycles"][CYCLE], departments=scope
    )
    return frame.set_index("code")[[f"count_{value}" for value in range(1, 6)]]


def watch(
    engine: Engine, survey: dict, arrivals: int = WATCHED
) -> tuple[list[dict], list[pd.DataFrame], frozenset]:
    """Fill the cycle, then take a look before the watched arrivals and after each one."""
    emergency = survey["departments"]["Emergency"]
    scope = frozenset({emergency})
    before = people(engine, survey, K + 1, "Emergency", seed=1)
    # Enough in ICU that its released count stands alone for comments too, so that
    # Emergency's comments are not pooled across the manager's scope.
    icu = people(engine, survey, 2 * COMMENT_MINIMUM, "ICU", seed=2)
    watched = people(engine, survey, arrivals, "Emergency", seed=3)
    for number, respondent in enumerate(before + icu):
        answer(engine, respondent, f"before-{number}")
    seen = [snapshot(engine, survey, scope)]
    counts = [item_counts(engine, survey, scope)]
    for number, respondent in enumerate(watched):
        answer(engine, respondent, f"watched-{number}")
        seen.append(snapshot(engine, survey, scope))
        counts.append(item_counts(engine, survey, scope))
    return seen, counts, scope


def rounded(look: dict[str, object]) -> dict[str, object]:
    """Every decimal number in a look, to 9 significant digits."""
    return {
        name: re.sub(r"\d+\.\d+(e-?\d+)?", lambda m: f"{float(m.group()):.9g}", value)
        if isinstance(value, str)
        else value
        for name, value in look.items()
    }


def changes(seen: list[dict], *, comments: bool | None = None) -> list[int]:
    """The arrivals after which what the manager sees had changed (only the comments, only
    the rest, or everything)."""

    def part(look: dict) -> dict:
        if comments is None:
            return look
        return {k: v for k, v in look.items() if k.startswith("comments") == comments}

    return [n for n in range(1, len(seen)) if part(seen[n]) != part(seen[n - 1])]


@pytest.mark.slow  # 4 to 8 s: a whole cycle answered one form at a time, watched after each
@backends()
def test_a_manager_watching_an_open_cycle_learns_nobodys_answers(
    engine: Engine, survey: dict
) -> None:
    seen, counts, scope = watch(engine, survey)

    figures, comments = changes(seen, comments=False), changes(seen, comments=True)
    # The snapshot did move while the manager watched, or the test would prove nothing ...
    assert len(figures) >= 2 and comments, (figures, comments)
    # ... but only after at least k more people had answered each time.
    assert all(later - earlier >= K for earlier, later in itertools.pairwise(figures)), figures
    for number in range(1, len(seen)):
        # Every item's counts moved by nothing or by at least k answers, never by one person's.
        difference = (counts[number].fillna(0) - counts[number - 1].fillna(0)).sum(axis=1)
        assert difference.isin([0]).all() or (difference.abs() >= K).all(), difference
    # New comments appear in batches of at least the comment minimum, never one at a time.
    for name in (name for name in seen[0] if name.startswith("comments")):
        for earlier, later in itertools.pairwise(look[name] for look in seen):
            arrived = set(later) - set(earlier)  # type: ignore[call-overload]
            assert not arrived or len(arrived) >= COMMENT_MINIMUM, (name, arrived)
    # Emergency's comments did appear while the manager watched.
    assert seen[-1]["comments []/[]"] != seen[0]["comments []/[]"]
    # Key drivers were among what the manager saw move, and only with the rest.
    drivers = [
        n
        for n in range(1, len(seen))
        if seen[n]["drivers enps []/[]"] != seen[n - 1]["drivers enps []/[]"]
    ]
    assert drivers and set(drivers) <= set(figures), (drivers, figures)


@backends()
def test_without_steps_the_same_watching_recovers_a_colleagues_answers(
    engine: Engine, survey: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: were every arrival released at once, the attack would work."""
    every_time = get_settings().model_copy(
        update={"min_group_size": 1, "min_comment_group_size": 1}
    )
    monkeypatch.setattr(steps, "get_settings", lambda: every_time)
    seen, counts, _ = watch(engine, survey, arrivals=3)

    assert changes(seen) == list(range(1, len(seen)))
    last = (counts[-1].fillna(0) - counts[-2].fillna(0)).astype(int)
    # One colleague's every answer, read off two looks at Item detail.
    assert (last.sum(axis=1) == 1).all()
    new_comments = set(seen[-1]["comments []/[]"]) - set(seen[-2]["comments []/[]"])  # type: ignore[call-overload]
    assert len(new_comments) == 1


@backends()
def test_closing_the_cycle_shows_every_answer_exactly_as_a_rebuild(
    engine: Engine, survey: dict
) -> None:
    emergency = frozenset({survey["departments"]["Emergency"]})
    cycle_id = survey["cycles"][CYCLE]
    everyone = people(engine, survey, 2 * K + 3, "Emergency", seed=4)
    for number, respondent in enumerate(everyone):
        answer(engine, respondent, f"form-{number}")
    # Open: the last 3 wait for the next step.
    open_rates = reporting.response_rates(engine, cycle_id=cycle_id, departments=emergency)
    (open_department,) = open_rates.departments
    assert open_department.responses == 2 * K

    late = people(engine, survey, 1, "Emergency", seed=5)  # answers once reopened
    change_cycle_state(engine=engine, cycle_id=cycle_id, action="close", actor="boss")
    closed = snapshot(engine, survey, emergency)
    (department,) = reporting.response_rates(
        engine, cycle_id=cycle_id, departments=emergency
    ).departments
    assert department.responses == len(everyone)
    shown = reporting.comments(engine, cycle_id=cycle_id, departments=emergency)
    assert sorted(shown.texts) == sorted(respondent.comment for respondent in everyone)
    with write_session(engine) as session:
        rollups.rebuild(session=session, cycle_id=cycle_id)
    # Score sums added one response at a time and summed in one query may differ in the last
    # bits of a float; to 9 significant digits they are the same.
    assert rounded(snapshot(engine, survey, emergency)) == rounded(closed)

    # Reopened, it starts from everything shown at close, and moves in steps again.
    change_cycle_state(engine=engine, cycle_id=cycle_id, action="open", actor="boss")
    reopened = snapshot(engine, survey, emergency)
    stateless = {"cycles", "response rates"}  # these also name the cycle's state

    def figures(look: dict[str, object]) -> dict[str, object]:
        return {name: value for name, value in look.items() if name not in stateless}

    assert rounded(figures(reopened)) == rounded(figures(closed))
    answer(engine, late[0], "late")
    assert snapshot(engine, survey, emergency) == reopened
