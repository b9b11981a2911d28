"""An administrator in a real Chromium: sign in, create and open a cycle, upload a roster,
download the links, and follow one to the survey; screenshots of every admin page."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from surveys.access.accounts import create_account
from surveys.organisation.structure import add_department, add_division
from surveys.storage import make_engine, migrate, write_session
from tests.support import ROOT
from tests.support.browser import ADMINISTRATION_PAGES, go_to, streamlit_server

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "screenshots"
FIRST_RENDER_MS = 90_000  # a cold server on two shared cores can take half a minute
USERNAME = "browser.admin"
PASSWORD = "a browser test passphrase"
CYCLE = "Browser test cycle"
ADMIN_PAGES = ADMINISTRATION_PAGES


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on its own small database, so that the cycle made here cannot change what the
    demo's landing-page test counts; ATTUNE_BASE_URL points links at this very server."""
    folder = tmp_path_factory.mktemp("admin")
    database_url = f"sqlite:///{folder / 'attune.db'}"
    engine = make_engine(database_url)
    migrate(engine)
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        for name in ("Emergency", "Oncology"):
            add_department(session=session, name=name, division_id=division)
    create_account(engine=engine, username=USERNAME, role="admin", password=PASSWORD, actor="test")
    engine.dispose()
    with streamlit_server(database_url, folder) as url:
        yield url


def sign_in(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Sign in to Attune")).to_be_visible(
        timeout=FIRST_RENDER_MS
    )
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Survey cycles")).to_be_visible()


def choose(page: Page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option).click()


def wait_until_idle(page: Page) -> None:
    """Wait for the script run to finish, so that the whole page has been drawn."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def screenshot(page: Page, name: str) -> None:
    wait_until_idle(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_admin_sets_up_a_cycle_and_its_links_open_the_survey(
    browser: Browser, admin_app: str, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(admin_app)
        expect(page.get_by_role("heading", name="Sign in to Attune")).to_be_visible(
            timeout=FIRST_RENDER_MS
        )
        screenshot(page, "sign-in-desktop")
        sign_in(page, admin_app)

        go_to(page, "Manage cycles")
        page.get_by_label("Name").fill(CYCLE)
        page.get_by_role("button", name="Create cycle").click()
        expect(page.get_by_text("Cycle created as a draft")).to_be_visible()
        choose(page, "Cycle", CYCLE)
        page.get_by_role("button", name="Open cycle").click()
        expect(page.get_by_text("Cycle opened: its links now work.")).to_be_visible()
        screenshot(page, "admin-manage-cycles-desktop")

        go_to(page, "Invitations")
        expect(page.get_by_label("Survey cycle")).to_have_value(f"{CYCLE} (open)")
        roster = tmp_path / "roster.csv"
        roster.write_text(
            "department;staff_group;headcount\nEmergency;nursing;2\nOncology;physicians;1\n"
        )
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Upload", exact=True).click()
        chooser.value.set_files(roster)
        expect(page.get_by_text("Links to make")).to_be_visible()
        page.get_by_role("button", name="Create 3 links").click()
        expect(page.get_by_text("3 links created")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download links (CSV)").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        screenshot(page, "admin-invitations-desktop")
        assert saved.name == "attune-links-browser-test-cycle.csv"
        rows = list(csv.reader(saved.open(newline="")))
        assert rows[0] == ["department", "staff_group", "link"]
        assert [row[:2] for row in rows[1:]] == [
            ["Emergency", "Nursing"],
            ["Emergency", "Nursing"],
            ["Oncology", "Physicians"],
        ]
        link = rows[1][2]
        assert link.startswith(f"{admin_app}/survey?token=")

        survey = context.new_page()
        survey.goto(link)
        expect(survey.get_by_text(CYCLE).first).to_be_visible(timeout=FIRST_RENDER_MS)
        expect(survey.get_by_role("heading", name="Sign in to Attune")).to_have_count(0)
        expect(survey.get_by_text("Signed in as")).to_have_count(0)
        screenshot(survey, "survey-from-roster-link-desktop")
        survey.close()

        for title in ADMIN_PAGES[2:]:
            go_to(page, title)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            screenshot(page, f"admin-{title.lower().replace(' ', '-')}-desktop")
    finally:
        context.close()


def test_admin_pages_on_a_phone(browser: Browser, admin_app: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 1400})
    page = context.new_page()
    try:
        page.goto(admin_app)
        expect(page.get_by_role("heading", name="Sign in to Attune")).to_be_visible(
            timeout=FIRST_RENDER_MS
        )
        screenshot(page, "sign-in-phone")
        sign_in(page, admin_app)
        for title in ADMIN_PAGES:
            go_to(page, title)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            expect(page.get_by_text("This page is for administrators")).to_have_count(0)
            screenshot(page, f"admin-{title.lower().replace(' ', '-')}-phone")
    finally:
        context.close()
