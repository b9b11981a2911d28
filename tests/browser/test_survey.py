"""A staff member answers the survey in a real Chromium: on a phone by touch, and by keyboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import func, select

from surveys.invitations.links import (
    create_invitations,
    create_open_link,
    find_cycle,
    find_department,
    find_staff_group,
)
from surveys.models import CellRollup, Comment, Item, ItemRollup, Response
from surveys.storage import make_engine, read_session, write_session
from tests.support.browser import PHONE_AGENT

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
FIRST_RENDER_MS = 90_000  # a cold server on two shared cores can take half a minute
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
STEP_TITLES = [
    "In your work with nursing staff",
    "In your work with physicians",
    "In your work with allied health professionals",
    "In your work with administrative and support staff",
    "Patients and families",
    "Your own team",
    "Overall",
]
QUESTIONS_PER_STEP = [7, 7, 7, 7, 4, 4, 2]
# Not shown as Markdown or HTML anywhere: it must come back exactly as typed.
COMMENT = "Handover is *much* better since <b>March</b>. # not a heading"
LIKERT = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]


def new_link(database_url: str, department: str = "Emergency", group: str = "nursing") -> str:
    engine = make_engine(database_url)
    with write_session(engine) as session:
        cycle = find_cycle(session=session, name="2026 Q4")
        token = create_invitations(
            session=session,
            cycle_id=cycle.id,
            department_id=find_department(session=session, name=department).id,
            staff_group_id=find_staff_group(session=session, name=group).id,
            count=1,
        )[0]
    engine.dispose()
    return f"/survey?token={token}"


def cell_counts(database_url: str) -> dict:
    """Responses, comments and answer counts of the Emergency nursing cell in 2026 Q4."""
    engine = make_engine(database_url)
    with read_session(engine) as session:
        cycle = find_cycle(session=session, name="2026 Q4")
        cell = {
            "cycle_id": cycle.id,
            "department_id": find_department(session=session, name="Emergency").id,
            "staff_group_id": find_staff_group(session=session, name="nursing").id,
        }
        rollup = session.get(CellRollup, tuple(cell.values()))
        items = {
            code: tuple(getattr(row, column) for column in ("n_na", *(f"v{v}" for v in range(11))))
            for code, row in session.execute(
                select(Item.code, ItemRollup)
                .join(Item, Item.id == ItemRollup.item_id)
                .where(*(getattr(ItemRollup, key) == value for key, value in cell.items()))
            )
        }
        counts = {
            "responses": session.scalar(
                select(func.count()).select_from(Response).filter_by(**cell)
            ),
            "rollup_responses": rollup.responses if rollup else 0,
            "comments": session.scalar(
                select(func.count()).select_from(Comment).filter_by(**cell, text=COMMENT)
            ),
            "items": items,
        }
    engine.dispose()
    return counts


def settled(page: Page) -> None:
    """Wait until the app's run has ended and nothing faded is left."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    expect(page.locator("[data-stale='true']")).to_have_count(0)


def show_step(page: Page, title: str, *, timeout: float = 15_000) -> None:
    """Wait until the step titled `title` is fully drawn and the app is idle: Streamlit shows
    a step while its run is still going, with the previous step's elements faded."""
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=timeout)
    if title in STEP_TITLES:
        questions = QUESTIONS_PER_STEP[STEP_TITLES.index(title)]
        expect(page.get_by_role("radiogroup")).to_have_count(questions, timeout=timeout)
    settled(page)


def full_screenshot(page: Page, name: str) -> None:
    """The whole step, not just the viewport: Streamlit scrolls inside its main element."""
    SCREENSHOTS.mkdir(exist_ok=True)
    viewport = page.viewport_size
    assert viewport is not None
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
    page.screenshot(path=SCREENSHOTS / f"survey-{name}.png")
    page.set_viewport_size(viewport)


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    serious = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []


def answer_by_touch(page: Page, option_for: Callable[[int, list[str]], str]) -> list[str]:
    """Tap one option in every question on the step; returns the labels tapped."""
    chosen = []
    groups = page.get_by_role("radiogroup")
    for index in range(groups.count()):
        group = groups.nth(index)
        labels = [text.strip() for text in group.locator("label").all_inner_texts()]
        label = option_for(index, labels)
        group.get_by_text(label, exact=True).click()
        expect(group.get_by_role("radio", name=label, exact=True)).to_be_checked()
        chosen.append(label)
    return chosen


