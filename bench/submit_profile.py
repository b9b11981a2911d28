"""Where one submission's time goes: cProfile over the load bench's forms, sent one at a time.

    python -m bench.submit_profile                     # both backends, 1,000 forms each
    python -m bench.submit_profile --backends postgresql --forms 3000

Each form goes through `submit_survey` alone (one writer, so that the profile sees every
call and no time is spent waiting for other writers), after 50 forms of warm-up, and the
table gives each part's share of `submit_survey`'s time. cProfile slows Python down (about
twice here), so the shares say more than the milliseconds.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from collections.abc import Sequence

from bench import load
from surveys.survey.submit import submit_survey

WARM_UP = 50
# (file, function) -> what it is, in the order printed. Nested parts are indented.
PARTS = (
    (("submit.py", "_look"), "read the link, its cycle, the staff groups"),
    (("submit.py", "_prepare"), "check the form and work out its rows"),
    (("submit.py", "_write_response"), "write the response, answers, comment and rollups"),
    (("rollups.py", "write_increments"), "  of which the rollup upserts"),
    (("steps.py", "advance"), "release in steps"),
    (("drafts.py", "delete_draft_in"), "delete the link's draft"),
    (("used.py", "mark_used"), "mark the link used (its cell's row of used links)"),
    (("submit.py", "_blur_transaction_ids"), "PostgreSQL's transaction-id blur (comments)"),
    (("default.py", "_do_ping_w_event"), "the pool's check of a connection"),
    (("default.py", "do_commit"), "COMMIT"),
    (("storage.py", "forget_log"), "SQLite's log checkpoint"),
)


def profile(backend: str, forms: int) -> str:
    engine = load.fresh_engine(backend)
    _cycle, _questions, sends = load.plan(engine, forms + WARM_UP, seed=0)
    for send in sends:
        send.together = None  # one writer: nobody to race with
    for send in sends[:WARM_UP]:
        load._send(engine, send, 0.0, submit_survey)
    timed = sends[WARM_UP:]
    profiler = cProfile.Profile()
    profiler.enable()
    for send in timed:
        load._send(engine, send, 0.0, submit_survey)
    profiler.disable()
    engine.dispose()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # pstats keeps its table untyped
    cumulative: dict[tuple[str, str], float] = {}
    for (path, _line, function), (_calls, _primitive, _own, total, _callers) in stats.items():
        for suffix, name in (part for part, _label in PARTS):
            if path.endswith(suffix) and function == name:
                cumulative[suffix, name] = cumulative.get((suffix, name), 0.0) + total
        if path.endswith("submit.py") and function == "submit_survey":
            cumulative["submit.py", "submit_survey"] = total
    whole = cumulative["submit.py", "submit_survey"]
    lines = [
        f"| {backend}: {len(timed):,} forms one at a time, under cProfile | per form | share |",
        "| --- | ---: | ---: |",
        f"| `submit_survey` | {whole / len(timed) * 1000:.2f} ms | 100% |",
    ]
    for part, label in PARTS:
        if part in cumulative:
            seconds = cumulative[part]
            lines.append(
                f"| {label} | {seconds / len(timed) * 1000:.2f} ms | {seconds / whole:.0%} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--forms", type=int, default=1000)
    args = parser.parse_args(argv)
    for backend in args.backends.split(","):
        print(profile(backend, args.forms))


if __name__ == "__main__":
    main()
