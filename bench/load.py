"""Submissions under load: many writers at once, with double submits mixed in.

`run_load` sets up one open survey cycle (departments × staff groups, personal links and one
open link) and has `writers` threads make `submissions` calls to
`surveys.survey.submit.submit_survey`. Most forms are sent once; some are sent twice at the same
moment (a double click), some again later with the same key (a retry after a lost reply), and
some personal links are used a second time with a new form (the link opened in a second
browser). Every call's outcome and time is recorded. `tests/test_load.py` checks that nothing
was lost or stored twice; this module's `main` times the load on SQLite and PostgreSQL:

    python -m bench.load                        # both backends, README.md updated
    python -m bench.load --backends sqlite --submissions 2000 --no-readme

Each backend is also timed against its floor, in the same run (bench/floor.py): raw `sqlite3`
and `psycopg` writers storing the same rows in the same transactions.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import random
import re
import shutil
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from sqlalchemy import Engine, create_engine, text

from bench import floor
from bench.readme import POSTGRES_URL, README, WORK, machine, write_section
from surveys.instruments import builtin_instrument
from surveys.invitations.links import create_invitations, create_open_link
from surveys.organisation.catalogue import register_instrument
from surveys.organisation.cycles import add_cycle
from surveys.organisation.structure import (
    add_department,
    add_division,
    staff_groups,
)
from surveys.records import CycleState
from surveys.storage import make_engine, migrate, write_session
from surveys.survey.form import AnswerValue, SurveyForm, SurveyUnavailable, Unavailable, load_survey
from surveys.survey.submit import SubmissionFailed, SubmitOutcome, submit_survey

WRITERS = 32
SUBMISSIONS = 10_000
DEPARTMENTS = 8
LOAD_MARKER = re.compile(r"(<!-- bench:load -->\n).*?(<!-- /bench:load -->)", re.DOTALL)
SCHEMA = "attune_bench_load"
# A double click's two copies wait for each other this long at most, so that they really race.
TOGETHER_SECONDS = 30.0
# Out of every 25 forms: which are double-clicked, retried later, or (personal links only)
# opened again in a second browser. One form in four comes through the open link.
DOUBLE_CLICK, RETRY, SECOND_BROWSER, OPEN_LINK = 5, 11, 17, 3


class Kind(StrEnum):
    """Why a form is sent."""

    first = "first"
    double_click = "double click"
    retry = "retry"
    second_browser = "second browser"


@dataclass(frozen=True)
class Form:
    """One filled-in form, as a browser would send it."""

    number: int
    token: str
    key: str
    is_open: bool
    # Department and staff group ids: the link's own, or the open-link respondent's choice.
    cell: tuple[int, int]
    answers: dict[str, AnswerValue]
    comment: str | None


LINK_USED = "link used"


@dataclass
class Send:
    """One call to submit_survey, and what came of it."""

    form: Form
    kind: Kind
    together: threading.Barrier | None = None
    # SubmitOutcome, LINK_USED, or the exception that ended the call (after any retries).
    outcome: SubmitOutcome | str | Exception | None = None
    seconds: list[float] = field(default_factory=list)  # one per attempt
    failures: list[str] = field(default_factory=list)  # each SubmissionFailed's message


@dataclass
class LoadResult:
    backend: str
    writers: int
    cycle_id: int
    questions: int
    sends: list[Send]
    seconds: float
    # CPU time of this whole process (every writer thread) while the sends ran: the
    # Python side of the work, which the machine's other load does not inflate much.
    cpu_seconds: float = 0.0

    @property
    def cpu_ms_per_form(self) -> float:
        return 1000 * self.cpu_seconds / max(1, len(self.sends))

    def outcomes(self) -> Counter[str]:
        return Counter(
            str(send.outcome) if isinstance(send.outcome, str) else type(send.outcome).__name__
            for send in self.sends
        )

    @property
    def stored(self) -> int:
        return sum(send.outcome is SubmitOutcome.stored for send in self.sends)

    @property
    def already_received(self) -> int:
        return sum(send.outcome is SubmitOutcome.already_received for send in self.sends)

    @property
    def link_used(self) -> int:
        return sum(send.outcome == LINK_USED for send in self.sends)

    @property
    def errors(self) -> list[Send]:
        """Calls that ended in anything but stored, already received or a used link."""
        return [send for send in self.sends if isinstance(send.outcome, Exception)]

    @property
    def failures(self) -> int:
        """SubmissionFailed raised along the way, retried or not."""
        return sum(len(send.failures) for send in self.sends)

    @property
    def per_second(self) -> float:
        return len(self.sends) / self.seconds

    def latency(self, quantile: float) -> float:
        """Seconds one call took, at this quantile (0.5, 0.99) over every attempt."""
        times = sorted(seconds for send in self.sends for seconds in send.seconds)
        if len(times) < 2:
            return times[0] if times else 0.0
        cuts = statistics.quantiles(times, n=1000, method="inclusive")
        return cuts[min(len(cuts) - 1, max(0, round(quantile * 1000) - 1))]


class Progress:
    """How many forms the writers have stored so far; `during` waits on it to act mid-load."""

    def __init__(self) -> None:
        self._stored = 0
        self._changed = threading.Condition()

    def finished(self, send: Send) -> None:
        with self._changed:
            self._stored += send.outcome is SubmitOutcome.stored
            self._changed.notify_all()

    @property
    def stored(self) -> int:
        return self._stored

    def wait_for_stored(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._stored >= count, timeout)


# --- The survey and the forms ------------------------------------------------------------------


def prepare(engine: Engine) -> tuple[int, list[tuple[int, int]]]:
    """An open cycle of the built-in instrument and DEPARTMENTS wards; (cycle id, cells)."""
    with write_session(engine) as session:
        instrument_id = register_instrument(session=session, definition=builtin_instrument())
        division_id = add_division(session=session, name="Load")
        departments = [
            add_department(session=session, name=f"Ward {number}", division_id=division_id)
            for number in range(1, DEPARTMENTS + 1)
        ]
        cycle_id = add_cycle(
            session=session,
            name="Load",
            opens=date(2026, 10, 1),
            closes=date(2026, 12, 31),
            instrument_id=instrument_id,
            state=CycleState.open,
        )
        groups = [group.id for group in staff_groups(session=session)]
    return cycle_id, [(department, group) for department in departments for group in groups]


def _answers(form: SurveyForm, number: int) -> dict[str, AnswerValue]:
    """Every question answered, differently from one form to the next ("does not apply" too)."""
    answers: dict[str, AnswerValue] = {}
    for index, (_, question) in enumerate(form.questions()):
        options = question.options()
        answers[question.code] = options[(number * 7 + index * 3) % len(options)]
    return answers


def plan(engine: Engine, submissions: int, *, seed: int = 0) -> tuple[int, int, list[Send]]:
    """The survey, its links and `submissions` sends in the order writers take them;
    returns (cycle id, questions per form, sends)."""
    rng = random.Random(seed)
    cycle_id, cells = prepare(engine)
    kinds: list[list[Kind]] = []
    total = 0
    while total < submissions:
        number = len(kinds)
        extra = [
            kind
            for kind, chosen in (
                (Kind.double_click, number % 25 == DOUBLE_CLICK),
                (Kind.retry, number % 25 == RETRY),
                (Kind.second_browser, number % 25 == SECOND_BROWSER and number % 4 != OPEN_LINK),
            )
            if chosen
        ]
        extra = extra[: submissions - total - 1]
        kinds.append([Kind.first, *extra])
        total += 1 + len(extra)

    personal = [number for number in range(len(kinds)) if number % 4 != OPEN_LINK]
    per_cell: dict[tuple[int, int], list[int]] = {}
    for number in personal:
        per_cell.setdefault(cells[number % len(cells)], []).append(number)
    tokens: dict[int, str] = {}
    with write_session(engine) as session:
        open_token = create_open_link(session=session, cycle_id=cycle_id)
        for (department_id, staff_group_id), numbers in per_cell.items():
            made = create_invitations(
                session=session,
                cycle_id=cycle_id,
                department_id=department_id,
                staff_group_id=staff_group_id,
                count=len(numbers),
            )
            tokens.update(zip(numbers, made, strict=True))
    # Every link of the cycle shows the same questions.
    survey_form = load_survey(engine=engine, token=open_token)

    units: list[tuple[float, list[Send]]] = []
    for number, form_kinds in enumerate(kinds):
        is_open = number % 4 == OPEN_LINK
        form = Form(
            number=number,
            token=open_token if is_open else tokens[number],
            key=f"form-{seed}-{number}",
            is_open=is_open,
            cell=cells[(number // 4 if is_open else number) % len(cells)],
            answers=_answers(survey_form, number),
            comment=f"Comment on form {number}." if number % 6 == 0 else None,
        )
        first = Send(form, Kind.first)
        unit = [first]
        for kind in form_kinds[1:]:
            if kind is Kind.double_click:
                # Taken by two writers one after the other, released together.
                first.together = threading.Barrier(2)
                unit.append(Send(form, kind, together=first.together))
            elif kind is Kind.retry:
                units.append((number + rng.uniform(20, 400), [Send(form, kind)]))
            else:
                # The same answers from another browser: whichever wins, the data is the same.
                twin = replace(form, key=f"{form.key}-again")
                units.append((number + rng.uniform(-2, 2), [Send(twin, kind)]))
        units.append((number, unit))
    units.sort(key=lambda pair: pair[0])
    return cycle_id, len(survey_form.questions()), [send for _, unit in units for send in unit]


# --- Sending ------------------------------------------------------------------------------------


def _send(
    engine: Engine, send: Send, retry_for: float, submit: Callable[..., SubmitOutcome]
) -> None:
    """One browser's submission; SubmissionFailed is retried, same key, for `retry_for` s."""
    if send.together is not None:
        # Should the other copy never come, this one goes alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            send.together.wait(TOGETHER_SECONDS)
    deadline = time.monotonic() + retry_for
    while True:
        started = time.perf_counter()
        try:
            send.outcome = submit(
                engine=engine,
                token=send.form.token,
                submission_key=send.form.key,
                answers=send.form.answers,
                comment=send.form.comment,
                department_id=send.form.cell[0] if send.form.is_open else None,
                staff_group_id=send.form.cell[1] if send.form.is_open else None,
            )
        except SubmissionFailed as failure:
            send.seconds.append(time.perf_counter() - started)
            send.failures.append(str(failure))
            if time.monotonic() < deadline:
                time.sleep(0.1 + random.random() / 5)  # noqa: S311 - spread the retries
                continue
            send.outcome = failure
        except SurveyUnavailable as refused:
            send.seconds.append(time.perf_counter() - started)
            send.outcome = LINK_USED if refused.reason is Unavailable.used else refused
        except Exception as error:  # noqa: BLE001 - recorded for the caller to judge
            send.seconds.append(time.perf_counter() - started)
            send.outcome = error
        else:
            send.seconds.append(time.perf_counter() - started)
        return


