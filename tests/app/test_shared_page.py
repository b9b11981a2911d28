"""The shared summary page, the Share results page and the thank-you link, through AppTest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from surveys.access.accounts import AccountInfo
from surveys.actions import plans, sharing
from surveys.actions.records import PlanDraft, PlanStatus
from surveys.config import get_settings
from surveys.models import Department, Division
from surveys.organisation.cycles import list_cycles
from surveys.reporting import overview
from surveys.storage import make_engine, read_session
from tests.support.accounts import use_fast_hashing
from tests.support.app import PAGES, new_app, signed_in
from tests.support.demo import copy_demo, use_copy

ADMIN = AccountInfo(id=1, username="admin", role="admin", department_ids=None)
SECRET = "a-link-secret-of-forty-characters-at-least"


@pytest.fixture(scope="module")
def demo_path(demo_hospital_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_hospital_file, tmp_path_factory.mktemp("shared"))


@pytest.fixture
def demo(demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A private copy of the demo hospital, its 2026 Q3 summary published by the demo."""
    use_fast_hashing(monkeypatch)
    engine = make_engine(use_copy(demo_path, tmp_path, monkeypatch))
    yield engine
    engine.dispose()


def cycle_ids(engine: Engine) -> dict[str, int]:
    return {cycle.name: cycle.id for cycle in list_cycles(engine=engine)}


def republish(engine: Engine, cycle: str = "2026 Q3") -> str:
    """The cycle's summary published afresh; returns its token (the demo's was shown once)."""
    cycle_id = cycle_ids(engine)[cycle]
    if sharing.shared_link(engine=engine, cycle_id=cycle_id) is not None:
        sharing.revoke_summary(engine=engine, cycle_id=cycle_id, actor="t")
    url = sharing.publish_summary(engine=engine, cycle_id=cycle_id, actor="t")
    return parse_qs(urlsplit(url).query)[sharing.SHARE_PARAMETER][0]


def names(engine: Engine) -> list[str]:
    with read_session(engine) as session:
        return [*session.scalars(select(Department.name)), *session.scalars(select(Division.name))]


def open_link(token: str | None) -> AppTest:
    at = new_app()
    if token is not None:
        at.query_params[sharing.SHARE_PARAMETER] = token
    at.run()
    assert not at.exception
    return at


def everything_shown(at: AppTest) -> str:
    parts = [
        element.value
        for kind in (at.title, at.header, at.subheader, at.markdown, at.text, at.info, at.caption)
        for element in kind
    ]
    parts += [f"{metric.label} {metric.value}" for metric in at.metric]
    return "\n".join(str(part) for part in parts)


def add_plan(engine: Engine, department: str, title: str, owner: str, show: bool) -> None:
    with read_session(engine) as session:
        department_id = session.scalars(
            select(Department.id).where(Department.name == department)
        ).one()
    plans.create_plan(
        engine=engine,
        viewer=ADMIN,
        status=PlanStatus.in_progress,
        draft=PlanDraft(
            title=title,
            actions=f"What will be done: {title.lower()}.",
            due_on=date(2027, 3, 31),
            department_id=department_id,
            owner=owner,
            show_owner=show,
            started_cycle_id=cycle_ids(engine)["2026 Q2"],
        ),
    )


def test_a_share_link_shows_the_reporting_layers_figures_and_the_plans(demo: Engine) -> None:
    add_plan(demo, "Emergency", "Handover checklist", "Charge nurse Ann Smith", show=False)
    add_plan(demo, "Intensive Care (ICU)", "Teamwork programme", "Dr Lee", show=True)
    token = republish(demo)
    at = open_link(token)
    assert [title.value for title in at.title] == ["You said, we did"]
    q3 = cycle_ids(demo)["2026 Q3"]
    whole = overview(demo, cycle_id=q3, departments=None)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics == {
        "Responses": f"{whole.responses:,}",
        "Response rate": f"{whole.response_rate:.0%}",
        "Relationship Health Index": f"{whole.index.value:.0f}",
        "eNPS": f"{whole.enps.value:+.0f}",
    }
    texts = [element.value for element in at.text]
    for dimension in (*whole.strongest, *whole.weakest):
        assert f"{dimension.label}: {dimension.figure.value:.0f}% favourable" in texts
    # Every department's own figures, computed here by the reporting layer for that scope.
    shown = everything_shown(at)
    with read_session(demo) as session:
        departments = list(session.scalars(select(Department)))
    for department in departments:
        own = overview(
            demo,
            cycle_id=q3,
            departments=None,
            selected_departments=frozenset({department.id}),
            movers=1,
        )
        line = (
            f"{own.responses:,} responses · Relationship Health Index {own.index.value:.0f}\n"
            f"Index {own.index.change:+.1f} since 2026 Q2"
        )
        assert line in shown, department.name
        strongest, weakest = own.strongest[0], own.weakest[0]
        assert (
            f"Going well: {strongest.label} ({strongest.figure.value:.0f}% favourable)\n"
            f"To work on: {weakest.label} ({weakest.figure.value:.0f}% favourable)"
        ) in shown
    # Plans as staff see them: the owner's name only where the author chose to show it.
    assert "What will be done: handover checklist." in texts
    assert "What will be done: teamwork programme." in texts
    assert "Led by Dr Lee" in shown
    assert "Ann Smith" not in shown
    # st.badge is Markdown: a status badge per plan.
    summary = sharing.summary_for_cycle(engine=demo, cycle_id=q3)
    in_progress = [
        plan
        for plans_of in (summary.organisation_plans, *(d.plans for d in summary.departments))
        for plan in plans_of
        if plan.status == "In progress"
    ]
    assert len(in_progress) >= 2
    assert sum("badge[In progress]" in element.value for element in at.markdown) == len(in_progress)


