"""`make bench`: time the demo load, then the dashboard's figures on the loaded databases.

For each scale (hospital, system) and backend (SQLite, PostgreSQL) it loads the demo (timed)
and then times every figure the dashboard shows (bench/reporting.py): from rollups, from raw
answers with DuckDB, and with naive pandas. The load table goes into README.md; the figures
table into notes/README-issue-5.md (and README.md too once it has the markers).

    python -m bench --scale hospital            # a smoke test in seconds
    python -m bench --scale system --reuse      # measure databases an earlier run loaded
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from bench import reporting as figures_bench
from surveys.demo import Scale, load_demo
from surveys.storage import make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
README = ROOT / "README.md"
NOTES = ROOT / "notes" / "README-issue-5.md"
POSTGRES_URL = os.environ.get(
    "ATTUNE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
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


def machine() -> str:
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"Measured {date.today().isoformat()} on {os.cpu_count()} cores "
        f"({platform.machine()}, Python {platform.python_version()}); peak memory of the "
        f"benchmark process {peak_mib:,.0f} MiB."
    )


def write_section(path: Path, marker: re.Pattern[str], name: str, table: str) -> bool:
    if not path.exists():
        return False
    content = path.read_text()
    if not marker.search(content):
        return False
    path.write_text(marker.sub(lambda m: m.group(1) + table + m.group(2), content))
    print(f"{path.relative_to(ROOT)} updated ({name}).")
    return True


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
        write_section(NOTES, REPORTING_MARKER, "dashboard figures", figure_table)
        if not args.no_readme:
            write_section(README, REPORTING_MARKER, "dashboard figures", figure_table)
    if disagreements:
        raise SystemExit("The figures from rollups and from raw answers disagree.")


if __name__ == "__main__":
    main()
