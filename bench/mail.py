"""`python -m bench.mail`: send 10,000 invitations through `attune run-due` to a local SMTP
server (aiosmtpd, in its own process, discarding what it receives), and report messages per
second and the peak memory of the sending process, on SQLite and PostgreSQL.

    python -m bench.mail --count 1000 --no-readme     # a smoke test
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import create_engine, text

from bench.readme import POSTGRES_URL, README, WORK, machine, write_section
from surveys.config import get_settings
from surveys.invitations.delivery import import_email_roster
from surveys.jobs import run_due
from surveys.organisation.cycles import add_cycle
from surveys.organisation.schedule import put_schedule
from surveys.organisation.structure import add_department, add_division
from surveys.storage import make_engine, migrate, write_session

MARKER = re.compile(r"(<!-- bench:mail -->\n).*?(<!-- /bench:mail -->)", re.DOTALL)
SCHEMA = "attune_bench_mail"
OPENS = date(2027, 1, 11)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database(backend: str) -> str:
    if backend == "sqlite":
        folder = WORK / "mail"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return f"sqlite:///{folder / 'attune.db'}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    return f"{POSTGRES_URL}?options=-csearch_path%3D{SCHEMA}"


def measure(backend: str, count: int, smtp_url: str) -> dict[str, float]:
    engine = make_engine(_database(backend))
    migrate(engine)
    with write_session(engine) as session:
        division = add_division(session=session, name="Acute care")
        add_department(session=session, name="Emergency", division_id=division)
        cycle_id = add_cycle(session=session, name="Bench", opens=OPENS, closes=date(2027, 2, 1))
        put_schedule(session=session, cycle_id=cycle_id, actor="bench", reminder_days=(3,))
    roster = "department,staff_group,email\n" + "".join(
        f"Emergency,nursing,person{number}@hospital.example\n" for number in range(count)
    )
    started = time.perf_counter()
    import_email_roster(engine=engine, data=roster.encode(), cycle_id=cycle_id, actor="bench")
    imported = time.perf_counter() - started
    run_due(engine, datetime(2027, 1, 11, 1, tzinfo=UTC))  # opens the cycle
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    report = run_due(engine, datetime(2027, 1, 11, 9, tzinfo=UTC))
    seconds = time.perf_counter() - started
    if report.invitations_sent != count or report.failed:
        raise SystemExit(f"{backend}: sent {report.invitations_sent} of {count}: {report.lines()}")
    engine.dispose()
    return {
        "import": imported,
        "seconds": seconds,
        "per_second": count / seconds,
        "rss_before": rss_before,
        "rss_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed module
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
         "aiosmtpd.handlers.Sink"],
    )  # fmt: skip
    try:
        time.sleep(1.5)  # the server's start-up; nothing below depends on the clock
        os.environ.update(
            {
                "ATTUNE_SMTP_URL": f"smtp://127.0.0.1:{port}",
                "ATTUNE_MAIL_FROM": "Staff Survey <survey@hospital.example>",
                "ATTUNE_LINK_SECRET": "bench-link-secret-bench-link-secret-0123",
            }
        )
        get_settings.cache_clear()
        results = {}
        for backend in args.backends.split(","):
            results[backend] = measure(backend, args.count, f"smtp://127.0.0.1:{port}")
            print(
                f"mail {backend:10} {args.count:,} in {results[backend]['seconds']:.1f} s "
                f"({results[backend]['per_second']:.0f}/s)",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    backends = list(results)
    rows = [
        ("wall time of `run_due`", lambda r: f"{r['seconds']:,.1f} s"),
        ("messages per second", lambda r: f"{r['per_second']:,.0f}"),
        ("roster import (addresses stored)", lambda r: f"{r['import']:,.1f} s"),
    ]
    table = (
        f"{machine()}\n\n| {args.count:,} invitations, one runner, local aiosmtpd | "
        + " | ".join(backends)
        + " |\n| --- | "
        + " | ".join("---:" for _ in backends)
        + " |\n"
        + "".join(
            f"| {name} | " + " | ".join(cell(results[b]) for b in backends) + " |\n"
            for name, cell in rows
        )
    )
    print(table)
    if not args.no_readme:
        write_section(README, MARKER, "mail", table)


if __name__ == "__main__":
    main()
