"""What one respondent waits for after Submit, and what each open survey costs the server.

Two figures the issue on the submit path asks for (#18), each against a floor measured in the
same run: a bare Streamlit page (a script this bench writes into its temporary folder) whose
one button writes one row with `sqlite3` and shows "Thank you", served by a Streamlit process
of its own beside the app's.

- **Submit to thank-you**, one respondent alone on an idle server: a headless Chromium page
  fills a survey up to its review step, then the time runs from the click on "Submit my
  answers" to the frame in which the "Thank you" heading is drawn. It is taken in the page
  (the click event's `performance.now()` to the first animation frame after the heading
  appeared), because Playwright's own waits poll at intervals as coarse as what is measured.
  Each repetition uses a fresh link in a fresh context, and alternates with the bare button
  (timed the same way) and with `submit_survey` called directly on the same database (the
  server's own share; the rest is Streamlit's rerun, the page, the websocket and drawing).
- **Server memory per open survey session**: N Chromium contexts, each with its own link and
  advanced to the second question step (its session holds the form and the first answers;
  their draft is in the database), kept open while more are added, N from 1 to 50; the
  server's resident memory (VmRSS, with any children) is read after a short settle at each N
  and compared with what it held after one warm-up session had been opened and closed. The
  bare page is measured the same way.

    python -m bench.session_cost                    # 15 submissions, 1 to 50 sessions; README
    python -m bench.session_cost --repeats 3 --sessions 1,2 --no-readme
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from bench.browser_load import (
    PAGE_TIMEOUT_MS,
    Respondent,
    active_sessions,
    answer_step,
    default_launch,
    new_context,
    prepare_database,
    rss_mib,
    settled,
    stored_counts,
    wait_for_disconnects,
)
from bench.readme import README, machine, write_section
from surveys.storage import make_engine
from surveys.survey.form import NOT_APPLICABLE, AnswerValue
from surveys.survey.submit import submit_survey
from tests.support.browser import (
    RunningServer,
    free_port,
    stop,
    streamlit_command,
    streamlit_process,
    wait_until_healthy,
)

REPEATS = 15
SESSIONS = (1, 5, 10, 20, 30, 50)
MARKER = re.compile(r"(<!-- bench:session-cost -->\n).*?(<!-- /bench:session-cost -->)", re.DOTALL)
# After the last page of a step is drawn: time for the server to finish what the runs left
# (the draft written, the messages cached) before its memory is read.
SETTLE_SECONDS = 3.0
THANK_YOU = "Thank you"
SUBMIT = "Submit my answers"

# The floor: as little as Streamlit can do for a Submit that stores something.
FLOOR_SCRIPT = '''"""A bare Streamlit button that writes one row: the floor for a Submit."""

import sqlite3

import streamlit as st

if st.button("Submit"):
    connection = sqlite3.connect({database!r}, isolation_level=None)
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO submission (submitted) VALUES (julianday('now'))")
    connection.execute("COMMIT")
    connection.close()
    st.title("Thank you", anchor=False)
'''

# Installed in the page just before the click: resolves to the milliseconds from the click
# event to the first animation frame after a visible <h1> reading `label` appeared.
TIMER = """
(label) => {
  window.__thankedAfter = new Promise((resolve) => {
    let clicked = null;
    document.addEventListener("click", () => { clicked = performance.now(); },
                              { capture: true, once: true });
    const drawn = () => [...document.querySelectorAll("h1")].some(
      (heading) => heading.textContent.trim() === label && heading.checkVisibility());
    const observer = new MutationObserver(() => {
      if (clicked === null || !drawn()) return;
      observer.disconnect();
      requestAnimationFrame(() => resolve(performance.now() - clicked));
    });
    observer.observe(document.body,
                     { childList: true, subtree: true, characterData: true, attributes: true });
  });
}
"""


@dataclass(frozen=True)
class SubmitTimes:
    """Seconds per repetition: the survey's Submit, the bare button's, and submit_survey's."""

    attune: tuple[float, ...]
    floor: tuple[float, ...]
    direct: tuple[float, ...]


@dataclass(frozen=True)
class MemoryStep:
    sessions: int
    # Streamlit's own count (/_stcore/metrics): each page holds a session of its own.
    streamlit_sessions: int
    rss_mib: float


