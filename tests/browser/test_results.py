"""An administrator opens every results page in Chromium and finds each chart drawn."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from playwright.sync_api import BrowserContext, expect

from surveys.access.accounts import create_account
from surveys.organisation.cycles import create_cycle
from surveys.storage import make_engine
from tests.support import ROOT
from tests.support.browser import PHONE_AGENT, go_to, streamlit_server

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "screenshots"
FIRST_RENDER_MS = 90_000  # a cold server on two shared cores can take half a minute
USERNAME, PASSWORD = "results.admin", "a results page passphrase"
DRAFT_USERNAME = "draft.admin"  # its own account: the copy may already hold results.admin
CHART_PAGES = ["Overview", "Trends", "Heatmap", "Relationships", "Item detail"]


@pytest.fixture(scope="module")
def results_admin(demo_database_url: str) -> str:
    engine = make_engine(demo_database_url)
    create_account(engine=engine, username=USERNAME, role="admin", password=PASSWORD, actor="test")
    engine.dispose()
    return USERNAME


@pytest.mark.parametrize(
    ("form_factor", "width", "height"), [("desktop", 1280, 900), ("phone", 375, 812)]
)
def test_every_results_page_draws_its_charts(
    new_context: Callable[..., BrowserContext],
    results_admin: str,
    form_factor: str,
    width: int,
    height: int,
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    phone = form_factor == "phone"
    page = new_context(
        viewport={"width": width, "height": height}, user_agent=PHONE_AGENT if phone else None
    ).new_page()
    page.goto("/")
    page.get_by_label("Username").fill(results_admin, timeout=FIRST_RENDER_MS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Survey cycles")).to_be_visible(timeout=FIRST_RENDER_MS)
    for title in [*CHART_PAGES, "Comments"]:
        go_to(page, title)
        if title in CHART_PAGES:
            chart = page.locator(".js-plotly-plot svg.main-svg").first
            expect(chart).to_be_visible(timeout=FIRST_RENDER_MS)
        else:
            expect(page.get_by_text("in random order, without dates")).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
        if title == "Overview":
            # On a phone the filters fold away behind one line saying what is chosen.
            divisions = page.get_by_text("Divisions", exact=True)
            if phone:
                expect(page.get_by_text("· all departments · all staff groups")).to_be_visible()
                expect(divisions).not_to_be_visible()
                page.get_by_text("Filters", exact=True).click()
            expect(divisions).to_be_visible()
        if title == "Heatmap":
            # The chart is named for screen readers.
            expect(
                page.get_by_role("figure", name=re.compile(r"^Heatmap of percent favourable"))
            ).to_be_visible()
            # On a phone the cells keep to colour (and hover): numbers would not fit in them.
            template = page.evaluate(
                "document.querySelector('.js-plotly-plot').data[0].texttemplate"
            )
            assert template == ("" if phone else "%{text}")
        page.wait_for_timeout(300)  # let plotly finish its transitions before the picture
        name = title.lower().replace(" ", "-")
        page.screenshot(path=SCREENSHOTS / f"results-{name}-{form_factor}.png", full_page=True)


@pytest.fixture(scope="module")
def app_with_a_draft(
    demo_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second server, on a copy of the demo hospital where "2027 Q2" was just created."""
    folder = tmp_path_factory.mktemp("draft")
    copy = folder / "attune.db"
    shutil.copy(demo_database_url.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    create_account(
        engine=engine, username=DRAFT_USERNAME, role="admin", password=PASSWORD, actor="test"
    )
    create_cycle(
        engine=engine, name="2027 Q2", opens=date(2027, 4, 1), closes=date(2027, 5, 20), actor="t"
    )
    engine.dispose()
    with streamlit_server(url, folder) as served:
        yield served


@pytest.mark.parametrize(
    ("form_factor", "width", "height"), [("desktop", 1366, 768), ("phone", 375, 812)]
)
def test_a_new_draft_cycle_leaves_the_results_on_the_last_cycle_and_says_why_it_is_empty(
    new_context: Callable[..., BrowserContext],
    app_with_a_draft: str,
    form_factor: str,
    width: int,
    height: int,
) -> None:
    shots = SCREENSHOTS
    shots.mkdir(exist_ok=True)
    phone = form_factor == "phone"
    page = new_context(
        viewport={"width": width, "height": height}, user_agent=PHONE_AGENT if phone else None
    ).new_page()
    page.goto(app_with_a_draft)
    page.get_by_label("Username").fill(DRAFT_USERNAME, timeout=FIRST_RENDER_MS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Survey cycles")).to_be_visible(timeout=FIRST_RENDER_MS)
    go_to(page, "Overview")
    # The first chart of a fresh server waits on a cold cache: longer than a first render.
    expect(page.locator(".js-plotly-plot svg.main-svg").first).to_be_visible(
        timeout=3 * FIRST_RENDER_MS
    )
    if phone:
        page.get_by_text("Filters", exact=True).click()
    picker = page.get_by_role("combobox", name="Cycle", exact=True)
    expect(picker).to_have_value("2026 Q4 (open)")
    draft = page.get_by_role("option", name="2027 Q2 (not open yet)")
    # A rerun still settling (the phone's Filters expander just opened) can close the list as
    # it opens; a person would tap again, and so does the test, a few times at most.
    for _attempt in range(3):
        picker.click()
        try:
            expect(draft).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            page.keyboard.press("Escape")
    expect(draft).to_be_visible()
    page.screenshot(path=shots / f"picker-{form_factor}.png")
    draft.click()
    expect(page.get_by_text("2027 Q2 has not opened yet, so nobody has answered")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=shots / f"empty-overview-{form_factor}.png", full_page=True)
    go_to(page, "Heatmap")
    expect(page.get_by_text("2027 Q2 has not opened yet, so nobody has answered")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    page.screenshot(path=shots / f"empty-heatmap-{form_factor}.png", full_page=True)
