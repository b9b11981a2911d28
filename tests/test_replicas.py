"""The production layout on one machine: PostgreSQL, two app replicas, HAProxy in front."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy import func, select

from bench.browser_load import (
    CYCLE,
    Gate,
    PageOutcome,
    Respondent,
    answer_step,
    complete_survey,
    default_launch,
    drive,
    new_context,
    prepare_database,
    settled,
)
from surveys.access.accounts import create_account
from surveys.models import Answer, Comment, Item, ReleasedCell, Response, SurveyCycle
from surveys.storage import make_engine, read_session
from tests.support.backends import POSTGRES_SKIP_REASON, postgres_url, private_schema
from tests.support.browser import (
    ADMINISTRATION_PAGES,
    CHROMIUM,
    RunningServer,
    free_port,
    streamlit_processes,
)
from tests.support.haproxy import COOKIE, HAPROXY, Balancer, haproxy

pytestmark = pytest.mark.browser

T = TypeVar("T")
TIMEOUT_MS = 60_000
ADMIN = "replica.admin"
PASSWORD = "a passphrase for the replica test"
# Short, so that a response shows on the other replica soon; the test still only waits.
TTL_SECONDS = 2
# Enough pages at once that HAProxy (least connections) spreads them over both replicas,
# which then write into the one cell (the same rollup rows) at the same moment; more pages
# prove nothing further here (tests/browser/test_load.py is the load test) and each costs
# seconds of a 2-core machine.
SURVEYS = 6
# More than one stranded session, so that the replica killed under them is not one page's
# failure; each resumes on the other replica by itself, so more would repeat the same check.
STRANDED = 3
# Respondents whose responses, sent through one replica, the other must show: in an open
# cycle a cell's figures move in steps of the minimum group size (surveys/survey/steps.py).
MINIMUM = 3
LATE = MINIMUM


@dataclass(frozen=True)
class Layout:
    database_url: str
    balancer: Balancer
    replicas: list[RunningServer]
    respondents: list[Respondent]


@pytest.fixture(scope="module")
def postgres_schema() -> Iterator[str]:
    """A private schema on the test PostgreSQL server, shared by every process here."""
    base = postgres_url()
    if base is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    if not CHROMIUM.exists():
        pytest.skip(f"this test needs Debian's Chromium at {CHROMIUM}: run `make browser`")
    if not HAPROXY.exists():
        pytest.skip(f"this test needs Debian's HAProxy at {HAPROXY}: run `make browser`")
    with private_schema(base) as url:
        yield url


@pytest.fixture(scope="module")
def layout(postgres_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    folder = tmp_path_factory.mktemp("replicas")
    respondents = prepare_database(
        database_url=postgres_schema, pages=SURVEYS + STRANDED + LATE, spread=False
    )
    engine = make_engine(postgres_schema)
    create_account(engine=engine, username=ADMIN, role="admin", password=PASSWORD, actor="test")
    engine.dispose()
    port = free_port()
    settings = {
        "ATTUNE_BASE_URL": f"http://127.0.0.1:{port}",
        "ATTUNE_DATA_VERSION_TTL_SECONDS": str(TTL_SECONDS),
        "ATTUNE_MIN_GROUP_SIZE": str(MINIMUM),
    }
    with (
        streamlit_processes(2, postgres_schema, folder, settings) as replicas,
        haproxy([replica.url for replica in replicas], folder, port) as balancer,
    ):
        yield Layout(postgres_schema, balancer, replicas, respondents)


def in_thread(work: Callable[[Browser], Awaitable[T]]) -> T:
    """Run `work` with a fresh Chromium in an event loop of its own thread (pytest-playwright
    keeps a loop running on this one)."""
    result: list[T] = []
    failure: list[BaseException] = []

    async def main() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**default_launch())
            try:
                result.append(await work(browser))
            finally:
                await browser.close()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - raised again on the caller's thread
            failure.append(error)

    worker = threading.Thread(target=run, name="replicas")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return result[0]


async def pinned_context(browser: Browser, balancer: Balancer, replica: str) -> BrowserContext:
    """A context whose requests HAProxy sends to `replica`, as if it had been there before."""
    context = await new_context(browser)
    await context.add_cookies([{"name": COOKIE, "value": replica, "url": balancer.url}])
    return context


def stored_answers(database_url: str) -> Counter[tuple[str, int | None]]:
    engine = make_engine(database_url)
    with read_session(engine) as session:
        rows = session.execute(
            select(Item.code, Answer.value, func.count())
            .join(Answer, Answer.item_id == Item.id)
            .join(Response, Response.id == Answer.response_id)
            .join(SurveyCycle, SurveyCycle.id == Response.cycle_id)
            .where(SurveyCycle.name == CYCLE)
            .group_by(Item.code, Answer.value)
        ).all()
    engine.dispose()
    return Counter({(code, value): n for code, value, n in rows})


def planned_answers(respondents: Sequence[Respondent]) -> Counter[tuple[str, int | None]]:
    return Counter(
        (choice.code, choice.value)
        for respondent in respondents
        for step in respondent.steps
        for choice in step.answers
    )


def comment_counts(database_url: str, respondents: Sequence[Respondent]) -> list[int]:
    engine = make_engine(database_url)
    with read_session(engine) as session:
        counts = [
            session.scalar(
                select(func.count()).select_from(Comment).where(Comment.text == person.comment)
            )
            for person in respondents
        ]
    engine.dispose()
    return [int(count or 0) for count in counts]


@pytest.fixture(scope="module")
def surveys_at_once(layout: Layout) -> list[PageOutcome]:
    """SURVEYS respondents complete the survey at once through HAProxy."""

    async def work(browser: Browser) -> list[PageOutcome]:
        outcomes, _, _ = await drive(
            browser=browser,
            base_url=layout.balancer.url,
            respondents=layout.respondents[:SURVEYS],
        )
        return outcomes

    return in_thread(work)


def test_pages_at_once_complete_the_survey_through_haproxy_each_stored_once(
    layout: Layout, surveys_at_once: list[PageOutcome]
) -> None:
    assert [outcome.error for outcome in surveys_at_once] == [None] * SURVEYS
    assert all(outcome.thanked for outcome in surveys_at_once)
    assert comment_counts(layout.database_url, layout.respondents[:SURVEYS]) == [1] * SURVEYS
    assert stored_answers(layout.database_url) == planned_answers(layout.respondents[:SURVEYS])
    # HAProxy spread the sessions (WebSockets) over both replicas.
    assert layout.balancer.servers_used() == {"replica1", "replica2"}
    # The log keeps no respondent's address and no link: the links were all in it otherwise.
    log = layout.balancer.log.read_text()
    assert "/survey" in log
    assert "127.0.0.1" not in log and "token=" not in log and "resume=" not in log


async def sign_in(page: Page, balancer: Balancer) -> None:
    await page.goto(balancer.url)
    await expect(page.get_by_role("heading", name="Sign in to Attune")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    await page.get_by_label("Username").fill(ADMIN)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Survey cycles")).to_be_visible(
        timeout=TIMEOUT_MS
    )


async def go_to(page: Page, title: str) -> None:
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    await expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )


def test_an_administrator_stays_signed_in_across_pages_through_haproxy(layout: Layout) -> None:
    async def work(browser: Browser) -> tuple[list[str], list[dict[str, Any]]]:
        context = await new_context(browser)
        page = await context.new_page()
        await sign_in(page, layout.balancer)
        seen = []
        for title in [*ADMINISTRATION_PAGES, "Overview", "Survey cycles"]:
            await go_to(page, title)
            await expect(page.get_by_text(f"Signed in as {ADMIN}")).to_be_visible()
            seen.append(title)
        cookies = await context.cookies()
        await context.close()
        return seen, list(cookies)

    seen, cookies = in_thread(work)
    assert seen[-1] == "Survey cycles"
    # The sticky cookie HAProxy set: one replica, never readable by the page's scripts.
    (sticky,) = [cookie for cookie in cookies if cookie["name"] == COOKIE]
    assert sticky["value"] in {"replica1", "replica2"}
    assert sticky["httpOnly"]


async def responses_shown(page: Page) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text="Responses")
    return (await metric.get_by_test_id("stMetricValue").inner_text()).strip()


def released_responses(database_url: str) -> int:
    """The cycle's responses as its released snapshot has them: what the pages may show."""
    engine = make_engine(database_url)
    with read_session(engine) as session:
        total = session.scalar(
            select(func.coalesce(func.sum(ReleasedCell.c.responses), 0))
            .join(SurveyCycle, SurveyCycle.id == ReleasedCell.c.cycle_id)
            .where(SurveyCycle.name == CYCLE)
        )
    engine.dispose()
    return int(total or 0)


