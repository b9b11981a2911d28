"""Surveys completed in many headless Chromium pages at once against one Streamlit server.

One browser with one context per respondent: each context has its own cookies, cache and
websocket, so the server sees as many independent sessions, and serves the app's files as
many times, as it would for separate devices, while the 2-core machine does not also pay
for a browser process per page (the pages compete with the server for the same cores).
Every page opens its own personal link, answers every question (a different option per
respondent and question), writes a comment and submits. Two gates make the load as
concurrent as it can be: every session is open before anyone starts, and all submissions
are sent together, so they contend for the SQLite write lock at once.

The server's resident memory (VmRSS of the Streamlit process and any children) is read when
it has started, after one warm-up visit (the app imported, no session open), throughout the
run (peak), and after every context has closed and its websocket has gone.

    python -m bench.browser_load                # 20 pages; writes the README table
    python -m bench.browser_load --pages 30 --no-readme
    python -m bench.browser_load --linger 130   # also after Streamlit's 120 s session TTL

Long because it is one benchmark end to end: the database, the server's measurements and
the pages (bench/replicas.py reuses the pages for the several-replica layout).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy import func, select

from bench.readme import README, machine, write_section
from surveys.instruments import builtin_instrument
from surveys.invitations.links import create_invitations
from surveys.invitations.used import used_ids
from surveys.models import CycleState, Response, SurveyCycle
from surveys.organisation.catalogue import register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import (
    add_department,
    add_division,
    staff_groups,
)
from surveys.storage import make_engine, migrate, read_session, write_session
from surveys.survey.form import NOT_APPLICABLE, SurveyForm, load_survey
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_process

PAGES = 20
CYCLE = "Load test"
DEPARTMENTS = ("Emergency", "Intensive care")
MARKER = re.compile(r"(<!-- bench:browser -->\n).*?(<!-- /bench:browser -->)", re.DOTALL)
# Twenty pages drawing on two cores: one step can take many seconds to appear.
PAGE_TIMEOUT_MS = 90_000
SAMPLE_EVERY_SECONDS = 0.1
# After the last context closes: how long the websockets may take to go, then how long
# Streamlit gets to drop the sessions before "after" is read.
DISCONNECT_WAIT_SECONDS = 30
SETTLE_SECONDS = 5
# Streamlit's own default (server.disconnectedSessionTTL): how long it keeps a closed
# session for the same tab to reconnect to.
SESSION_TTL_SECONDS = 120
# What the pages draw never reaches the server, but on two cores Streamlit's fades and
# spinners in twenty pages cost the server CPU time; a respondent who asked their system
# for reduced motion would see much the same.
NO_ANIMATIONS = """
document.addEventListener("DOMContentLoaded", () => {
  const style = document.createElement("style");
  style.textContent = "*, *::before, *::after { animation: none !important; "
    + "transition: none !important; }";
  document.head.appendChild(style);
});
"""


@dataclass(frozen=True)
class Choice:
    """One answer a page gives: the question, the label it clicks, the value stored."""

    code: str
    label: str
    # As stored: "does not apply" is None.
    value: int | None


@dataclass(frozen=True)
class StepPlan:
    answers: tuple[Choice, ...]
    has_comment: bool


@dataclass(frozen=True)
class Respondent:
    number: int
    token: str
    department: str
    staff_group: str
    steps: tuple[StepPlan, ...]

    @property
    def comment(self) -> str:
        # Unique per respondent: each comment found once means each form was stored once.
        return f"Load respondent {self.number:02d}: handovers were clear this week."


@dataclass(frozen=True)
class PageOutcome:
    respondent: Respondent
    thanked: bool
    # The answers clicked, in the order the questions were shown.
    chosen: tuple[Choice, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class LoadResult:
    pages: int
    completed: int
    # From the first page opening to the last thank-you.
    seconds: float
    rss_start_mib: float
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    # Streamlit's own count (/_stcore/metrics) while every page was open, and after.
    sessions_during: int
    sessions_after: int
    # Established TCP connections to the server: websockets and keep-alive requests.
    connections_peak: int
    connections_after: int
    responses_stored: int
    tokens_used: int
    server_tracebacks: int
    database_url: str
    outcomes: tuple[PageOutcome, ...]
    rss_lingered_mib: float | None = None
    linger_seconds: float = 0.0

    def table(self) -> str:
        rows = [
            ("Surveys completed (thank-you page shown)", f"{self.completed} of {self.pages}"),
            ("Responses stored / links used", f"{self.responses_stored} / {self.tokens_used}"),
            ("Wall time, first page opened to last thank-you", f"{self.seconds:,.0f} s"),
            ("Server RSS at start", f"{self.rss_start_mib:,.0f} MiB"),
            ("Server RSS before the pages (after one warm-up visit)",
             f"{self.rss_before_mib:,.0f} MiB"),
            (f"Server RSS peak ({self.sessions_during} sessions open)",
             f"{self.rss_peak_mib:,.0f} MiB"),
            (f"Server RSS {SETTLE_SECONDS} s after every page closed "
             f"({self.sessions_after} sessions, {self.connections_after} connections open)",
             f"{self.rss_after_mib:,.0f} MiB"),
        ]  # fmt: skip
        if self.rss_lingered_mib is not None:
            rows.append(
                (
                    f"Server RSS {self.linger_seconds:,.0f} s after every page closed, "
                    "after one more visit",
                    f"{self.rss_lingered_mib:,.0f} MiB",
                )
            )
        return (
            f"| {self.pages} Chromium pages, one Streamlit server, SQLite | |\n| --- | ---: |\n"
            + "\n".join(f"| {name} | {value} |" for name, value in rows)
            + "\n"
        )


# --- The database ------------------------------------------------------------------------------


def prepare_database(*, database_url: str, pages: int, spread: bool = True) -> list[Respondent]:
    """A migrated database with one open cycle and a personal link per respondent, spread
    over two departments and every staff group (so both shared and separate rollup rows), or
    (not `spread`) all in one department and staff group, so that their responses add up to
    figures that can be shown."""
    engine = make_engine(database_url)
    migrate(engine)
    links: list[tuple[int, str, str, str]] = []
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division_id = add_division(session=session, name="Acute care")
        cycle_id = add_cycle(
            session=session,
            name=CYCLE,
            opens=date(2026, 10, 1),
            closes=date(2026, 12, 31),
            instrument_id=instrument_id,
            state=CycleState.open,
        )
        departments = {
            name: add_department(session=session, name=name, division_id=division_id)
            for name in DEPARTMENTS
        }
        cells = [
            (name, department_id, group)
            for name, department_id in departments.items()
            for group in staff_groups(session=session)
        ]
        for number in range(1, pages + 1):
            department, department_id, group = cells[number % len(cells) if spread else 0]
            (token,) = create_invitations(
                session=session,
                cycle_id=cycle_id,
                department_id=department_id,
                staff_group_id=group.id,
                count=1,
            )
            links.append((number, token, department, group.name))
    respondents = []
    for number, token, department, group in links:
        form = load_survey(engine=engine, token=token)
        respondents.append(Respondent(number, token, department, group, plan(form, number)))
    engine.dispose()
    return respondents


def plan(form: SurveyForm, number: int) -> tuple[StepPlan, ...]:
    """What respondent `number` answers: a different option per respondent and question, so
    that the stored answers show whether each click arrived."""
    steps, position = [], 0
    for step in form.steps:
        answers = []
        for question in step.questions:
            options = question.options()
            value = options[(number + position) % len(options)]
            label = str(value) if question.horizontal else question.label_for(value)
            stored = None if value == NOT_APPLICABLE else int(value)
            answers.append(Choice(question.code, label, stored))
            position += 1
        steps.append(StepPlan(tuple(answers), step.has_comment))
    return tuple(steps)


def stored_counts(database_url: str) -> tuple[int, int]:
    """Responses stored in the load-test cycle, and its personal links marked used."""
    engine = make_engine(database_url)
    with read_session(engine) as session:
        cycle_id = session.scalar(select(SurveyCycle.id).where(SurveyCycle.name == CYCLE))
        responses = session.scalar(
            select(func.count()).select_from(Response).where(Response.cycle_id == cycle_id)
        )
        used = len(used_ids(session, cycle_id)) if cycle_id is not None else 0
    engine.dispose()
    return int(responses or 0), int(used or 0)


# --- The server ----------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from the parent ids in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its descendants (VmRSS), in MiB."""
    total_kib = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, flags=re.MULTILINE)
        total_kib += int(found.group(1)) if found else 0
    return total_kib / 1024


