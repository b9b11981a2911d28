"""The benchmark's code path: figures from rollups equal those from raw answers (DuckDB, pandas)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.reporting import Run, compare, measure, table
from surveys.demo import load_demo
from surveys.storage import make_engine, migrate

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