def test_responses_through_one_replica_show_on_the_other_within_the_ttl(
    layout: Layout, surveys_at_once: list[PageOutcome]
) -> None:
    late = layout.respondents[-LATE:]
    before = released_responses(layout.database_url)

    async def work(browser: Browser) -> tuple[str, str, list[bool]]:
        watcher = await pinned_context(browser, layout.balancer, "replica2")
        page = await watcher.new_page()
        await sign_in(page, layout.balancer)
        shown_before = await responses_shown(page)
        # A minimum group's worth of responses in the one cell, all through replica 1.
        contexts = [await pinned_context(browser, layout.balancer, "replica1") for _ in late]
        gates = (Gate(LATE), Gate(LATE))
        outcomes = await asyncio.gather(
            *(
                complete_survey(context, layout.balancer.url, person, gates)
                for context, person in zip(contexts, late, strict=True)
            )
        )
        for context in contexts:
            await context.close()
        expected = f"{released_responses(layout.database_url):,}"
        # Replica 2's cached figures are keyed on the data version it reads from the database
        # at most every TTL_SECONDS: revisit the page until the responses show (or give up).
        deadline = time.monotonic() + 10 * TTL_SECONDS + 30
        while True:
            await go_to(page, "Overview")
            await go_to(page, "Survey cycles")
            shown_after = await responses_shown(page)
            if shown_after == expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(TTL_SECONDS / 2)
        await watcher.close()
        return shown_before, shown_after, [outcome.thanked for outcome in outcomes]

    shown_before, shown_after, thanked = in_thread(work)
    assert thanked == [True] * LATE
    after = released_responses(layout.database_url)
    assert after >= before + MINIMUM  # the released figure moved
    assert shown_before == f"{before:,}"
    assert shown_after == f"{after:,}"