def established_connections(port: int) -> int:
    """Server-side TCP connections on `port` that are established (state 01)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                count += 1
    return count


def active_sessions(base_url: str) -> int:
    """Streamlit's own count of sessions with an open websocket."""
    with urllib.request.urlopen(f"{base_url}/_stcore/metrics", timeout=30) as reply:
        found = re.search(r"^active_sessions (\d+)", reply.read().decode(), flags=re.MULTILINE)
    return int(found.group(1)) if found else -1


@dataclass
class Sampler:
    """Reads the server's RSS and connections every SAMPLE_EVERY_SECONDS in a thread of its
    own, so that a busy event loop (Playwright's messages) cannot make it miss the peak."""

    pid: int
    port: int
    peak_mib: float = 0.0
    peak_connections: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        self.peak_mib = max(self.peak_mib, rss_mib(self.pid))
        self.peak_connections = max(self.peak_connections, established_connections(self.port))

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_SECONDS):
            self._sample()

    def start(self) -> None:
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()


async def wait_for_disconnects(port: int) -> int:
    """Wait (a while) until no connection to the server is left; returns how many are."""
    deadline = time.monotonic() + DISCONNECT_WAIT_SECONDS
    while (connections := established_connections(port)) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return connections


# --- The pages -----------------------------------------------------------------------------------