def expect_chosen(page: Page, labels: list[str]) -> None:
    groups = page.get_by_role("radiogroup")
    for index, label in enumerate(labels):
        expect(groups.nth(index).get_by_role("radio", name=label, exact=True)).to_be_checked()


def likert_choice(index: int, labels: list[str]) -> str:
    if labels[0] == "0":  # the 0-10 question
        return "9"
    not_applicable = {"Does not apply", "N/A"} & set(labels)
    if not_applicable and index == 2:
        return not_applicable.pop()
    return labels[(index + 3) % 5]  # Agree, Strongly agree, then round again


def test_a_phone_user_answers_by_touch_and_the_link_then_stops_working(
    new_context: Callable[..., BrowserContext], demo_database_url: str
) -> None:
    link = new_link(demo_database_url)
    before = cell_counts(demo_database_url)
    page = new_context(viewport=PHONE).new_page()
    page.goto(link)

    show_step(page, "Relationship health", timeout=FIRST_RENDER_MS)
    for fixed in ("Emergency", "Nursing", "2026 Q4"):
        expect(page.get_by_text(fixed).first).to_be_visible()
    expect(page.get_by_text("What we never store")).to_be_visible()
    expect(page.get_by_text("at least 5 people")).to_be_visible()
    assert page.get_by_role("textbox").count() == 0  # nothing about the link can be edited
    assert_accessible(page)
    full_screenshot(page, "intro-phone")
    page.get_by_role("button", name="Start the survey").click()

    answers: dict[int, list[str]] = {}
    for number, title in enumerate(STEP_TITLES, start=1):
        show_step(page, title)
        expect(page.get_by_text(f"Step {number} of 8")).to_be_visible()
        for index in range(page.get_by_role("radiogroup").count()):
            # Nothing is chosen for the respondent.
            group = page.get_by_role("radiogroup").nth(index)
            expect(group.get_by_role("radio", checked=True)).to_have_count(0)
        answers[number] = answer_by_touch(page, likert_choice)
        if number == 1:
            assert_accessible(page)
            full_screenshot(page, "step-phone")
            page.set_viewport_size(DESKTOP)
            full_screenshot(page, "step-desktop")
            page.set_viewport_size(PHONE)
        if number == len(STEP_TITLES):
            full_screenshot(page, "last-step-phone")
            page.get_by_label("Is there anything else").fill(COMMENT)
            expect(page.get_by_text("Up to 1,000 characters.")).to_be_visible()
        if number == 3:
            # Back twice, then forward again: every answer is still there.
            page.get_by_role("button", name="Back").click()
            show_step(page, STEP_TITLES[1])
            page.get_by_role("button", name="Back").click()
            show_step(page, STEP_TITLES[0])
            expect_chosen(page, answers[1])
            page.get_by_role("button", name="Next").click()
            show_step(page, STEP_TITLES[1])
            page.get_by_role("button", name="Next").click()
            show_step(page, title)
            expect_chosen(page, answers[3])
        page.get_by_role("button", name="Next").click()

    show_step(page, "Check your answers")
    expect(page.get_by_text("Step 8 of 8")).to_be_visible()
    expect(page.get_by_test_id("stExpander")).to_have_count(len(STEP_TITLES))
    summaries = page.get_by_test_id("stExpander").locator("summary").all_inner_texts()
    assert all(re.search(r"· (\d) of \1 answered$", summary) for summary in summaries)
    expect(page.get_by_text(COMMENT, exact=True)).to_be_visible()
    assert_accessible(page)
    full_screenshot(page, "review-phone")
    page.get_by_role("button", name="Submit my answers").click()

    show_step(page, "Thank you")
    assert_accessible(page)
    full_screenshot(page, "thanks-phone")

    again = new_context(viewport=PHONE).new_page()
    again.goto(link)
    expect(again.get_by_role("alert")).to_contain_text("already been used", timeout=FIRST_RENDER_MS)
    expect(again.get_by_role("radiogroup")).to_have_count(0)
    expect(again.get_by_role("button", name="Start the survey")).to_have_count(0)

    after = cell_counts(demo_database_url)
    assert after["responses"] == before["responses"] + 1
    assert after["rollup_responses"] == before["rollup_responses"] + 1
    assert after["comments"] == before["comments"] + 1
    # Exactly the options tapped were stored, one answer per question.
    first_step = ["frequency", "timeliness", "accuracy", "blame", "shared_goals",
                  "role_understanding", "respect"]  # fmt: skip
    for position, (key, label) in enumerate(zip(first_step, answers[1], strict=True)):
        code = f"{key}.nursing"
        column = 0 if label == "Does not apply" else LIKERT.index(label) + 2
        grew = [a - b for a, b in zip(after["items"][code], before["items"][code], strict=True)]
        assert grew == [1 if i == column else 0 for i in range(12)], (position, code)
    grew = [a - b for a, b in zip(after["items"]["enps"], before["items"]["enps"], strict=True)]
    assert grew == [1 if i == 10 else 0 for i in range(12)]  # n_na, v0..v10: 9 is column 10


