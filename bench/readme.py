"""Where benchmark figures go: README.md sections between markers, headed by the machine."""

from __future__ import annotations

import os
import platform
import re
import resource
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WORK = ROOT / "bench" / "work"
POSTGRES_URL = os.environ.get(
    "ATTUNE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


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
