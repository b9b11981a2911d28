"""Every request a page makes goes to the app's own origin: no fonts, icons or scripts from
third parties, on the staff survey or on a results page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from surveys.access.accounts import create_account
from surveys.storage import make_engine
from tests.browser.test_survey import new_link

pytestmark = pytest.mark.browser

FIRST_RENDER_MS = 120_000  # generous: the browser tests share two cores
USERNAME, PASSWORD = "origin.admin", "an own origin passphrase"
# Not network requests: the page's own generated content.
LOCAL_SCHEMES = {"data", "blob", "about"}


def recorded(page: Page) -> list[str]:
    """Every URL `page` requests from now on, as it requests it."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def elsewhere(urls: list[str], base_url: str) -> list[str]:
    own = urlsplit(base_url)
    return [
        url
        for url in urls
        if urlsplit(url).scheme not in LOCAL_SCHEMES
        and (urlsplit(url).scheme, urlsplit(url).netloc)
        not in {(own.scheme, own.netloc), ("ws" if own.scheme == "http" else "wss", own.netloc)}
    ]


def settle(page: Page) -> None:
    # The icon and fonts load after the first render; give them the time a person would.
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1_000)


def page_icons(page: Page) -> list[str]:
    """Where the page says its browser icon is."""
    return page.evaluate(
        "[...document.querySelectorAll('link[rel~=icon]')].map((link) => link.href)"
    )


def test_the_survey_asks_nothing_of_anyone_else(
    new_context: Callable[..., BrowserContext], demo_database_url: str, base_url: str
) -> None:
    page = new_context(viewport={"width": 1366, "height": 900}).new_page()
    urls = recorded(page)
    page.goto(new_link(demo_database_url), timeout=FIRST_RENDER_MS)
    expect(page.get_by_role("button", name="Start the survey")).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    page.get_by_role("button", name="Start the survey").click()
    expect(page.get_by_role("heading", name="In your work with nursing staff")).to_be_visible()
    settle(page)
    assert urls, "no request was recorded"
    icons = page_icons(page)
    assert icons and elsewhere(icons, base_url) == [], icons
    assert set(icons) <= set(urls), "the page icon was never requested"
    assert elsewhere(urls, base_url) == []


def test_a_results_page_asks_nothing_of_anyone_else(
    new_context: Callable[..., BrowserContext], demo_database_url: str, base_url: str
) -> None:
    engine = make_engine(demo_database_url)
    create_account(engine=engine, username=USERNAME, role="admin", password=PASSWORD, actor="test")
    engine.dispose()
    page = new_context(viewport={"width": 1366, "height": 900}).new_page()
    urls = recorded(page)
    page.goto("/", timeout=FIRST_RENDER_MS)
    page.get_by_label("Username").fill(USERNAME, timeout=FIRST_RENDER_MS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Survey cycles")).to_be_visible(timeout=FIRST_RENDER_MS)
    for title in ("Overview", "Heatmap"):
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(
            timeout=FIRST_RENDER_MS
        )
        expect(page.get_by_test_id("stException")).to_have_count(0)
        settle(page)
    settle(page)
    icons = page_icons(page)
    assert icons and elsewhere(icons, base_url) == [], icons
    assert set(icons) <= set(urls), "the page icon was never requested"
    assert elsewhere(urls, base_url) == []
