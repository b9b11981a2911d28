"""What PostgreSQL's transaction-id blur costs as a cell fills up.

A submission on PostgreSQL through a personal link rewrites its cell's one row of used links
(`surveys.invitations.used`), which grows with the cell, and one with a comment every comment
of its cell too (`surveys.survey.submit._blur_transaction_ids`). This times one submission,
alone on the server, into a cell holding 0 to 2,000 used links (and a comment for one in six):
without a comment, and with one, with and without the comments' blur:

    python -m bench.blur
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

from sqlalchemy import create_engine, text

from bench.load import _answers, prepare
from bench.readme import POSTGRES_URL
from surveys.invitations.links import create_invitations
from surveys.storage import make_engine, migrate, write_session
from surveys.survey import submit
from surveys.survey.form import load_survey

SCHEMA = "attune_bench_blur"
SIZES = (0, 100, 500, 2000)
REPEATS = 15


def main(argv: Sequence[str] | None = None) -> None:
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{SCHEMA}")
    migrate(engine)
    cycle_id, cells = prepare(engine)
    real_blur = submit._blur_transaction_ids
    print(
        "| Used links in the cell | no comment | with a comment: with the blur | without | blur |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size, (department_id, group_id) in zip(SIZES, cells, strict=False):
        with write_session(engine) as session:
            tokens = create_invitations(
                session=session,
                cycle_id=cycle_id,
                department_id=department_id,
                staff_group_id=group_id,
                count=size + 4 * REPEATS,
            )
        answers = _answers(load_survey(engine=engine, token=tokens[0]), 1)
        # Fill the cell: `size` used links, a comment for one in six.
        for number, token in enumerate(tokens[:size]):
            submit.submit_survey(
                engine=engine,
                token=token,
                submission_key=f"fill-{size}-{number}",
                answers=answers,
                comment="A comment." if number % 6 == 0 else None,
            )
        timings: dict[tuple[bool, bool], list[float]] = {}
        spare = iter(tokens[size:])
        for repeat in range(REPEATS):
            for comment in (False, True):
                for blur in (True, False) if comment else (True,):
                    submit._blur_transaction_ids = real_blur if blur else (lambda *args: None)  # type: ignore[assignment]
                    started = time.perf_counter()
                    submit.submit_survey(
                        engine=engine,
                        token=next(spare),
                        submission_key=f"time-{size}-{repeat}-{blur}-{comment}",
                        answers=answers,
                        comment="Timed." if comment else None,
                    )
                    timings.setdefault((comment, blur), []).append(time.perf_counter() - started)
        submit._blur_transaction_ids = real_blur
        cells = [f"{size:,}", f"{statistics.median(timings[False, True]) * 1000:.1f} ms"]
        with_blur = statistics.median(timings[True, True]) * 1000
        without = statistics.median(timings[True, False]) * 1000
        cells += [f"{with_blur:.1f} ms", f"{without:.1f} ms", f"{with_blur - without:.1f} ms"]
        print("| " + " | ".join(cells) + " |")
    engine.dispose()


if __name__ == "__main__":
    main()
