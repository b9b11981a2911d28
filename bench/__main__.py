"""`make bench`: time the demo load, then the dashboard's figures on the loaded databases.

For each scale (hospital, system) and backend (SQLite, PostgreSQL) it loads the demo (timed)
and then times every figure the dashboard shows (bench/reporting.py): from rollups, from raw
answers with DuckDB, and with naive pandas; then 10,000 submissions from 32 writers
(bench/load.py), 20 browsers completing the survey at once (bench/browser_load.py), one
respondent's Submit against a bare Streamlit button and the server's memory per open survey
session (bench/session_cost.py), the capacity of one replica and of two behind HAProxy
(bench/replicas.py), 10,000 invitations sent through a local SMTP server (bench/mail.py), and
the themes and tone of 140,000 comments and one Comments page of 2,000 of them, uncached and
cached (bench/themes.py). Each table goes into README.md between its markers.

    python -m bench --scale hospital            # a smoke test in seconds
    python -m bench --scale system --reuse      # measure databases an earlier run loaded
"""

from __future__ import annotations

import argparse
import re
import shutil

from sqlalchemy import Engine, create_engine, text

from bench import reporting as figures_bench
from bench.readme import POSTGRES_URL, README, WORK, machine, write_section
from surveys.demo import Scale, load_demo
from surveys.storage import make_engine, migrate

SCHEMA = "attune_bench"
DEMO_MARKER = re.compile(r"(<!-- bench:demo -->\n).*?(<!-- /bench:demo -->)", re.DOTALL)
REPORTING_MARKER = re.compile(
    r"(<!-- bench:reporting -->\n).*?(<!-- /bench:reporting -->)", re.DOTALL
)
# What each scale's demo holds, to recognise a database an earlier run loaded.
DEPARTMENTS = {Scale.hospital: 14, Scale.system: 560}


def schema(scale: Scale) -> str:
    # One schema per scale, so that --reuse can keep both loaded.
    return f"{SCHEMA}_{scale.value}"


def database_url(backend: str, scale: Scale) -> str:
    if backend == "sqlite":
        return f"sqlite:///{WORK / scale.value / 'attune.db'}"
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema(scale)}"


def fresh_database(backend: str, scale: Scale) -> str:
    if backend == "sqlite":
        folder = WORK / scale.value
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return database_url(backend, scale)
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema(scale)} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema(scale)}"))
    admin.dispose()
    return database_url(backend, scale)


def loaded(backend: str, scale: Scale) -> bool:
    """Whether an earlier run left this scale's demo in place."""
    if backend == "sqlite" and not (WORK / scale.value / "attune.db").exists():
        return False
    engine = make_engine(database_url(backend, scale))
    try:
        with engine.connect() as connection:
            departments = connection.exec_driver_sql("SELECT COUNT(*) FROM department").scalar()
            responses = connection.exec_driver_sql("SELECT COUNT(*) FROM cell_rollup").scalar()
    except Exception:  # noqa: BLE001 - no schema yet, on either backend
        return False
    finally:
        engine.dispose()
    return departments == DEPARTMENTS[scale] and bool(responses)


def time_demo(backend: str, scale: Scale) -> tuple[Engine, float, int, int]:
    engine = make_engine(fresh_database(backend, scale))
    migrate(engine)
    summary = load_demo(engine, scale=scale)
    return engine, summary.seconds, summary.responses, summary.answers


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        responses = connection.exec_driver_sql("SELECT COUNT(*) FROM response").scalar_one()
        answers = connection.exec_driver_sql("SELECT COUNT(*) FROM answer").scalar_one()
    return int(responses), int(answers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", "--scales", dest="scales", default="hospital,system")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--reuse", action="store_true", help="measure databases a previous run loaded"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--no-naive", action="store_true", help="skip (c), naive pandas")
    parser.add_argument("--no-figures", action="store_true", help="time the demo load only")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    parser.add_argument("--no-load", action="store_true", help="skip the submission load")
    parser.add_argument("--no-browsers", action="store_true", help="skip the browser load")
    parser.add_argument(
        "--no-session-cost",
        action="store_true",
        help="skip one respondent's Submit and the memory per open survey session",
    )
    parser.add_argument(
        "--no-replicas", action="store_true", help="skip one replica against two behind HAProxy"
    )
    parser.add_argument("--no-mail", action="store_true", help="skip sending invitations")
    parser.add_argument("--no-themes", action="store_true", help="skip the comment analysis")
    args = parser.parse_args()
    backends = args.backends.split(",")
    load_rows, figure_tables, disagreements = [], [], []
    for scale in [Scale(name) for name in args.scales.split(",")]:
        cells, results = [], []
        for backend in backends:
            if args.reuse and loaded(backend, scale):
                engine = make_engine(database_url(backend, scale))
                responses, answers = counts(engine)
                cells.append("(reused)")
                print(f"demo {scale.value:8} {backend:10} reused", flush=True)
            else:
                engine, seconds, responses, answers = time_demo(backend, scale)
                cells.append(f"{seconds:,.1f} s")
                print(f"demo {scale.value:8} {backend:10} {seconds:8.1f} s", flush=True)
            described = f"{responses:,} responses, {answers:,} answers"
            if not args.no_figures:
                result = figures_bench.measure(
                    engine,
                    backend=backend,
                    work=WORK / scale.value,
                    repeats=args.repeats,
                    naive=not args.no_naive,
                )
                results.append(result)
                print(
                    f"figures {scale.value:8} {backend:10} (a) {result.rollups.total:.2f} s"
                    f"  (b) {result.duckdb.total:.2f} s  (c) load {result.pandas_load:.1f} s",
                    flush=True,
                )
                for problem in result.disagreements:
                    print(f"  DISAGREE {problem}", flush=True)
                    disagreements.append(f"{scale.value} {backend}: {problem}")
            engine.dispose()
        load_rows.append(
            f"| `attune demo --scale {scale.value}` ({described}) | " + " | ".join(cells) + " |"
        )
        if results:
            figure_tables.append(figures_bench.table(scale.value, results))

    load_table = (
        f"{machine()}\n\n| Load | "
        + " | ".join(backends)
        + " |\n| --- | "
        + " | ".join("---" for _ in backends)
        + " |\n"
        + "\n".join(load_rows)
        + "\n"
    )
    print(load_table)
    timed_load = not any("(reused)" in row for row in load_rows)
    if (
        not args.no_readme
        and timed_load
        and not write_section(README, DEMO_MARKER, "demo load", load_table)
    ):
        raise SystemExit("README.md has no <!-- bench:demo --> section to update")
    if figure_tables:
        figure_table = f"{machine()}\n\n" + "\n".join(figure_tables)
        print(figure_table)
        if not args.no_readme:
            write_section(README, REPORTING_MARKER, "dashboard figures", figure_table)
    if disagreements:
        raise SystemExit("The figures from rollups and from raw answers disagree.")
    readme = ["--no-readme"] if args.no_readme else []
    if not args.no_load:
        from bench import load

        load.main(["--backends", args.backends, *readme])
    if not args.no_browsers:
        from bench import browser_load

        browser_load.main(readme)
    if not args.no_session_cost:
        from bench import session_cost

        session_cost.main(readme)
    if not args.no_replicas:
        from bench import replicas

        replicas.main(readme)
    if not args.no_mail:
        from bench import mail

        mail.main(["--backends", args.backends, *readme])
    if not args.no_themes:
        from bench import themes

        themes.main(readme)


if __name__ == "__main__":
    main()