class Gate:
    """Holds pages until every page still running has arrived; a page that fails is no longer
    waited for, so that one failure cannot hang the rest."""

    def __init__(self, pages: int) -> None:
        self._expected = pages
        self._arrived = 0
        self._condition = asyncio.Condition()
        self.opened = asyncio.Event()

    def _open_when_all_arrived(self) -> None:
        if self._arrived >= self._expected:
            self.opened.set()
            self._condition.notify_all()

    async def arrive(self) -> None:
        async with self._condition:
            self._arrived += 1
            self._open_when_all_arrived()
            await self._condition.wait_for(self.opened.is_set)

    async def leave(self) -> None:
        async with self._condition:
            self._expected -= 1
            self._open_when_all_arrived()


async def new_context(browser: Browser) -> BrowserContext:
    context = await browser.new_context(reduced_motion="reduce")
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    await context.add_init_script(NO_ANIMATIONS)
    return context


async def settled(page: Page) -> None:
    """Streamlit draws a new step while its run is still going, with the old step's elements
    faded: wait until the run has finished and nothing stale is left."""
    await expect(page.get_by_test_id("stApp")).to_have_attribute(
        "data-test-script-state", "notRunning", timeout=PAGE_TIMEOUT_MS
    )
    await expect(page.locator("[data-stale='true']")).to_have_count(0, timeout=PAGE_TIMEOUT_MS)


async def answer_step(page: Page, step: StepPlan) -> list[Choice]:
    """Click the planned option in every question on the step, as a person would tap it.

    Clicks are not checked one by one here (that doubles the browser's work, which on two
    cores is the bottleneck): the review page and the stored answers show whether each
    arrived."""
    groups = page.get_by_role("radiogroup")
    # Not implied by `settled`: Streamlit loads each widget's code on first use, and until
    # the radio's code arrives the first step shows its heading without its questions.
    await expect(groups).to_have_count(len(step.answers), timeout=PAGE_TIMEOUT_MS)
    for index, choice in enumerate(step.answers):
        await groups.nth(index).get_by_text(choice.label, exact=True).click()
    return list(step.answers)


