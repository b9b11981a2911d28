"""`make bench`: time the demo load at each scale on SQLite and PostgreSQL, report in README."""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text

from surveys.demo import Scale, load_demo
from surveys.storage import make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
README = ROOT / "README.md"
POSTGRES_URL = os.environ.get(
    "ATTUNE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SCHEMA = "attune_bench"
MARKER = re.compile(r"(<!-- bench:demo -->\n).*?(<!-- /bench:demo -->)", re.DOTALL)


def fresh_database(backend: str, scale: Scale) -> str:
    if backend == "sqlite":
        folder = WORK / scale.value
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return f"sqlite:///{folder / 'attune.db'}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    return f"{POSTGRES_URL}?options=-csearch_path%3D{SCHEMA}"


def time_demo(backend: str, scale: Scale) -> tuple[float, int, int]:
    engine = make_engine(fresh_database(backend, scale))
    migrate(engine)
    summary = load_demo(engine, scale=scale)
    engine.dispose()
    return summary.seconds, summary.responses, summary.answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="hospital,system")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    args = parser.parse_args()
    rows = []
    for scale in [Scale(name) for name in args.scales.split(",")]:
        cells = []
        counts = ""
        for backend in args.backends.split(","):
            seconds, responses, answers = time_demo(backend, scale)
            counts = f"{responses:,} responses, {answers:,} answers"
            cells.append(f"{seconds:,.1f} s")
            print(f"demo {scale.value:8} {backend:10} {seconds:8.1f} s  ({counts})", flush=True)
        rows.append(
            f"| `attune demo --scale {scale.value}` ({counts}) | " + " | ".join(cells) + " |"
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = (
        f"Measured {date.today().isoformat()} on {os.cpu_count()} cores "
        f"({platform.machine()}, Python {platform.python_version()}); peak memory of the "
        f"benchmark process {peak_mib:,.0f} MiB.\n\n"
        "| Load | " + " | ".join(args.backends.split(",")) + " |\n"
        "| --- | "
        + " | ".join("---" for _ in args.backends.split(","))
        + " |\n"
        + "\n".join(rows)
        + "\n"
    )
    print(table)
    if not args.no_readme:
        readme = README.read_text()
        if not MARKER.search(readme):
            raise SystemExit("README.md has no <!-- bench:demo --> section to update")
        README.write_text(MARKER.sub(lambda m: m.group(1) + table + m.group(2), readme))
        print("README.md updated.")


if __name__ == "__main__":
    main()
