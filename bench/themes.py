"""Time the comment analysis at system scale, and one Comments page of a 2,000-comment selection.

- Themes and tone of 140,000 comments, in memory, in batches as `attune comments analyse`
  reads them, after building the analyser (loading wordllama and learning the models).
- The Comments page's figures for a selection of 2,000 analysed comments (the demo hospital,
  its newest closed cycle topped up with comments to 2,000), through the cached functions the
  page calls (dashboard/resources.py: the comments with their themes and tones, and the themes
  across cycles), then filtered by a theme and a search as the page does: first uncached, then
  cached (median of five).

Part of `make bench` (bench/__main__.py); alone:

    python -m bench.themes [--no-readme]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import streamlit as st
from sqlalchemy import func, insert, select
from sqlmodel import col

from bench.readme import README, machine, write_section
from dashboard import resources
from dashboard.filters import Selection
from surveys.analysis import analyse_comments
from surveys.config import get_settings
from surveys.demo import load_demo
from surveys.models import Comment, SurveyCycle
from surveys.records import CycleState
from surveys.reporting.themes import TRAINING, Analyser, read_examples
from surveys.storage import make_engine, migrate, new_random_id, write_session

SYSTEM_COMMENTS = 140_000
BATCH = 2_000  # as `attune comments analyse` reads them
PAGE_COMMENTS = 2_000
MARKER = re.compile(r"(<!-- bench:themes -->\n).*?(<!-- /bench:themes -->)", re.DOTALL)


def comments_page(analyser: Analyser, pool: list[str], folder: Path) -> tuple[int, float, float]:
    """How many comments the selection shows, and the seconds of its Comments page's figures
    uncached and then cached (median of five)."""
    url = f"sqlite:///{folder / 'comments_page.db'}"
    engine = make_engine(url)
    migrate(engine)
    load_demo(engine)
    chooser = random.Random(PAGE_COMMENTS)
    with write_session(engine) as session:
        cycle = session.execute(
            select(SurveyCycle.id, SurveyCycle.name)
            .where(SurveyCycle.state == CycleState.closed.value)
            .order_by(col(SurveyCycle.closes).desc())
        ).first()
        assert cycle is not None
        cells = session.execute(
            select(Comment.department_id, Comment.staff_group_id).where(
                Comment.cycle_id == cycle.id
            )
        ).all()
        have = session.execute(
            select(func.count()).select_from(Comment).where(Comment.cycle_id == cycle.id)
        ).scalar_one()
        # More comments in the cells that already have some, so the release rules are the demo's.
        session.execute(
            insert(Comment),
            [
                {
                    "id": new_random_id(),
                    "cycle_id": cycle.id,
                    "department_id": cell.department_id,
                    "staff_group_id": cell.staff_group_id,
                    "text": f"{chooser.choice(pool)} {chooser.choice(pool)}",
                    "released": True,
                }
                for cell in chooser.choices(cells, k=max(0, PAGE_COMMENTS - have))
            ],
        )
    analyse_comments(engine, analyser=analyser)
    engine.dispose()
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    _forget_caches()
    try:
        selection = Selection(
            scope=None,
            cycle_id=cycle.id,
            cycle_name=cycle.name,
            cycle_range=(cycle.id, cycle.id),
            divisions=None,
            selected_departments=None,
            staff_groups=None,
            options=resources.filter_options(None),
            phone=False,
        )

        def page() -> int:
            # What the page asks for, then its theme filter and search (not cached: cheap).
            result = resources.comments(selection)
            resources.theme_trends(selection)
            theme = result.themes_counted[0].theme if result.themes_counted else None
            result.about(theme).matching("staff").table()
            return len(result.texts)

        started = time.perf_counter()
        shown = page()
        uncached = time.perf_counter() - started
        cached = []
        for _ in range(5):
            started = time.perf_counter()
            page()
            cached.append(time.perf_counter() - started)
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        _forget_caches()
    return shown, uncached, statistics.median(cached)


def _forget_caches() -> None:
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    pool = [example.comment for example in read_examples(TRAINING)]
    chooser = random.Random(16)
    # Two labelled comments joined, so that texts vary as a system's would.
    texts = [f"{chooser.choice(pool)} {chooser.choice(pool)}" for _ in range(SYSTEM_COMMENTS)]
    started = time.perf_counter()
    analyser = Analyser()
    built = time.perf_counter() - started
    started = time.perf_counter()
    for first in range(0, len(texts), BATCH):
        analyser.analyse(texts[first : first + BATCH])
    took = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        shown, uncached, cached = comments_page(analyser, pool, Path(folder))
    table = (
        f"{machine()}\n\n| Comment analysis ({analyser.embedder.name}) | Time |\n| --- | --- |\n"
        f"| Build the analyser (load the model, learn themes and tone) | {built:.1f} s |\n"
        f"| Themes and tone of {SYSTEM_COMMENTS:,} comments, {BATCH:,} a batch | {took:.1f} s "
        f"({SYSTEM_COMMENTS / took:,.0f} a second) |\n"
        f"| Comments page of a {shown:,}-comment selection, first (uncached) | "
        f"{uncached * 1000:,.0f} ms |\n"
        f"| Comments page of a {shown:,}-comment selection, cached (median of 5) | "
        f"{cached * 1000:,.1f} ms |\n"
    )
    print(table)
    if not args.no_readme:
        write_section(README, MARKER, "comment analysis", table)


if __name__ == "__main__":
    main()