async def complete_survey(
    context: BrowserContext,
    base_url: str,
    respondent: Respondent,
    gates: Sequence[Gate],
    step_seconds: list[float] | None = None,
) -> PageOutcome:
    """Open the respondent's link, answer every step, submit, and wait for the thank-you.

    With `step_seconds`, each step's time is added to it: from the click on Start, Next or
    Submit to the next step (or the thank-you) drawn, its run finished."""
    opened, ready = gates
    clicked = 0.0

    def step_done() -> None:
        if step_seconds is not None:
            step_seconds.append(time.perf_counter() - clicked)

    passed: list[Gate] = []
    chosen: list[Choice] = []
    try:
        page = await context.new_page()
        await page.goto(f"{base_url}/survey?token={respondent.token}")
        start = page.get_by_role("button", name="Start the survey")
        await expect(start).to_be_visible(timeout=PAGE_TIMEOUT_MS)
        await settled(page)
        await opened.arrive()
        passed.append(opened)
        clicked = time.perf_counter()
        await start.click()
        total = len(respondent.steps) + 1  # and the review
        for number, step in enumerate(respondent.steps, start=1):
            await expect(page.get_by_text(f"Step {number} of {total}", exact=True)).to_be_visible(
                timeout=PAGE_TIMEOUT_MS
            )
            await settled(page)
            step_done()
            chosen += await answer_step(page, step)
            if step.has_comment:
                await page.get_by_role("textbox").fill(respondent.comment)
            clicked = time.perf_counter()
            await page.get_by_role("button", name="Next").click()
        await expect(page.get_by_role("heading", name="Check your answers")).to_be_visible(
            timeout=PAGE_TIMEOUT_MS
        )
        await settled(page)
        step_done()
        await ready.arrive()
        passed.append(ready)
        clicked = time.perf_counter()
        await page.get_by_role("button", name="Submit my answers").click()
        await expect(page.get_by_role("heading", name="Thank you")).to_be_visible(
            timeout=PAGE_TIMEOUT_MS
        )
        step_done()
    except Exception as error:  # noqa: BLE001 - reported per page, counted as not completed
        for gate in gates:
            if gate not in passed:
                await gate.leave()
        return PageOutcome(respondent, False, tuple(chosen), f"{type(error).__name__}: {error}")
    return PageOutcome(respondent, True, tuple(chosen))


async def visit_once(browser: Browser, base_url: str) -> None:
    """One visitor with a link that is not valid: enough for the server to import the app
    and open the database, without storing anything."""
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(f"{base_url}/survey?token=warm-up")
    await expect(page.get_by_role("alert")).to_contain_text("not valid", timeout=PAGE_TIMEOUT_MS)
    await context.close()


async def drive(
    *, browser: Browser, base_url: str, respondents: Sequence[Respondent]
) -> tuple[list[PageOutcome], float, int]:
    """Every respondent in a context of their own, all at once; returns the outcomes, the
    seconds they took, and how many sessions Streamlit had open once every page was."""
    gates = (Gate(len(respondents)), Gate(len(respondents)))
    started = time.perf_counter()
    contexts = [await new_context(browser) for _ in respondents]

    async def count_sessions() -> int:
        await gates[0].opened.wait()
        return await asyncio.to_thread(active_sessions, base_url)

    try:
        counting = asyncio.create_task(count_sessions())
        outcomes = await asyncio.gather(
            *(
                complete_survey(context, base_url, respondent, gates)
                for context, respondent in zip(contexts, respondents, strict=True)
            )
        )
        seconds = time.perf_counter() - started
        sessions = await counting
    finally:
        for context in contexts:
            await context.close()
    return list(outcomes), seconds, sessions