@dataclass(frozen=True)
class SessionMemory:
    """One server's resident memory as sessions were added."""

    start_mib: float
    warm_mib: float
    steps: tuple[MemoryStep, ...]

    def per_session(self, step: MemoryStep) -> float:
        return (step.rss_mib - self.warm_mib) / step.sessions


@dataclass(frozen=True)
class SessionCost:
    times: SubmitTimes
    attune_memory: SessionMemory
    floor_memory: SessionMemory
    # Stored by the app (its submissions and submit_survey's own) / links used.
    responses_stored: int
    tokens_used: int
    # Rows the bare button wrote (one per click, warm-up included).
    floor_rows: int
    expected_responses: int
    expected_floor_rows: int
    server_tracebacks: int
    load_before: float
    load_after: float

    @property
    def complete(self) -> bool:
        return (
            self.responses_stored == self.tokens_used == self.expected_responses
            and self.floor_rows == self.expected_floor_rows
            and self.server_tracebacks == 0
        )

    def tables(self) -> str:
        return f"{self.submit_table()}\n{self.memory_table()}"

    def submit_table(self) -> str:
        times = self.times
        attune, floor, direct = (
            (statistics.median(values), p90(values))
            for values in (times.attune, times.floor, times.direct)
        )
        rest = (attune[0] - direct[0], attune[1] - direct[1])
        rows = [
            ("Attune survey: Submit to the thank-you page (SQLite)", attune),
            ("Floor: a bare Streamlit button writing one row (`sqlite3`)", floor),
            ("&nbsp;&nbsp;of Attune's: `submit_survey` alone on the same database", direct),
            ("&nbsp;&nbsp;of Attune's: the rest (Streamlit's rerun, the page, the websocket, "
             "drawing)", rest),
        ]  # fmt: skip
        lines = [
            f"| One respondent alone, click to text drawn ({len(times.attune)} each) "
            "| median | p90 |",
            "| --- | ---: | ---: |",
            *(f"| {name} | {milliseconds(m)} | {milliseconds(p)} |" for name, (m, p) in rows),
            f"| Attune ÷ floor | {attune[0] / floor[0]:,.1f}× | {attune[1] / floor[1]:,.1f}× |",
        ]
        return "\n".join(lines) + "\n"

    def memory_table(self) -> str:
        attune, floor = self.attune_memory, self.floor_memory
        lines = [
            "| Sessions open | Attune server RSS | per session over warm-up | since the row above "
            "| bare page RSS | per session over warm-up |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| 0 (at start) | {attune.start_mib:,.0f} MiB | | | {floor.start_mib:,.0f} MiB | |",
            f"| 0 (after one warm-up session) | {attune.warm_mib:,.0f} MiB | | "
            f"| {floor.warm_mib:,.0f} MiB | |",
        ]
        previous_sessions, previous_mib = 0, attune.warm_mib
        for ours, bare in zip(attune.steps, floor.steps, strict=True):
            marginal = (ours.rss_mib - previous_mib) / (ours.sessions - previous_sessions)
            cells = [
                str(ours.sessions),
                f"{ours.rss_mib:,.0f} MiB",
                f"{attune.per_session(ours):,.2f} MiB",
                f"{marginal:,.2f} MiB",
                f"{bare.rss_mib:,.0f} MiB",
                f"{floor.per_session(bare):,.2f} MiB",
            ]
            lines.append("| " + " | ".join(cells) + " |")
            previous_sessions, previous_mib = ours.sessions, ours.rss_mib
        return "\n".join(lines) + "\n"


def p90(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


# --- The floor's server ------------------------------------------------------------------------


def prepare_floor(folder: Path) -> tuple[Path, Path]:
    """The bare page's script and its database (WAL, as the app's SQLite), in `folder`."""
    database = folder / "floor.db"
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE submission (id INTEGER PRIMARY KEY, submitted REAL NOT NULL)"
        )
    connection.close()
    script = folder / "floor.py"
    script.write_text(FLOOR_SCRIPT.format(database=str(database)))
    return script, database