def send_all(
    engine: Engine,
    sends: Sequence[Send],
    *,
    writers: int = WRITERS,
    retry_for: float = 0.0,
    during: Callable[[Progress], None] | None = None,
    submit: Callable[..., SubmitOutcome] = submit_survey,
) -> float:
    """Have `writers` threads make every send through `submit` (`submit_survey`'s keyword
    arguments); `during` runs meanwhile in this thread. Returns the wall time in seconds."""
    work: queue.SimpleQueue[Send] = queue.SimpleQueue()
    for send in sends:
        if writers < 2:
            send.together = None  # nobody to race with
        work.put(send)
    progress = Progress()

    def writer() -> None:
        while True:
            try:
                send = work.get_nowait()
            except queue.Empty:
                return
            _send(engine, send, retry_for, submit)
            progress.finished(send)

    threads = [
        threading.Thread(target=writer, name=f"writer-{n}", daemon=True) for n in range(writers)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        if during is not None:
            during(progress)
    finally:
        for thread in threads:
            thread.join()
    return time.perf_counter() - started


def run_load(
    engine: Engine,
    *,
    writers: int = WRITERS,
    submissions: int = SUBMISSIONS,
    seed: int = 0,
    retry_for: float = 0.0,
    during: Callable[[Progress], None] | None = None,
) -> LoadResult:
    """Set up a survey in the (migrated, empty) database and send `submissions` forms at it
    from `writers` threads; SubmissionFailed is retried with the same form for `retry_for`
    seconds. `during(progress)` runs in the calling thread while the writers work."""
    cycle_id, questions, sends = plan(engine, submissions, seed=seed)
    cpu = time.process_time()
    seconds = send_all(engine, sends, writers=writers, retry_for=retry_for, during=during)
    cpu = time.process_time() - cpu
    return LoadResult(engine.dialect.name, writers, cycle_id, questions, sends, seconds, cpu)


def run_floor(
    engine: Engine,
    *,
    promises: bool,
    writers: int = WRITERS,
    submissions: int = SUBMISSIONS,
    seed: int = 0,
) -> LoadResult:
    """The same survey and sends as `run_load`, stored by a raw-driver writer (bench/floor.py)
    into the (migrated, empty) database of `engine`; with `promises`, it also pays for the
    anonymity writes (SQLite's log checkpoint, PostgreSQL's transaction-id blur)."""
    cycle_id, questions, sends = plan(engine, submissions, seed=seed)
    prepared = floor.prepare(engine, cycle_id, [send.form for send in sends])
    writer = floor.floor_for(engine, promises=promises)

    def submit(*, submission_key: str, **_: object) -> SubmitOutcome:
        return writer.submit(prepared[submission_key])

    cpu = time.process_time()
    try:
        seconds = send_all(engine, sends, writers=writers, submit=submit)
    finally:
        writer.close()
    cpu = time.process_time() - cpu
    name = f"{engine.dialect.name} floor" + (" + anonymity" if promises else "")
    return LoadResult(name, writers, cycle_id, questions, sends, seconds, cpu)


# --- The benchmark ------------------------------------------------------------------------------


def fresh_engine(backend: str) -> Engine:
    """A migrated, empty database: bench/work/load/attune.db, or the schema SCHEMA."""
    if backend == "sqlite":
        folder = WORK / "load"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        url = f"sqlite:///{folder / 'attune.db'}"
    else:
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        admin.dispose()
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{SCHEMA}"
    engine = make_engine(url)
    migrate(engine)
    return engine


def table(results: Sequence[LoadResult]) -> str:
    first = results[0]
    header = f"{first.writers} writers, {len(first.sends):,} calls to `submit_survey`"
    rows = [
        ("wall time", lambda r: f"{r.seconds:,.1f} s"),
        ("submissions per second", lambda r: f"{r.per_second:,.0f}"),
        ("time per submission, median", lambda r: f"{r.latency(0.5) * 1000:,.0f} ms"),
        ("time per submission, 99th percentile", lambda r: f"{r.latency(0.99) * 1000:,.0f} ms"),
        ("forms stored", lambda r: f"{r.stored:,}"),
        ("same form again, nothing more stored", lambda r: f"{r.already_received:,}"),
        ("link already used, refused", lambda r: f"{r.link_used:,}"),
        ("failed", lambda r: f"{r.failures + len(r.errors):,}"),
    ]
    lines = [
        f"| {header} | " + " | ".join(r.backend for r in results) + " |",
        "| --- | " + " | ".join("---:" for _ in results) + " |",
    ]
    lines += [f"| {name} | " + " | ".join(cell(r) for r in results) + " |" for name, cell in rows]
    return "\n".join(lines) + "\n"


def floor_table(
    results: Sequence[LoadResult], floors: Sequence[tuple[LoadResult, LoadResult]]
) -> str:
    """The submit path against the floor measured in the same run, per backend."""
    first = results[0]
    header = f"{first.writers} writers, {len(first.sends):,} forms: the submit path and its floor"

    def ms(result: LoadResult, quantile: float) -> str:
        return f"{result.latency(quantile) * 1000:,.0f} ms"

    columns = list(zip(results, floors, strict=True))
    rows = [
        ("`submit_survey`, per second", lambda r, f: f"{r.per_second:,.0f}"),
        ("floor: raw driver, same rows, per second", lambda r, f: f"{f[0].per_second:,.0f}"),
        (
            "**`submit_survey` ÷ floor**",
            lambda r, f: f"**{r.per_second / f[0].per_second:.0%}**",
        ),
        (
            "floor + anonymity writes (SQLite checkpoint, PostgreSQL blur), per second",
            lambda r, f: f"{f[1].per_second:,.0f}",
        ),
        ("`submit_survey` ÷ that floor", lambda r, f: f"{r.per_second / f[1].per_second:.0%}"),
        ("`submit_survey` p50 / p99", lambda r, f: f"{ms(r, 0.5)} / {ms(r, 0.99)}"),
        ("floor p50 / p99", lambda r, f: f"{ms(f[0], 0.5)} / {ms(f[0], 0.99)}"),
        ("floor + anonymity p50 / p99", lambda r, f: f"{ms(f[1], 0.5)} / {ms(f[1], 0.99)}"),
        (
            "CPU of the writing process per form: `submit_survey` / floor / floor + anonymity",
            lambda r, f: (
                f"{r.cpu_ms_per_form:.1f} / {f[0].cpu_ms_per_form:.1f}"
                f" / {f[1].cpu_ms_per_form:.1f} ms"
            ),
        ),
        (
            "forms stored: submit path / floors",
            lambda r, f: f"{r.stored:,} / {f[0].stored:,} / {f[1].stored:,}",
        ),
    ]
    lines = [
        f"| {header} | " + " | ".join(r.backend for r in results) + " |",
        "| --- | " + " | ".join("---:" for _ in results) + " |",
    ]
    lines += [
        f"| {name} | " + " | ".join(cell(r, f) for r, f in columns) + " |" for name, cell in rows
    ]
    return "\n".join(lines) + "\n"


def _print(result: LoadResult) -> None:
    print(
        f"load {result.backend:28} {result.seconds:6.1f} s  {result.per_second:6.0f}/s"
        f"  p50 {result.latency(0.5) * 1000:.0f} ms  p99 {result.latency(0.99) * 1000:.0f} ms"
        f"  CPU {result.cpu_ms_per_form:.1f} ms/form"
        f"  {dict(result.outcomes())}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--writers", type=int, default=WRITERS)
    parser.add_argument("--submissions", type=int, default=SUBMISSIONS)
    parser.add_argument("--no-floor", action="store_true", help="time the submit path only")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    parser.add_argument("--note", default="", help="a sentence to print under the figures")
    args = parser.parse_args(argv)
    results = []
    floors = []
    for backend in args.backends.split(","):
        engine = fresh_engine(backend)
        try:
            result = run_load(engine, writers=args.writers, submissions=args.submissions)
        finally:
            engine.dispose()
        results.append(result)
        _print(result)
        if args.no_floor:
            continue
        pair = []
        for promises in (False, True):
            engine = fresh_engine(backend)
            try:
                pair.append(
                    run_floor(
                        engine,
                        promises=promises,
                        writers=args.writers,
                        submissions=args.submissions,
                    )
                )
            finally:
                engine.dispose()
            _print(pair[-1])
        floors.append((pair[0], pair[1]))
    report = f"{machine()}{' ' + args.note if args.note else ''}\n\n{table(results)}"
    if floors:
        report += f"\n{floor_table(results, floors)}"
    print(report)
    if not args.no_readme and not write_section(
        README, LOAD_MARKER, "submissions under load", report
    ):
        raise SystemExit("README.md has no <!-- bench:load --> section to update")
    everything = [*results, *(run for pair in floors for run in pair)]
    if any(result.errors or result.failures for result in everything):
        raise SystemExit("Some submissions failed under load.")
    if any(
        pair[0].stored != result.stored or pair[1].stored != result.stored
        for result, pair in zip(results, floors, strict=False)
    ):
        raise SystemExit("The floor stored a different number of forms from the submit path.")


if __name__ == "__main__":
    main()
