"""The benchmark's code path: figures from rollups equal those from raw answers (DuckDB, pandas)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.reporting import Run, compare, measure, table
from bench.session_cost import run
from surveys.demo import load_demo
from surveys.storage import make_engine, migrate
from tests.support.browser import CHROMIUM

pytestmark = pytest.mark.slow


@pytest.fixture
def hospital_engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'bench.db'}")
    migrate(engine)
    load_demo(engine)
    yield engine
    engine.dispose()


def test_figures_from_rollups_agree_with_duckdb_and_pandas_on_raw_answers(
    hospital_engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    result = measure(hospital_engine, backend="sqlite", work=tmp_path, repeats=1)
    assert result.disagreements == []
    assert result.pandas is not None
    assert set(result.rollups.results) == set(result.duckdb.results) == set(result.pandas.results)
    overview = result.rollups.results["overview"]
    assert overview.responses > 1_000 and not overview.index.suppressed
    # Not vacuous: the figures are there to compare, and a changed number would be caught.
    matrix = result.duckdb.results["relationships"]
    assert not any(cell.figure.suppressed for cell in matrix.cells)
    trend = result.duckdb.results["index trend"]
    nudged = Run(
        results={**result.duckdb.results, "index trend": trend.assign(value=trend["value"] + 1e-6)}
    )
    assert [problem.split(":")[0] for problem in compare(result.rollups, nudged)] == ["index trend"]
    rendered = table("hospital", [result])
    assert "(b) ÷ (a)" in rendered and "| yes |" in rendered
    assert set(result.cached_reruns) >= {"overview", "heatmap, every department", "comments"}
    assert "| heatmap, every department |" in rendered
    assert result.board_report > 0 and "PDF board report, whole organisation" in rendered
    assert (tmp_path / "raw-sqlite" / "answer.parquet").exists()


@pytest.mark.browser
def test_session_cost_times_both_submits_and_counts_each_open_session(tmp_path: Path) -> None:
    """bench/session_cost.py at its smallest: one timed Submit of each kind, two sessions."""
    if not CHROMIUM.exists():
        pytest.skip(f"this test needs Debian's Chromium at {CHROMIUM}: run `make browser`")
    result = run(folder=tmp_path, repeats=1, sessions=(1, 2), settle_seconds=0.2, warm_up=False)
    # Each click reached its server and came back with the thank-you, stored exactly once.
    assert result.complete, result
    assert (result.responses_stored, result.floor_rows) == (2, 1)
    assert all(seconds > 0 for seconds in result.times.attune + result.times.floor)
    assert len(result.times.direct) == 1
    # Every page kept a Streamlit session of its own while the next was opened.
    for memory in (result.attune_memory, result.floor_memory):
        assert [(step.sessions, step.streamlit_sessions) for step in memory.steps] == [
            (1, 1),
            (2, 2),
        ]
        assert all(step.rss_mib > 0 for step in memory.steps)
    tables = result.tables()
    assert "| Attune ÷ floor |" in tables and "| 2 |" in tables