@contextmanager
def bare_streamlit(script: Path) -> Iterator[RunningServer]:
    """Serve `script` with the flags the app's servers get (tests/support/browser.py)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = script.with_suffix(".log")
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("ATTUNE_")
    }
    with log.open("wb") as output:
        server = subprocess.Popen(
            streamlit_command(script.name, port),
            cwd=script.parent,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(server, url, log)
            yield RunningServer(url, server)
        finally:
            stop(server)


def floor_rows(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        (rows,) = connection.execute("SELECT COUNT(*) FROM submission").fetchone()
    connection.close()
    return int(rows)


# --- The pages ---------------------------------------------------------------------------------


async def open_survey(context: BrowserContext, base_url: str, respondent: Respondent) -> Page:
    """The respondent's link opened and started: the first question step drawn."""
    page = await context.new_page()
    await page.goto(f"{base_url}/survey?token={respondent.token}")
    start = page.get_by_role("button", name="Start the survey")
    await expect(start).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    await settled(page)
    await start.click()
    await at_step(page, 1, respondent)
    return page


async def at_step(page: Page, number: int, respondent: Respondent) -> None:
    total = len(respondent.steps) + 1  # and the review
    await expect(page.get_by_text(f"Step {number} of {total}", exact=True)).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    await settled(page)


async def answer_and_next(page: Page, respondent: Respondent, number: int) -> None:
    step = respondent.steps[number - 1]
    await answer_step(page, step)
    if step.has_comment:
        await page.get_by_role("textbox").fill(respondent.comment)
    await page.get_by_role("button", name="Next").click()


async def open_at_second_step(
    browser: Browser, base_url: str, respondent: Respondent
) -> BrowserContext:
    """A context of its own whose survey is on its second question step; returns the context."""
    context = await new_context(browser)
    page = await open_survey(context, base_url, respondent)
    await answer_and_next(page, respondent, 1)
    await at_step(page, 2, respondent)
    return context


