"""The landing page in a real Chromium, at desktop and phone widths, with screenshots."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from surveys.access.accounts import create_account
from surveys.storage import make_engine
from tests.support.browser import ADMINISTRATION_PAGES

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
# The first visit starts a script run that imports the data stack; later visits are quick.
FIRST_RENDER_MS = 90_000  # a cold server on two shared cores can take half a minute
DEMO_CYCLES = 8
VIEWER, PASSWORD = "landing.viewer", "a landing page passphrase"
ADMINISTRATION = ADMINISTRATION_PAGES


@pytest.fixture(scope="module")
def viewer(demo_database_url: str) -> str:
    """An administrator in the served demo database: the cycles page is theirs."""
    engine = make_engine(demo_database_url)
    create_account(engine=engine, username=VIEWER, role="admin", password=PASSWORD, actor="test")
    engine.dispose()
    return VIEWER


@pytest.mark.parametrize(
    ("form_factor", "width", "height"),
    [("desktop", 1280, 900), ("phone", 375, 812)],
)
def test_landing_shows_the_cycles(
    new_context: Callable[..., BrowserContext],
    viewer: str,
    form_factor: str,
    width: int,
    height: int,
) -> None:
    page = new_context(viewport={"width": width, "height": height}).new_page()
    page.goto("/")
    page.get_by_label("Username").fill(viewer, timeout=FIRST_RENDER_MS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Survey cycles")).to_be_visible(timeout=FIRST_RENDER_MS)
    expect(page.get_by_text("Latest cycle")).to_be_visible()
    expect(page.get_by_text("2026 Q4", exact=True)).to_be_visible()
    # Glide paints the grid on a canvas; the table behind it is the canvas's fallback content,
    # which screen readers read but Playwright counts as hidden.
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    grid = page.get_by_role("grid", include_hidden=True)
    expect(grid).to_have_attribute("aria-rowcount", str(DEMO_CYCLES + 1))
    # The fallback table holds only the columns in view, so a phone has fewer.
    expect(grid.get_by_role("columnheader", include_hidden=True).first).to_have_text("Cycle")
    expect(grid.get_by_role("gridcell", include_hidden=True).first).to_have_text("2026 Q4")
    expect(page.get_by_role("alert")).to_have_count(0)

    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"landing-{form_factor}.png", full_page=True)


def test_every_page_is_one_click_away_in_the_sidebar(
    new_context: Callable[..., BrowserContext], viewer: str
) -> None:
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto("/")
    page.get_by_label("Username").fill(viewer, timeout=FIRST_RENDER_MS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Survey cycles")).to_be_visible(timeout=FIRST_RENDER_MS)
    navigation = page.get_by_test_id("stSidebarNav")
    for title in ("Overview", "Comments", *ADMINISTRATION):
        expect(navigation.get_by_role("link", name=title)).to_be_visible()
    expect(navigation.get_by_text(re.compile(r"^View \d+ more$"))).to_have_count(0)
    navigation.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()


def sign_in(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username, timeout=FIRST_RENDER_MS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_bookmarked_page_asks_for_sign_in_then_opens_and_a_reload_says_why_it_asks_again(
    new_context: Callable[..., BrowserContext], viewer: str, demo_database_url: str
) -> None:
    engine = make_engine(demo_database_url)
    create_account(
        engine=engine,
        username="bookmark.manager",
        role="manager",
        password=PASSWORD,
        departments=["Emergency"],
        actor="test",
    )
    engine.dispose()
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto("/heatmap")
    # The sign-in page, not Streamlit's "Page not found" dialog over it, and no results.
    expect(page.get_by_role("heading", name="Sign in to Attune")).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    expect(page.get_by_text("Reloading the page or opening Attune in a new tab")).to_be_visible()
    sign_in(page, viewer)
    expect(page.get_by_role("heading", name="Heatmap")).to_be_visible(timeout=FIRST_RENDER_MS)
    assert page.url.endswith("/heatmap")
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to Attune")).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    sign_in(page, viewer)
    expect(page.get_by_role("heading", name="Heatmap")).to_be_visible(timeout=FIRST_RENDER_MS)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.screenshot(path=SCREENSHOTS / "bookmark-heatmap-after-sign-in.png")
    # A manager's bookmark of an administrator's page says whose page it is.
    manager = new_context(viewport={"width": 375, "height": 812}).new_page()
    manager.goto("/manage-cycles")
    sign_in(manager, "bookmark.manager")
    expect(manager.get_by_role("heading", name="For administrators")).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    expect(manager.get_by_text("Page not found")).to_have_count(0)
    manager.screenshot(path=SCREENSHOTS / "bookmark-admin-page-as-manager-phone.png")
