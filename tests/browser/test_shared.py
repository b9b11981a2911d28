"""A share link on a phone: the summary's figures and plans without signing in; a wrong or
revoked link shows one sentence and names no department."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from surveys.access.accounts import AccountInfo
from surveys.actions import plans, sharing
from surveys.actions.records import PlanDraft, PlanStatus
from surveys.models import Department
from surveys.organisation.cycles import list_cycles
from surveys.reporting import overview
from surveys.storage import make_engine, read_session

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
FIRST_RENDER_MS = 90_000  # a cold server on two shared cores can take half a minute
ADMIN = AccountInfo(id=1, username="admin", role="admin", department_ids=None)
HOSTILE_TITLE = (
    "**Respect** <script>alert(1)</script> [charter](https://evil.example) www.evil.example"
)


@pytest.fixture(scope="module")
def shared(demo_database_url: str) -> dict:
    """2026 Q3's summary published afresh in the served demo (its own link was printed once),
    with a plan for Emergency whose title holds markup; and a revoked earlier link."""
    engine = make_engine(demo_database_url)
    q3 = {cycle.name: cycle.id for cycle in list_cycles(engine=engine)}["2026 Q3"]
    with read_session(engine) as session:
        departments = dict(session.execute(select(Department.name, Department.id)).all())
    plans.create_plan(
        engine=engine,
        viewer=ADMIN,
        status=PlanStatus.in_progress,
        draft=PlanDraft(
            title=HOSTILE_TITLE,
            actions="A shared handover checklist, tried in resus first.",
            due_on=date(2027, 3, 31),
            department_id=departments["Emergency"],
            owner="Charge nurse Ann Smith",
            show_owner=False,
            started_cycle_id=q3,
        ),
    )
    if sharing.shared_link(engine=engine, cycle_id=q3) is not None:
        sharing.revoke_summary(engine=engine, cycle_id=q3, actor="test")
    revoked = token_of(sharing.publish_summary(engine=engine, cycle_id=q3, actor="test"))
    sharing.revoke_summary(engine=engine, cycle_id=q3, actor="test")
    live = token_of(sharing.publish_summary(engine=engine, cycle_id=q3, actor="test"))
    whole = overview(engine, cycle_id=q3, departments=None)
    emergency = overview(
        engine,
        cycle_id=q3,
        departments=None,
        selected_departments=frozenset({departments["Emergency"]}),
    )
    engine.dispose()
    return {
        "live": live,
        "revoked": revoked,
        "whole": whole,
        "emergency": emergency,
        "departments": list(departments),
    }


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)[sharing.SHARE_PARAMETER][0]


def phone(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context(viewport={"width": 375, "height": 812}).new_page()


def test_a_share_link_on_a_phone_shows_the_figures_and_the_plans(
    new_context: Callable[..., BrowserContext], shared: dict
) -> None:
    page = phone(new_context)
    page.goto(f"/shared?k={shared['live']}")
    expect(page.get_by_role("heading", name="You said, we did")).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    whole, emergency = shared["whole"], shared["emergency"]
    index = page.get_by_test_id("stMetric").filter(has_text="Relationship Health Index")
    expect(index.get_by_test_id("stMetricValue")).to_have_text(f"{whole.index.value:.0f}")
    responses = page.get_by_test_id("stMetric").filter(has_text="Responses")
    expect(responses.get_by_test_id("stMetricValue")).to_have_text(f"{whole.responses:,}")
    expect(
        page.get_by_text(
            f"{emergency.responses:,} responses · Relationship Health Index "
            f"{emergency.index.value:.0f}"
        )
    ).to_be_visible()
    # The plan's title is shown as written, markup and all; its owner is not shown.
    expect(page.get_by_text(HOSTILE_TITLE, exact=True)).to_be_visible()
    expect(page.get_by_test_id("stMain").get_by_role("link")).to_have_count(0)
    expect(page.get_by_text("A shared handover checklist, tried in resus first.")).to_be_visible()
    expect(page.get_by_text("Ann Smith")).to_have_count(0)
    expect(page.get_by_text("Sign in to Attune")).to_have_count(0)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    # Nothing sticks out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "shared-summary-phone.png")
    desktop = new_context(viewport={"width": 1366, "height": 900}).new_page()
    desktop.goto(f"/shared?k={shared['live']}")
    expect(desktop.get_by_role("heading", name="Department by department")).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    desktop.screenshot(path=SCREENSHOTS / "shared-summary-desktop.png")


@pytest.mark.parametrize("link", ["revoked", "wrong"])
def test_a_revoked_or_wrong_link_shows_nothing_and_names_no_department(
    new_context: Callable[..., BrowserContext], shared: dict, link: str
) -> None:
    token = shared["revoked"] if link == "revoked" else "not-a-real-token-" + "x" * 26
    page = phone(new_context)
    page.goto(f"/shared?k={token}")
    expect(page.get_by_text(sharing.NOT_SHARED)).to_be_visible(timeout=FIRST_RENDER_MS)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    body = page.get_by_test_id("stMain").inner_text()
    for name in shared["departments"]:
        assert name not in body
    assert "2026 Q3" not in body
    page.screenshot(path=SCREENSHOTS / f"shared-summary-{link}-link-phone.png")
