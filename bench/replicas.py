"""Capacity of one app replica, and of two behind HAProxy, with surveys in Chromium pages.

The layout of README "Deployment: several replicas" on this machine: PostgreSQL, N Streamlit
replicas (tests/support/browser.py) and, for more than one, HAProxy from the shipped
deploy/haproxy.cfg (tests/support/haproxy.py). Every page completes the survey with its own
personal link at once (bench/browser_load.py: one Chromium, a context per respondent).
Measured per layout:

- concurrent survey sessions: pages open at once, every one completed and stored once;
- steps per second: every step drawn (start, seven question steps, review, thank-you) over
  the wall time from the first Start to the last thank-you;
- p95 step time: from a click on Start, Next or Submit until the next step is drawn and its
  run has finished, over every step of every page;
- server memory per session: the replicas' resident memory (VmRSS, with any children) at its
  peak, less what they held after one warm-up visit, divided by the sessions;
- CPU per session: the replicas' user+system CPU seconds during the run over the sessions,
  the figure to scale to a larger machine (divide its cores' seconds by it).

Chromium runs on the same two cores and takes most of them: the figures are a floor for
the servers, not their ceiling.

    python -m bench.replicas                     # 16 pages, 1 and 2 replicas; README updated
    python -m bench.replicas --pages 8 --no-readme
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import async_playwright
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench.browser_load import (
    Gate,
    PageOutcome,
    Respondent,
    complete_survey,
    default_launch,
    new_context,
    prepare_database,
    process_tree,
    rss_mib,
    stored_counts,
    visit_once,
)
from bench.readme import POSTGRES_URL, README, machine, write_section
from tests.support.browser import free_port, streamlit_processes
from tests.support.haproxy import haproxy

PAGES = 16
MARKER = re.compile(r"(<!-- bench:replicas -->\n).*?(<!-- /bench:replicas -->)", re.DOTALL)
SAMPLE_EVERY_SECONDS = 0.2
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User+system CPU time of `pids` and their descendants so far."""
    total = 0
    for pid in pids:
        for member in process_tree(pid):
            try:
                fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


@dataclass(frozen=True)
class Capacity:
    replicas: int
    pages: int
    completed: int
    stored: int
    seconds: float
    steps: int
    p95_step_seconds: float
    median_step_seconds: float
    rss_before_mib: float
    rss_peak_mib: float
    cpu_seconds: float

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds

    @property
    def mib_per_session(self) -> float:
        return (self.rss_peak_mib - self.rss_before_mib) / self.pages

    @property
    def cpu_per_session(self) -> float:
        return self.cpu_seconds / max(1, self.completed)


def table(results: Sequence[Capacity]) -> str:
    def layout(result: Capacity) -> str:
        return "1 replica" if result.replicas == 1 else f"{result.replicas} replicas + HAProxy"

    rows = [
        ("Concurrent survey sessions (completed / stored)",
         lambda r: f"{r.pages} ({r.completed} / {r.stored})"),
        ("Wall time, first Start to last thank-you", lambda r: f"{r.seconds:,.0f} s"),
        ("Steps per second (9 a survey: Start, 7 question steps, review, Submit)",
         lambda r: f"{r.steps_per_second:,.2f}"),
        ("Step time, median / p95", lambda r: f"{r.median_step_seconds:,.1f} s / "
         f"{r.p95_step_seconds:,.1f} s"),
        ("Server memory after warm-up, all replicas", lambda r: f"{r.rss_before_mib:,.0f} MiB"),
        ("Server memory per session (peak less warm-up)",
         lambda r: f"{r.mib_per_session:,.1f} MiB"),
        ("Server CPU per completed survey", lambda r: f"{r.cpu_per_session:,.2f} s"),
    ]  # fmt: skip
    header = "| | " + " | ".join(layout(result) for result in results) + " |\n"
    header += "| --- |" + " ---: |" * len(results) + "\n"
    return (
        header
        + "\n".join(
            f"| {name} | " + " | ".join(cell(result) for result in results) + " |"
            for name, cell in rows
        )
        + "\n"
    )