def tab_to(page: Page, name: str, *, backwards: bool = False, limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the button called `name` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    buttons = page.get_by_role("button", name=name)
    for _ in range(limit):
        page.keyboard.press(key)
        if buttons.evaluate_all("found => found.includes(document.activeElement)"):
            return
    raise AssertionError(f"the {name!r} button never got the focus")


def answer_by_keyboard(page: Page) -> None:
    """Tab into each question and choose with the arrow keys (the first option with Space)."""
    groups = page.get_by_role("radiogroup")
    first_option = groups.first.get_by_role("radio").first
    # A new step starts from the top of the page: past the skip link to the first question.
    for _ in range(10):
        page.keyboard.press("Tab")
        if first_option.evaluate("radio => radio === document.activeElement"):
            break
    for index in range(groups.count()):
        if index:
            page.keyboard.press("Tab")
        group = groups.nth(index)
        expect(group.get_by_role("radio").first).to_be_focused()
        options = group.get_by_role("radio").count()
        if index % 3 == 0:
            page.keyboard.press("Space")
            expect(group.get_by_role("radio").first).to_be_checked()
        else:
            presses = min(index % 3 + 2, options - 1)
            for _ in range(presses):
                page.keyboard.press("ArrowDown" if options < 11 else "ArrowRight")
            expect(group.get_by_role("radio").nth(presses)).to_be_checked()


def test_the_survey_can_be_completed_with_the_keyboard_alone(
    new_context: Callable[..., BrowserContext], demo_database_url: str
) -> None:
    link = new_link(demo_database_url)
    before = cell_counts(demo_database_url)
    page = new_context(viewport=PHONE).new_page()
    page.goto(link)
    show_step(page, "Relationship health", timeout=FIRST_RENDER_MS)
    tab_to(page, "Start the survey")
    page.keyboard.press("Enter")

    for number, title in enumerate(STEP_TITLES, start=1):
        show_step(page, title)
        answer_by_keyboard(page)
        if number == len(STEP_TITLES):
            # The last arrow key's rerun ends before the person moves on to write, as it
            # does for a person reading the note above the box: typed while that rerun was
            # still drawing, the text was once lost (see the closing note of this stop).
            settled(page)
            page.keyboard.press("Tab")
            page.keyboard.type("Typed without a mouse.")
        if number == 2:
            tab_to(page, "Next")
            tab_to(page, "Back", backwards=True)
            page.keyboard.press("Enter")
            show_step(page, STEP_TITLES[0])
            first = page.get_by_role("radiogroup").first
            expect(first.get_by_role("radio").first).to_be_checked()  # kept from step 1
            tab_to(page, "Next")
            page.keyboard.press("Enter")
            show_step(page, title)
            second = page.get_by_role("radiogroup").nth(1)
            expect(second.get_by_role("radio").nth(3)).to_be_checked()  # kept from step 2
        tab_to(page, "Next")
        page.keyboard.press("Enter")

    show_step(page, "Check your answers")
    expect(page.get_by_text("Typed without a mouse.", exact=True)).to_be_visible()
    tab_to(page, "Submit my answers")
    page.keyboard.press("Enter")
    show_step(page, "Thank you")
    assert cell_counts(demo_database_url)["responses"] == before["responses"] + 1


def start_survey(page: Page, link: str) -> None:
    page.goto(link)
    show_step(page, "Relationship health", timeout=FIRST_RENDER_MS)
    page.get_by_role("button", name="Start the survey").click()
    # A fresh browser fetches the code for radio buttons only now.
    show_step(page, STEP_TITLES[0], timeout=FIRST_RENDER_MS)


def main_scroll_top(page: Page) -> float:
    return page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTop")


def expect_heading_in_view(page: Page, title: str) -> None:
    expect(page.get_by_role("heading", name=title)).to_be_in_viewport(ratio=1)


def test_each_step_opens_at_its_heading_on_a_phone(
    new_context: Callable[..., BrowserContext], demo_database_url: str
) -> None:
    page = new_context(viewport=PHONE).new_page()
    start_survey(page, new_link(demo_database_url))
    for title in STEP_TITLES[:3]:
        show_step(page, title)
        expect_heading_in_view(page, title)
        answer_by_touch(page, likert_choice)
        next_button = page.get_by_role("button", name="Next")
        next_button.scroll_into_view_if_needed()
        assert main_scroll_top(page) > 400  # a step is far longer than a phone's screen
        next_button.click()
    show_step(page, STEP_TITLES[3])
    expect_heading_in_view(page, STEP_TITLES[3])
    page.get_by_role("button", name="Back").click()
    show_step(page, STEP_TITLES[2])
    expect_heading_in_view(page, STEP_TITLES[2])


WIDE = {"width": 1366, "height": 900}


def screenshots_at_both_widths(page: Page, name: str) -> None:
    full_screenshot(page, f"{name}-phone")
    page.set_viewport_size(WIDE)
    full_screenshot(page, f"{name}-wide")
    page.set_viewport_size(PHONE)


def test_next_names_the_unanswered_questions_and_offers_to_continue(
    new_context: Callable[..., BrowserContext], demo_database_url: str
) -> None:
    page = new_context(viewport=PHONE).new_page()
    start_survey(page, new_link(demo_database_url))
    groups = page.get_by_role("radiogroup")
    for index in (0, 1, 3, 5, 6):  # questions 3 and 5 left out
        groups.nth(index).get_by_text("Agree", exact=True).click()
    page.get_by_role("button", name="Next").click()

    notice = page.get_by_role("alert").filter(has_text="Not answered yet")
    expect(notice).to_contain_text("Not answered yet: questions 3 and 5.")
    expect(notice).to_be_in_viewport()
    expect(page.get_by_role("heading", name=STEP_TITLES[0])).to_be_attached()  # still step 1
    expect(page.get_by_text("Step 1 of 8")).to_be_attached()
    assert "1. 1." not in notice.inner_text()
    screenshots_at_both_widths(page, "unanswered")

    # Answering one of them and pressing Next again names only the other.
    groups.nth(2).get_by_text("Disagree", exact=True).click()
    page.get_by_role("button", name="Next").click()
    expect(notice).to_contain_text("Not answered yet: question 5.")
    page.get_by_role("button", name="Continue anyway").click()
    show_step(page, STEP_TITLES[1])
    expect_heading_in_view(page, STEP_TITLES[1])
    expect(page.get_by_role("alert")).to_have_count(0)

    for title in STEP_TITLES[1:]:
        show_step(page, title)
        answer_by_touch(page, likert_choice)
        page.get_by_role("button", name="Next").click()
    show_step(page, "Check your answers")
    first = page.get_by_test_id("stExpander").first
    expect(first.locator("summary")).to_contain_text("6 of 7 answered")
    first.locator("summary").click()
    expect(first.get_by_text("Not answered")).to_have_count(1)


def test_a_pasted_comment_over_the_limit_is_kept_to_be_shortened(
    new_context: Callable[..., BrowserContext], demo_database_url: str
) -> None:
    page = new_context(viewport=PHONE).new_page()
    start_survey(page, new_link(demo_database_url))
    for title in STEP_TITLES[:-1]:
        show_step(page, title)
        page.get_by_role("button", name="Next").click()
        page.get_by_role("button", name="Continue anyway").click()
    show_step(page, STEP_TITLES[-1])
    answer_by_touch(page, likert_choice)
    pasted = ("The night rota changes too often and handover suffers. " * 30)[:1234]
    box = page.get_by_label("Is there anything else")
    box.click()
    page.keyboard.insert_text(pasted)  # one input event, as a paste makes
    expect(box).to_have_value(pasted)
    page.get_by_role("button", name="Next").click()

    problem = page.get_by_role("alert").filter(has_text="over the limit")
    expect(problem).to_contain_text(
        "Your comment is 1,234 characters: 234 over the limit of 1,000."
    )
    expect(problem).to_be_in_viewport()
    expect(box).to_have_value(pasted)  # nothing lost
    expect(page.get_by_text("Step 7 of 8")).to_be_attached()
    screenshots_at_both_widths(page, "comment-over-limit")

    shortened = pasted[:990]
    box.fill(shortened)
    page.get_by_role("button", name="Next").click()
    show_step(page, "Check your answers")
    expect(page.get_by_test_id("stText")).to_have_text(shortened.strip())


def step_length(page: Page) -> float:
    """From the step's heading to its Next button, in px (the page's own padding left out)."""
    heading = page.get_by_role("heading", name=STEP_TITLES[0]).bounding_box()
    button = page.get_by_role("button", name="Next").bounding_box()
    assert heading is not None and button is not None
    return button["y"] - heading["y"]


def test_a_phone_shows_each_agreement_scale_as_one_row_of_numbers(
    new_context: Callable[..., BrowserContext], demo_database_url: str
) -> None:
    """#13 item 11: a step on a phone was 1,869 px tall, six stacked options a question."""
    narrow = new_context(viewport=PHONE).new_page()  # a narrow desktop window: words
    start_survey(narrow, new_link(demo_database_url))
    phone = new_context(viewport=PHONE, user_agent=PHONE_AGENT).new_page()
    start_survey(phone, new_link(demo_database_url))
    assert step_length(phone) < 0.65 * step_length(narrow)
    first = phone.get_by_role("radiogroup").first
    labels = [text.strip() for text in first.locator("label").all_inner_texts()]
    assert labels == ["1", "2", "3", "4", "5", "N/A"]
    # What the numbers mean is said once, under the step's heading.
    key = "Answer 1 = strongly disagree, 5 = strongly agree, N/A = does not apply."
    expect(phone.get_by_text(key, exact=True)).to_be_visible()
    expect(narrow.get_by_text(key, exact=True)).to_have_count(0)
    chosen = answer_by_touch(phone, likert_choice)
    assert_accessible(phone)
    full_screenshot(phone, "compact-phone")
    phone.get_by_role("button", name="Next").click()
    show_step(phone, STEP_TITLES[1])
    phone.get_by_role("button", name="Back").click()
    show_step(phone, STEP_TITLES[0])
    expect_chosen(phone, chosen)


def expect_earlier_answers_back(page: Page) -> None:
    expect(page.get_by_text("Your earlier answers are back.")).to_be_visible()


def test_reload_and_resume_a_personal_link(
    new_context: Callable[..., BrowserContext], demo_database_url: str
) -> None:
    """Three steps answered, the page reloaded, the tab closed, the link opened again in a
    new browser: the three steps are answered, and the survey is stored once."""
    link = new_link(demo_database_url)
    before = cell_counts(demo_database_url)
    page = new_context(viewport=PHONE).new_page()
    start_survey(page, link)
    answers: dict[int, list[str]] = {}
    for number, title in enumerate(STEP_TITLES[:3], start=1):
        show_step(page, title)
        answers[number] = answer_by_touch(page, likert_choice)
        page.get_by_role("button", name="Next").click()
    show_step(page, STEP_TITLES[3])

    page.reload()
    show_step(page, STEP_TITLES[3], timeout=FIRST_RENDER_MS)
    expect_earlier_answers_back(page)
    expect(page.get_by_text("Step 4 of 8")).to_be_visible()
    page.close()

    # Nothing shared with the first browser: no cookie, no storage, a new server session.
    again = new_context(viewport=PHONE).new_page()
    again.goto(link)
    show_step(again, STEP_TITLES[3], timeout=FIRST_RENDER_MS)
    expect_earlier_answers_back(again)
    assert_accessible(again)
    screenshots_at_both_widths(again, "resumed")
    for number in (3, 2, 1):
        again.get_by_role("button", name="Back").click()
        show_step(again, STEP_TITLES[number - 1])
        expect_chosen(again, answers[number])
    expect(again.get_by_text("Your earlier answers are back.")).to_have_count(0)
    for title in STEP_TITLES[1:4]:
        again.get_by_role("button", name="Next").click()
        show_step(again, title)
    for number, title in enumerate(STEP_TITLES[3:], start=4):
        show_step(again, title)
        answers[number] = answer_by_touch(again, likert_choice)
        again.get_by_role("button", name="Next").click()

    show_step(again, "Check your answers")
    summaries = again.get_by_test_id("stExpander").locator("summary").all_inner_texts()
    assert all(re.search(r"· (\d) of \1 answered$", summary) for summary in summaries)
    again.get_by_role("button", name="Submit my answers").click()
    show_step(again, "Thank you")

    after = cell_counts(demo_database_url)
    assert after["responses"] == before["responses"] + 1
    assert after["rollup_responses"] == before["rollup_responses"] + 1
    # The first step's answers, given before the reload, were stored once each.
    first_step = ["frequency", "timeliness", "accuracy", "blame", "shared_goals",
                  "role_understanding", "respect"]  # fmt: skip
    for key, label in zip(first_step, answers[1], strict=True):
        column = 0 if label == "Does not apply" else LIKERT.index(label) + 2
        code = f"{key}.nursing"
        grew = [a - b for a, b in zip(after["items"][code], before["items"][code], strict=True)]
        assert grew == [1 if i == column else 0 for i in range(12)], code

    # The draft went with the submission: the link now says it has been used.
    last = new_context(viewport=PHONE).new_page()
    last.goto(link)
    expect(last.get_by_role("alert")).to_contain_text("already been used", timeout=FIRST_RENDER_MS)


def new_open_link(database_url: str) -> str:
    engine = make_engine(database_url)
    with write_session(engine) as session:
        cycle = find_cycle(session=session, name="2026 Q4")
        token = create_open_link(session=session, cycle_id=cycle.id)
    engine.dispose()
    return f"/survey?token={token}"


def choose(page: Page, label: str, option: str) -> None:
    page.get_by_label(label).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_reload_and_resume_an_open_link_by_its_address(
    new_context: Callable[..., BrowserContext], demo_database_url: str
) -> None:
    """An open link is everyone's: the respondent's own resume key joins the address at
    Start, and that address, not the bare link, brings their answers back."""
    link = new_open_link(demo_database_url)
    page = new_context(viewport=PHONE).new_page()
    page.goto(link)
    show_step(page, "Relationship health", timeout=FIRST_RENDER_MS)
    choose(page, "Your department", "Oncology")
    choose(page, "Your staff group", "Physicians")
    page.get_by_role("button", name="Start the survey").click()
    show_step(page, STEP_TITLES[0], timeout=FIRST_RENDER_MS)
    expect(page).to_have_url(re.compile(r"[?&]resume=[\w-]{22,}"))
    chosen = answer_by_touch(page, likert_choice)
    page.get_by_role("button", name="Next").click()
    show_step(page, STEP_TITLES[1])
    address = page.url
    page.reload()
    show_step(page, STEP_TITLES[1], timeout=FIRST_RENDER_MS)
    expect_earlier_answers_back(page)
    page.close()

    bare = new_context(viewport=PHONE).new_page()
    bare.goto(link)
    show_step(bare, "Relationship health", timeout=FIRST_RENDER_MS)
    expect(bare.get_by_text("Your earlier answers are back.")).to_have_count(0)
    bare.close()

    again = new_context(viewport=PHONE).new_page()
    again.goto(address)
    show_step(again, STEP_TITLES[1], timeout=FIRST_RENDER_MS)
    expect_earlier_answers_back(again)
    expect(again.get_by_text("Oncology · Physicians")).to_be_visible()
    again.get_by_role("button", name="Back").click()
    show_step(again, STEP_TITLES[0])
    expect_chosen(again, chosen)