async def answer_until_review(
    page: Page, respondent: Respondent, answered: int, *, restored: bool
) -> None:
    """From wherever the page is, go to the review: steps up to `answered` were answered
    before and must still be; the rest are answered now. With `restored`, the page must say
    on the first step shown that the earlier answers are back."""
    total = len(respondent.steps) + 1
    start = page.get_by_role("button", name="Start the survey")
    review = page.get_by_role("heading", name="Check your answers")
    while not await review.is_visible():
        if await start.is_visible():
            await start.click()
        step = page.get_by_text("Step", exact=False).filter(has_text=f"of {total}")
        await expect(step.first).to_be_visible(timeout=TIMEOUT_MS)
        await settled(page)
        number = int((await step.first.inner_text()).split()[1])
        plan = respondent.steps[number - 1]
        if number <= answered:
            # Answered before the replica was lost: still chosen, not clicked again.
            groups = page.get_by_role("radiogroup")
            for index, choice in enumerate(plan.answers):
                option = groups.nth(index).get_by_role("radio", name=choice.label, exact=True)
                await expect(option).to_be_checked(timeout=10_000)
        else:
            await answer_step(page, plan)
            if plan.has_comment:
                await page.get_by_role("textbox").fill(respondent.comment)
        if restored:
            await settled(page)
            await expect(page.get_by_text("Your earlier answers are back.")).to_be_visible(
                timeout=TIMEOUT_MS
            )
            restored = False
        await page.get_by_role("button", name="Next").click()
        await expect(page.get_by_text(f"Step {number} of {total}", exact=True)).to_have_count(
            0, timeout=TIMEOUT_MS
        )


def test_respondents_on_a_killed_replica_resume_on_the_other_and_each_is_stored_once(
    layout: Layout,
) -> None:
    """Last in the module: it kills replica 2."""
    stranded = layout.respondents[SURVEYS : SURVEYS + STRANDED]
    before = stored_answers(layout.database_url)
    answered = 2
    victim = layout.replicas[1]

    async def one(browser: Browser, respondent: Respondent) -> tuple[Page, BrowserContext]:
        context = await pinned_context(browser, layout.balancer, "replica2")
        page = await context.new_page()
        await page.goto(f"{layout.balancer.url}/survey?token={respondent.token}")
        await page.get_by_role("button", name="Start the survey").click(timeout=TIMEOUT_MS)
        total = len(respondent.steps) + 1
        for number in range(1, answered + 1):
            await expect(page.get_by_text(f"Step {number} of {total}", exact=True)).to_be_visible(
                timeout=TIMEOUT_MS
            )
            await settled(page)
            await answer_step(page, respondent.steps[number - 1])
            await page.get_by_role("button", name="Next").click()
        await expect(page.get_by_text(f"Step {answered + 1} of {total}", exact=True)).to_be_visible(
            timeout=TIMEOUT_MS
        )
        await settled(page)
        return page, context

    async def resume(
        page: Page, context: BrowserContext, person: Respondent, reconnected: asyncio.Future
    ) -> bool:
        # Streamlit's page opens a new WebSocket by itself, which HAProxy sends to replica 1,
        # but the page it shows runs nothing there (Streamlit 1.5x: the new session waits
        # for a rerun the page never sends, whatever is clicked). The respondent reloads, as
        # anyone would; the same link runs the page in a new session there, which finds the
        # draft.
        await reconnected
        await page.reload()
        await answer_until_review(page, person, answered, restored=True)
        await page.get_by_role("button", name="Submit my answers").click()
        await expect(page.get_by_role("heading", name="Thank you")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        await context.close()
        return True

    async def work(browser: Browser) -> list[bool]:
        opened = await asyncio.gather(*(one(browser, person) for person in stranded))
        reconnected = [
            asyncio.ensure_future(page.wait_for_event("websocket", timeout=TIMEOUT_MS))
            for page, _ in opened
        ]
        victim.process.kill()  # SIGKILL: no goodbye to any session
        victim.process.wait()
        return list(
            await asyncio.gather(
                *(
                    resume(page, context, person, reconnect)
                    for (page, context), person, reconnect in zip(
                        opened, stranded, reconnected, strict=True
                    )
                )
            )
        )

    assert in_thread(work) == [True] * STRANDED
    assert comment_counts(layout.database_url, stranded) == [1] * STRANDED
    # Each stored once, with the answers given before the replica was lost.
    assert stored_answers(layout.database_url) == before + planned_answers(stranded)
