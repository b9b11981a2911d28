"""What keeping a survey draft costs per step, on SQLite and PostgreSQL.

Every Next, Back or Continue anyway on the survey saves the respondent's draft
(`surveys.survey.drafts.save_draft`: a read of the link, AES-GCM over the padded answers, an
upsert, and on SQLite the write-ahead log checkpoint every write ends with); opening a link
reads it back once (`load_draft`). This times both, one respondent at a time, with the
answers of a step-by-step survey growing as they would:

    python -m bench.drafts
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from bench.load import _answers, prepare
from bench.readme import POSTGRES_URL
from surveys.invitations.links import create_invitations
from surveys.storage import make_engine, migrate, write_session
from surveys.survey.drafts import Draft, load_draft, save_draft
from surveys.survey.form import load_survey

SCHEMA = "attune_bench_drafts"
RESPONDENTS = 40
STEPS = 8  # seven question steps and the review


def measure(engine: Engine, cycle_id: int, cells: list[tuple[int, int]]) -> dict[str, list[float]]:
    department_id, group_id = cells[0]
    with write_session(engine) as session:
        tokens = create_invitations(
            session=session,
            cycle_id=cycle_id,
            department_id=department_id,
            staff_group_id=group_id,
            count=RESPONDENTS,
        )
    form = load_survey(engine=engine, token=tokens[0])
    codes = [question.code for _, question in form.questions()]
    timings: dict[str, list[float]] = {"save": [], "load": []}
    for number, token in enumerate(tokens):
        answers = _answers(form, number)
        for step in range(1, STEPS + 1):
            shown = {code: answers[code] for code in codes[: step * len(codes) // STEPS]}
            draft = Draft(step=step, answers=shown, comment="Handover is better." * (step // 7))
            started = time.perf_counter()
            save_draft(engine=engine, token=token, draft=draft)
            timings["save"].append(time.perf_counter() - started)
        started = time.perf_counter()
        assert load_draft(engine=engine, token=token, form=form) is not None
        timings["load"].append(time.perf_counter() - started)
    return timings


def throughput(
    engine: Engine, cycle_id: int, cells: list[tuple[int, int]], threads: int = 8
) -> float:
    """Draft saves per second with `threads` respondents saving at once (on SQLite, writers
    queue, and only the last of a burst checkpoints the log)."""
    from concurrent.futures import ThreadPoolExecutor

    with write_session(engine) as session:
        tokens = create_invitations(
            session=session,
            cycle_id=cycle_id,
            department_id=cells[1][0],
            staff_group_id=cells[1][1],
            count=threads,
        )
    form = load_survey(engine=engine, token=tokens[0])

    def respondent(token: str) -> None:
        answers = _answers(form, 1)
        for step in range(1, 4 * STEPS + 1):
            save_draft(engine=engine, token=token, draft=Draft(step=step, answers=answers))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(respondent, tokens))
    return threads * 4 * STEPS / (time.perf_counter() - started)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{statistics.median(values) * 1000:.1f} ms (p95 {p95 * 1000:.1f} ms)"


def run(engine: Engine) -> tuple[dict[str, list[float]], float]:
    cycle_id, cells = prepare(engine)
    return measure(engine, cycle_id, cells), throughput(engine, cycle_id, cells)


def main(argv: Sequence[str] | None = None) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'drafts.db'}")
        migrate(engine)
        results["SQLite"] = run(engine)
        engine.dispose()
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    try:
        engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{SCHEMA}")
        migrate(engine)
        results["PostgreSQL"] = run(engine)
        engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()
    print(f"{RESPONDENTS} respondents, {STEPS} saves each, one at a time")
    print(
        "| Database | save a draft (each step), alone | read it back (opening the link) "
        "| saves per second, 8 respondents at once |"
    )
    print("| --- | ---: | ---: | ---: |")
    for name, (timings, per_second) in results.items():
        print(
            f"| {name} | {summary(timings['save'])} | {summary(timings['load'])} "
            f"| {per_second:,.0f} |"
        )


if __name__ == "__main__":
    main()