@pytest.mark.parametrize("link", ["revoked", "wrong", "empty"])
def test_a_revoked_or_wrong_link_shows_one_sentence_and_names_nothing(
    demo: Engine, link: str
) -> None:
    token = republish(demo)
    if link == "revoked":
        sharing.revoke_summary(engine=demo, cycle_id=cycle_ids(demo)["2026 Q3"], actor="t")
    else:
        token = {"wrong": token[:-1] + ("A" if token[-1] != "A" else "B"), "empty": ""}[link]
    at = open_link(token)
    assert [info.value for info in at.info] == [sharing.NOT_SHARED]
    assert not at.metric and not at.text and "badge" not in everything_shown(at)
    shown = everything_shown(at)
    for name in names(demo):
        assert name not in shown
    assert "2026 Q3" not in shown


def test_without_a_share_link_nothing_is_shown_before_signing_in(demo: Engine) -> None:
    at = open_link(None)
    assert [title.value for title in at.title] == ["Sign in to Attune"]
    assert not at.metric and not at.text
    for name in names(demo):
        assert name not in everything_shown(at)


def test_an_administrator_revokes_and_publishes_from_the_share_results_page(
    demo: Engine,
) -> None:
    q3 = cycle_ids(demo)["2026 Q3"]
    at = signed_in(demo, "admin")
    at.switch_page("app_pages/admin_sharing.py").run()
    assert not at.exception
    assert at.selectbox(key="share_cycle").value == q3
    # The demo's link was shown once, by `attune demo`: without the link secret it is gone.
    assert "shown once, when it was published" in everything_shown(at)
    assert at.button(key="share_publish").disabled
    at.button(key="share_revoke").click().run()
    assert not at.exception
    assert sharing.shared_link(engine=demo, cycle_id=q3) is None
    assert "Link revoked" in at.success[0].value
    at.button(key="share_publish").click().run()
    assert not at.exception
    (code,) = at.code
    url = code.value
    token = parse_qs(urlsplit(url).query)[sharing.SHARE_PARAMETER][0]
    assert sharing.cycle_for_token(engine=demo, token=token) == q3
    # A QR code of the link, for a poster, to look at and to download.
    (image,) = at.get("image")
    assert "QR code" in str(image.proto)
    (download,) = at.get("download_button")
    assert download.proto.label == "Download the QR code (PNG)"
    # An open cycle cannot be published: its button says so by being off.
    at.selectbox(key="share_cycle").set_value(cycle_ids(demo)["2026 Q4"]).run()
    assert at.button(key="share_publish").disabled and at.button(key="share_revoke").disabled


def thank_you(engine: Engine) -> AppTest:
    """The survey page just after a 2026 Q4 survey was sent."""
    at = new_app(PAGES / "survey.py")
    at.query_params["token"] = "sent"
    at.session_state["survey_link"] = "sent"
    at.session_state["survey_done"] = True
    at.session_state["survey_shared_before"] = cycle_ids(engine)["2026 Q4"]
    at.run()
    assert not at.exception
    assert at.title[0].value == "Thank you"
    return at


def test_the_thank_you_page_links_the_previous_cycles_summary(
    demo: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_LINK_SECRET", SECRET)
    get_settings.cache_clear()
    token = republish(demo)
    at = thank_you(demo)
    assert "What came of the 2026 Q3 survey" in everything_shown(at)
    (link,) = at.get("link_button")
    assert link.proto.url == sharing.share_url(token)


def test_without_the_link_secret_the_thank_you_page_shows_the_summary_itself(
    demo: Engine,
) -> None:
    at = thank_you(demo)
    assert not at.get("link_button")
    (expander,) = at.expander
    assert expander.label == "Read the 2026 Q3 summary"
    assert "Department by department" in [header.value for header in expander.header]


def test_a_thank_you_page_without_a_published_summary_says_nothing_of_it(demo: Engine) -> None:
    sharing.revoke_summary(engine=demo, cycle_id=cycle_ids(demo)["2026 Q3"], actor="t")
    at = thank_you(demo)
    assert not at.expander and not at.get("link_button")
    assert "You said, we did" not in everything_shown(at)


def test_the_demo_publishes_2026_q3_with_its_plans(demo: Engine) -> None:
    q3 = cycle_ids(demo)["2026 Q3"]
    live = sharing.shared_link(engine=demo, cycle_id=q3)
    assert live is not None and live.published_by == "attune demo"
    summary = sharing.summary_for_cycle(engine=demo, cycle_id=q3)
    statuses = {d.department: [p.status for p in d.plans] for d in summary.departments}
    assert statuses["Intensive Care (ICU)"] == ["Done"]
    assert statuses["Emergency"] == ["In progress"]
    assert [plan.status for plan in summary.organisation_plans] == ["In progress"]


def test_a_plan_made_after_the_page_was_opened_shows_on_the_next_visit(demo: Engine) -> None:
    token = republish(demo)
    at = open_link(token)
    assert "What will be done: rota review." not in [element.value for element in at.text]
    add_plan(demo, "Oncology", "Rota review", "", show=False)
    at.run()
    assert not at.exception
    assert "What will be done: rota review." in [element.value for element in at.text]