async def open_bare_page(browser: Browser, base_url: str) -> BrowserContext:
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(base_url)
    await expect(page.get_by_role("button", name="Submit")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    await settled(page)
    return context


async def click_until_thanked(page: Page, button: str) -> float:
    """Seconds from the click on `button` to the frame that draws the thank-you heading."""
    await page.evaluate(TIMER, THANK_YOU)
    await page.get_by_role("button", name=button).click()
    milliseconds = await asyncio.wait_for(
        page.evaluate("window.__thankedAfter"), timeout=PAGE_TIMEOUT_MS / 1000
    )
    await expect(page.get_by_role("heading", name=THANK_YOU)).to_be_visible()
    return float(milliseconds) / 1000


async def time_survey_submit(browser: Browser, base_url: str, respondent: Respondent) -> float:
    context = await new_context(browser)
    try:
        page = await open_survey(context, base_url, respondent)
        for number in range(1, len(respondent.steps) + 1):
            await answer_and_next(page, respondent, number)
            if number < len(respondent.steps):
                await at_step(page, number + 1, respondent)
        await expect(page.get_by_role("heading", name="Check your answers")).to_be_visible(
            timeout=PAGE_TIMEOUT_MS
        )
        await settled(page)
        return await click_until_thanked(page, SUBMIT)
    finally:
        await context.close()


async def time_bare_submit(browser: Browser, base_url: str) -> float:
    context = await open_bare_page(browser, base_url)
    try:
        return await click_until_thanked(context.pages[0], "Submit")
    finally:
        await context.close()


def answers_of(respondent: Respondent) -> tuple[dict[str, AnswerValue | None], str | None]:
    """What the respondent's pages would send: every planned answer, and their comment."""
    answers: dict[str, AnswerValue | None] = {
        choice.code: NOT_APPLICABLE if choice.value is None else choice.value
        for step in respondent.steps
        for choice in step.answers
    }
    has_comment = any(step.has_comment for step in respondent.steps)
    return answers, respondent.comment if has_comment else None


class DirectSubmitter:
    """submit_survey called in this process, on an engine of its own kept warm (as the
    server's is): the server's own share of a Submit, without Streamlit or the network."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)

    def submit(self, respondent: Respondent) -> float:
        answers, comment = answers_of(respondent)
        started = time.perf_counter()
        submit_survey(
            engine=self.engine,
            token=respondent.token,
            submission_key=secrets.token_urlsafe(32),
            answers=answers,
            comment=comment,
        )
        return time.perf_counter() - started

    def close(self) -> None:
        self.engine.dispose()


# --- The measurements --------------------------------------------------------------------------


async def memory_per_session(
    browser: Browser,
    server: RunningServer,
    sessions: Sequence[int],
    open_session: Callable[[Browser, str], Awaitable[BrowserContext]],
    settle_seconds: float,
    warm_up: bool,
) -> SessionMemory:
    """Open sessions with `open_session(browser, base_url)` up to each count in `sessions`,
    keeping them open, and read the server's memory at each (after one session opened and
    closed, with `warm_up`); every context is closed after."""
    pid, base_url = server.process.pid, server.url
    port = int(base_url.rsplit(":", 1)[1])
    start = rss_mib(pid)
    if warm_up:
        opened = await open_session(browser, base_url)
        await opened.close()
        await wait_for_disconnects(port)
        await asyncio.sleep(settle_seconds)
    warm = rss_mib(pid)
    contexts: list[BrowserContext] = []
    steps = []
    try:
        for count in sessions:
            while len(contexts) < count:
                contexts.append(await open_session(browser, base_url))
            await asyncio.sleep(settle_seconds)
            counted = await asyncio.to_thread(active_sessions, base_url)
            steps.append(MemoryStep(count, counted, rss_mib(pid)))
            print(
                f"sessions {count:3}: {steps[-1].rss_mib:7.1f} MiB ({counted} Streamlit sessions)",
                flush=True,
            )
    finally:
        for context in contexts:
            await context.close()
    await wait_for_disconnects(port)
    return SessionMemory(start, warm, tuple(steps))


async def measure(
    *,
    attune: RunningServer,
    floor: RunningServer,
    database_url: str,
    memory_respondents: Sequence[Respondent],
    timed_respondents: Sequence[Respondent],
    direct_respondents: Sequence[Respondent],
    sessions: Sequence[int],
    launch: Mapping[str, Any],
    settle_seconds: float,
    warm_up: bool,
) -> dict[str, Any]:
    """Memory first, on servers nobody has used yet; then the submissions, one at a time.

    The first respondent of `timed_respondents` and of `direct_respondents` warms up (with
    `warm_up`; otherwise they are not used)."""
    waiting = iter(memory_respondents)

    async def survey_session(browser: Browser, base_url: str) -> BrowserContext:
        return await open_at_second_step(browser, base_url, next(waiting))

    direct = DirectSubmitter(database_url)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch)
        try:
            print("memory: survey sessions", flush=True)
            attune_memory = await memory_per_session(
                browser, attune, sessions, survey_session, settle_seconds, warm_up
            )
            print("memory: bare page sessions", flush=True)
            floor_memory = await memory_per_session(
                browser, floor, sessions, open_bare_page, settle_seconds, warm_up
            )
            await asyncio.sleep(settle_seconds)
            if warm_up:
                # One of each untimed: the first Submit loads what only a Submit needs.
                await time_survey_submit(browser, attune.url, timed_respondents[0])
                await time_bare_submit(browser, floor.url)
                await asyncio.to_thread(direct.submit, direct_respondents[0])
            survey_times, bare_times, direct_times = [], [], []
            for respondent, other in zip(
                timed_respondents[1:], direct_respondents[1:], strict=True
            ):
                survey_times.append(await time_survey_submit(browser, attune.url, respondent))
                bare_times.append(await time_bare_submit(browser, floor.url))
                direct_times.append(await asyncio.to_thread(direct.submit, other))
                print(
                    f"submit: survey {survey_times[-1] * 1000:6.0f} ms, bare "
                    f"{bare_times[-1] * 1000:6.0f} ms, submit_survey "
                    f"{direct_times[-1] * 1000:6.0f} ms",
                    flush=True,
                )
        finally:
            direct.close()
            await browser.close()
    return {
        "times": SubmitTimes(tuple(survey_times), tuple(bare_times), tuple(direct_times)),
        "attune_memory": attune_memory,
        "floor_memory": floor_memory,
    }


def run(
    *,
    folder: Path,
    repeats: int = REPEATS,
    sessions: Sequence[int] = SESSIONS,
    launch: Mapping[str, Any] | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    warm_up: bool = True,
) -> SessionCost:
    """Prepare both databases in `folder`, serve them, measure. Playwright runs in a thread
    of its own, as in bench/browser_load.py (pytest-playwright's loop may hold this one).

    Without `warm_up` (a quick check that it runs) nothing is opened or submitted untimed,
    so the first figures include what the servers load on first use."""
    load_before = os.getloadavg()[0]
    database_url = f"sqlite:///{folder / 'attune.db'}"
    memory_count = max(sessions) + 1  # and the warm-up session
    respondents = prepare_database(
        database_url=database_url, pages=memory_count + 2 * (repeats + 1)
    )
    memory_respondents = respondents[:memory_count]
    timed_respondents = respondents[memory_count : memory_count + repeats + 1]
    direct_respondents = respondents[memory_count + repeats + 1 :]
    script, floor_database = prepare_floor(folder)
    measured: dict[str, Any] = {}
    failure: list[BaseException] = []
    with ExitStack() as servers:
        attune = servers.enter_context(streamlit_process(database_url, folder))
        floor = servers.enter_context(bare_streamlit(script))

        def in_thread() -> None:
            try:
                measured.update(
                    asyncio.run(
                        measure(
                            attune=attune,
                            floor=floor,
                            database_url=database_url,
                            memory_respondents=memory_respondents,
                            timed_respondents=timed_respondents,
                            direct_respondents=direct_respondents,
                            sessions=sessions,
                            launch=launch or default_launch(),
                            settle_seconds=settle_seconds,
                            warm_up=warm_up,
                        )
                    )
                )
            except BaseException as error:  # noqa: BLE001 - raised again on the caller's thread
                failure.append(error)

        worker = threading.Thread(target=in_thread, name="session-cost")
        worker.start()
        worker.join()
    if failure:
        raise failure[0]
    responses, used = stored_counts(database_url)
    logs = (folder / "server.log").read_text(errors="replace") + script.with_suffix(
        ".log"
    ).read_text(errors="replace")
    return SessionCost(
        responses_stored=responses,
        tokens_used=used,
        floor_rows=floor_rows(floor_database),
        expected_responses=2 * (repeats + warm_up),
        expected_floor_rows=repeats + warm_up,
        server_tracebacks=logs.count("Traceback"),
        load_before=load_before,
        load_after=os.getloadavg()[0],
        **measured,
    )


def record(
    *, repeats: int = REPEATS, sessions: Sequence[int] = SESSIONS, readme: bool = True
) -> SessionCost:
    """Run both measurements, print the tables and, with `readme`, write them into README.md."""
    with tempfile.TemporaryDirectory(prefix="attune-session-cost-") as folder:
        result = run(folder=Path(folder), repeats=repeats, sessions=sessions)
    table = (
        f"{machine()} Load average (1 minute) {result.load_before:,.1f} at the start and "
        f"{result.load_after:,.1f} at the end.\n\n{result.tables()}"
    )
    print(table)
    if readme and not write_section(README, MARKER, "session cost", table):
        raise SystemExit("README.md has no <!-- bench:session-cost --> section to update")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help="timed submissions of each kind"
    )
    parser.add_argument(
        "--sessions",
        default=",".join(str(count) for count in SESSIONS),
        help="open sessions at which memory is read, ascending",
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    sessions = [int(count) for count in args.sessions.split(",")]
    if args.repeats < 1 or not sessions or sessions != sorted(set(sessions)) or sessions[0] < 1:
        parser.error("--repeats must be at least 1 and --sessions ascending counts from 1")
    result = record(repeats=args.repeats, sessions=sessions, readme=not args.no_readme)
    if not result.complete:
        raise SystemExit(
            f"Stored {result.responses_stored} responses ({result.tokens_used} links used) of "
            f"{result.expected_responses}, and {result.floor_rows} bare rows of "
            f"{result.expected_floor_rows}; {result.server_tracebacks} tracebacks."
        )


if __name__ == "__main__":
    main()