async def measure(
    *,
    base_url: str,
    pid: int,
    respondents: Sequence[Respondent],
    launch: Mapping[str, Any],
    linger_seconds: float,
) -> dict[str, Any]:
    port = int(base_url.rsplit(":", 1)[1])
    start = rss_mib(pid)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch)
        try:
            await visit_once(browser, base_url)
            await wait_for_disconnects(port)
            before = rss_mib(pid)
            sampler = Sampler(pid, port)
            sampler.start()
            try:
                outcomes, seconds, sessions = await drive(
                    browser=browser, base_url=base_url, respondents=respondents
                )
                connections_after = await wait_for_disconnects(port)
                await asyncio.sleep(SETTLE_SECONDS)
            finally:
                sampler.stop()
            after = rss_mib(pid)
            sessions_after = active_sessions(base_url)
            lingered = None
            if linger_seconds > SETTLE_SECONDS:
                await asyncio.sleep(linger_seconds - SETTLE_SECONDS)
                # Streamlit forgets expired sessions only when it next stores one.
                await visit_once(browser, base_url)
                await wait_for_disconnects(port)
                await asyncio.sleep(SETTLE_SECONDS)
                lingered = rss_mib(pid)
        finally:
            await browser.close()
    return {
        "outcomes": outcomes,
        "seconds": seconds,
        "rss_start_mib": start,
        "rss_before_mib": before,
        "rss_peak_mib": sampler.peak_mib,
        "rss_after_mib": after,
        "sessions_during": sessions,
        "sessions_after": sessions_after,
        "connections_peak": sampler.peak_connections,
        "connections_after": connections_after,
        "rss_lingered_mib": lingered,
    }


def default_launch() -> dict[str, Any]:
    return {"executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS, "headless": True}


def run_load(
    *,
    folder: Path,
    pages: int = PAGES,
    launch: Mapping[str, Any] | None = None,
    linger_seconds: float = 0.0,
) -> LoadResult:
    """Prepare a database in `folder`, serve it, complete `pages` surveys at once, measure.

    `launch` are Playwright's launch arguments (default: Debian's Chromium, headless). The
    browser is driven from an event loop in a thread of its own, because Playwright's sync
    API (which pytest-playwright uses) leaves an event loop running on the calling thread.
    """
    database_url = f"sqlite:///{folder / 'attune.db'}"
    respondents = prepare_database(database_url=database_url, pages=pages)
    measured: dict[str, Any] = {}
    failure: list[BaseException] = []
    with streamlit_process(database_url, folder) as server:

        def in_thread() -> None:
            try:
                measured.update(
                    asyncio.run(
                        measure(
                            base_url=server.url,
                            pid=server.process.pid,
                            respondents=respondents,
                            launch=launch or default_launch(),
                            linger_seconds=linger_seconds,
                        )
                    )
                )
            except BaseException as error:  # noqa: BLE001 - raised again on the caller's thread
                failure.append(error)

        worker = threading.Thread(target=in_thread, name="browser-load")
        worker.start()
        worker.join()
    if failure:
        raise failure[0]
    responses, used = stored_counts(database_url)
    log = (folder / "server.log").read_text(errors="replace")
    outcomes: list[PageOutcome] = measured.pop("outcomes")
    return LoadResult(
        pages=pages,
        completed=sum(outcome.thanked for outcome in outcomes),
        responses_stored=responses,
        tokens_used=used,
        server_tracebacks=log.count("Traceback"),
        database_url=database_url,
        outcomes=tuple(outcomes),
        linger_seconds=linger_seconds,
        **measured,
    )


def record(*, pages: int = PAGES, linger_seconds: float = 0.0, readme: bool = True) -> LoadResult:
    """Run the load, print the table and, with `readme`, write it into README.md."""
    with tempfile.TemporaryDirectory(prefix="attune-browser-load-") as folder:
        result = run_load(folder=Path(folder), pages=pages, linger_seconds=linger_seconds)
    for outcome in result.outcomes:
        if outcome.error:
            print(f"page {outcome.respondent.number}: {outcome.error.splitlines()[0]}")
    table = f"{machine()}\n\n{result.table()}"
    print(table)
    if readme and not write_section(README, MARKER, "browser load", table):
        raise SystemExit("README.md has no <!-- bench:browser --> section to update")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=PAGES)
    parser.add_argument(
        "--linger",
        type=float,
        default=0.0,
        help="also read the server's memory this many seconds after the pages closed "
        f"(Streamlit keeps closed sessions for {SESSION_TTL_SECONDS} s)",
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    result = record(pages=args.pages, linger_seconds=args.linger, readme=not args.no_readme)
    if result.completed < result.pages or result.responses_stored != result.pages:
        raise SystemExit("Not every survey was completed and stored once.")


if __name__ == "__main__":
    main()