def postgres_schema() -> tuple[str, str]:
    schema = f"attune_bench_replicas_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return schema, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES_URL, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


async def drive(
    base_url: str,
    respondents: Sequence[Respondent],
    pids: Sequence[int],
    replica_urls: Sequence[str],
) -> tuple[list[PageOutcome], list[float], float, float, float, float]:
    """Complete every survey at once; returns the outcomes, the step times, the wall time,
    the replicas' memory before and at peak, and their CPU seconds during the run."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**default_launch())
        try:
            for url in replica_urls:  # one warm-up visit to each replica, directly
                await visit_once(browser, url)
            before = sum(rss_mib(pid) for pid in pids)
            peak = before
            stop = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not stop.wait(SAMPLE_EVERY_SECONDS):
                    peak = max(peak, sum(rss_mib(pid) for pid in pids))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            cpu_start = cpu_seconds(pids)
            contexts = [await new_context(browser) for _ in respondents]
            gates = (Gate(len(respondents)), Gate(len(respondents)))
            steps: list[float] = []
            started = time.perf_counter()
            outcomes = await asyncio.gather(
                *(
                    complete_survey(context, base_url, person, gates, steps)
                    for context, person in zip(contexts, respondents, strict=True)
                )
            )
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(pids) - cpu_start
            stop.set()
            sampler.join()
            for context in contexts:
                await context.close()
        finally:
            await browser.close()
    return list(outcomes), steps, seconds, before, peak, cpu


def measure(replicas: int, pages: int) -> Capacity:
    schema, database_url = postgres_schema()
    try:
        respondents = prepare_database(database_url=database_url, pages=pages)
        with tempfile.TemporaryDirectory(prefix="attune-replicas-") as folder, ExitStack() as stack:
            port = free_port()
            settings = {"ATTUNE_BASE_URL": f"http://127.0.0.1:{port}"}
            servers = stack.enter_context(
                streamlit_processes(replicas, database_url, Path(folder), settings)
            )
            if replicas > 1:
                base_url = stack.enter_context(
                    haproxy([server.url for server in servers], Path(folder), port)
                ).url
            else:
                base_url = servers[0].url
            pids = [server.process.pid for server in servers]
            measured: list[tuple] = []
            failure: list[BaseException] = []

            def in_thread() -> None:
                try:
                    measured.append(
                        asyncio.run(
                            drive(base_url, respondents, pids, [server.url for server in servers])
                        )
                    )
                except BaseException as error:  # noqa: BLE001 - raised on the caller's thread
                    failure.append(error)

            worker = threading.Thread(target=in_thread)
            worker.start()
            worker.join()
            if failure:
                raise failure[0]
        outcomes, steps, seconds, before, peak, cpu = measured[0]
        stored, _ = stored_counts(database_url)
    finally:
        drop_schema(schema)
    for outcome in outcomes:
        if outcome.error:
            print(f"page {outcome.respondent.number}: {outcome.error.splitlines()[0]}")
    ordered = sorted(steps)
    return Capacity(
        replicas=replicas,
        pages=pages,
        completed=sum(outcome.thanked for outcome in outcomes),
        stored=stored,
        seconds=seconds,
        steps=len(steps),
        p95_step_seconds=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        median_step_seconds=statistics.median(ordered),
        rss_before_mib=before,
        rss_peak_mib=peak,
        cpu_seconds=cpu,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=PAGES)
    parser.add_argument("--replicas", default="1,2", help="layouts to measure, e.g. 1,2")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    results = []
    for count in [int(value) for value in args.replicas.split(",")]:
        result = measure(count, args.pages)
        print(f"{count} replica(s): {result}", flush=True)
        results.append(result)
    report = f"{machine()}\n\n{table(results)}"
    print(report)
    if not args.no_readme and not write_section(README, MARKER, "replicas", report):
        raise SystemExit("README.md has no <!-- bench:replicas --> section to update")
    if any(result.completed < result.pages or result.stored != result.pages for result in results):
        raise SystemExit("Not every survey was completed and stored once.")


if __name__ == "__main__":
    main()
