"""Action plans in Chromium: the demo's plans on a desktop and a phone, and hostile plan text
shown exactly as written, never as markup."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, expect

from surveys.access.accounts import account_named, create_account
from surveys.actions import plans
from surveys.actions.plans import PlanDraft
from surveys.clock import utc_now
from surveys.organisation.structure import department_ids_by_name
from surveys.storage import make_engine, read_session
from tests.support import ROOT
from tests.support.browser import PHONE_AGENT, go_to, streamlit_server
from tests.support.hostile import MARKUP

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "screenshots"
FIRST_RENDER_MS = 90_000  # a cold server on two shared cores can take half a minute
PASSWORD = "an action plans passphrase"


def picture(page: Page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its own container, so the window is made as
    tall as the content for the picture, then put back."""
    size = page.viewport_size
    assert size is not None
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('[data-testid=stMain], section')]"
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.wait_for_timeout(500)  # let plotly redraw at the new size
    page.screenshot(path=SCREENSHOTS / name)
    page.set_viewport_size(size)


def sign_in(page: Page, username: str, url: str = "/") -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username, timeout=FIRST_RENDER_MS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Survey cycles")).to_be_visible(timeout=FIRST_RENDER_MS)


def open_plan(page: Page, plan_id: int) -> None:
    page.locator(f".st-key-open_plan_{plan_id} button").click()
    expect(page.get_by_role("heading", name="What will be done")).to_be_visible()
    expect(page.get_by_text("Action plan", exact=True)).to_be_visible()


@pytest.fixture(scope="module")
def plans_admin(demo_database_url: str) -> str:
    engine = make_engine(demo_database_url)
    create_account(
        engine=engine, username="plans.admin", role="admin", password=PASSWORD, actor="t"
    )
    engine.dispose()
    return "plans.admin"


@pytest.mark.parametrize(
    ("form_factor", "width", "height"), [("desktop", 1366, 768), ("phone", 375, 812)]
)
def test_the_demo_plans_show_their_status_and_whether_they_worked(
    new_context: Callable[..., BrowserContext],
    plans_admin: str,
    demo_database_url: str,
    form_factor: str,
    width: int,
    height: int,
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    phone = form_factor == "phone"
    page = new_context(
        viewport={"width": width, "height": height}, user_agent=PHONE_AGENT if phone else None
    ).new_page()
    sign_in(page, plans_admin)
    go_to(page, "Action plans")
    # The overdue plan says so in words, first in the list.
    expect(page.get_by_text("Overdue: was due").first).to_be_visible()
    expect(page.get_by_text("Act on administrative staff's feedback")).to_be_visible()
    picture(page, f"action-plans-list-{form_factor}.png")

    engine = make_engine(demo_database_url)
    admin = account_named(engine=engine, username=plans_admin)
    icu = next(
        plan
        for plan in plans.plans_visible_to(engine=engine, viewer=admin)
        if plan.title == "ICU teamwork programme"
    )
    engine.dispose()
    open_plan(page, icu.id)
    expect(page.get_by_text("Team support: ").first).to_be_visible()
    expect(page.locator(".js-plotly-plot svg.main-svg").first).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    expect(
        page.get_by_text("Programme complete. The huddle stays as normal practice.")
    ).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    picture(page, f"action-plans-detail-{form_factor}.png")

    page.get_by_role("button", name="All plans").click()
    page.get_by_text("Across the organisation", exact=True).click()
    expect(page.get_by_text("By department")).to_be_visible()
    picture(page, f"action-plans-overview-{form_factor}.png")
    page.get_by_text("New plan", exact=True).click()
    expect(page.get_by_role("textbox", name="What will be done")).to_be_visible()
    picture(page, f"action-plans-new-{form_factor}.png")


@pytest.fixture(scope="module")
def hostile_app(
    demo_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, int]]]:
    """A server on a copy of the demo where Emergency has one plan per hostile text (as its
    title, what will be done, owner and a note)."""
    folder = tmp_path_factory.mktemp("hostile-plans")
    copy = folder / "attune.db"
    shutil.copy(demo_database_url.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    create_account(
        engine=engine, username="hostile.admin", role="admin", password=PASSWORD, actor="t"
    )
    admin = account_named(engine=engine, username="hostile.admin")
    with read_session(engine) as session:
        emergency = next(iter(department_ids_by_name(session=session, names=["Emergency"])))
    made = {}
    for case, hostile in MARKUP.items():
        made[case] = plans.create_plan(
            engine=engine,
            viewer=admin,
            draft=PlanDraft(
                title=hostile,
                actions=hostile,
                owner=hostile,
                due_on=utc_now().date() + timedelta(days=30),
                department_id=emergency,
                dimension_key="respect",
            ),
        )
        plans.add_progress_note(engine=engine, viewer=admin, plan_id=made[case], note=hostile)
    engine.dispose()
    with streamlit_server(url, folder) as served:
        yield served, made


def test_hostile_plan_text_is_shown_as_plain_text(
    new_context: Callable[..., BrowserContext], hostile_app: tuple[str, dict[str, int]]
) -> None:
    served, made = hostile_app
    page = new_context(viewport={"width": 1366, "height": 900}).new_page()
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    sign_in(page, "hostile.admin", served)
    go_to(page, "Action plans")
    for case, plan_id in made.items():
        hostile = MARKUP[case]
        # In the list, then on the plan's own page: the title, what will be done, the owner
        # and the note, each exactly as written.
        expect(page.get_by_text(hostile, exact=True).first).to_be_visible()
        open_plan(page, plan_id)
        # The title, what will be done, and the note.
        shown_as_text = page.get_by_test_id("stText").get_by_text(hostile, exact=True)
        expect(shown_as_text).to_have_count(3)
        expect(page.get_by_text(f"{hostile} (not shown to staff)", exact=True)).to_be_visible()
        for selector in (
            "main a[href*='evil.example']",
            "main a[href^='javascript']",
            "main img[src='x']",
            "main img[src*='evil.example']",
            "main .katex",
            "main script",
            "main strong:text-is('bold')",
            "main em:text-is('italic')",
        ):
            expect(page.locator(selector)).to_have_count(0)
        page.get_by_role("button", name="All plans").click()
        expect(page.get_by_text("Across the organisation", exact=True)).to_be_visible()
    assert dialogs == []
