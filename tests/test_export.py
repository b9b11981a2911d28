"""`attune export`: every report exactly as its page downloads it, for the scope it may see."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from dashboard.filters import Selection
from surveys import reporting
from surveys.access.accounts import account_named, department_scope
from surveys.cli import app
from surveys.config import get_settings
from tests.support.demo import copy_demo, demo_engine

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_path(demo_hospital_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_hospital_file, tmp_path_factory.mktemp("export"))


@pytest.fixture
def demo(demo_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from demo_engine(demo_path, monkeypatch)


@pytest.fixture
def ordered_comments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Comments come back sorted instead of shuffled, so two calls can be compared."""
    monkeypatch.setattr(random.SystemRandom, "shuffle", lambda self, x: x.sort())


def invoke(*args: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return runner.invoke(app, ["export", *args])


def page_selection(engine: Engine, *, scope: frozenset[int] | None, **chosen: object) -> Selection:
    """The filter bar's Selection on its defaults (the cycle the pages open on, every cycle in
    the trend's range), with `chosen` filters."""
    options = reporting.filter_options(engine, departments=scope)
    default = options.default_cycle
    assert default is not None
    values: dict[str, object] = {
        "scope": scope,
        "cycle_id": default.id,
        "cycle_name": default.name,
        "cycle_range": (options.cycles[-1].id, default.id),
        "divisions": None,
        "selected_departments": None,
        "staff_groups": None,
        "options": options,
        "phone": False,
    }
    return Selection(**(values | chosen))  # type: ignore[arg-type]


def page_download(engine: Engine, report: str, selection: Selection) -> str:
    """What each page's download button gives (dashboard/app_pages/*.py, filters.download)."""
    if report == "overview":
        result: object = reporting.overview(engine, **selection.arguments())
    elif report == "heatmap":
        result = reporting.heatmap(engine, **selection.arguments(), by="department")
    elif report == "trends":
        result = reporting.trends(
            engine,
            **selection.arguments(cycle=False),
            measure="index",
            cycle_range=selection.cycle_range,
        )
    elif report == "relationships":
        result = reporting.relationships(engine, **selection.arguments(groups=False))
    elif report == "items":
        result = reporting.item_distributions(
            engine, **selection.arguments(), dimension="communication"
        )
    elif report == "comments":
        result = reporting.comments(engine, **selection.arguments())
    elif report == "drivers":
        result = reporting.key_drivers(engine, **selection.arguments(), outcome="enps")
    elif report == "focus":
        result = reporting.focus_areas(engine, **selection.arguments())
    else:
        result = reporting.response_rates(engine, cycle_id=selection.cycle_id)
    return reporting.to_csv(result)


EXTRA = {"items": ["--dimension", "communication"]}


@pytest.mark.parametrize(
    "report",
    ["overview", "heatmap", "trends", "relationships", "items", "comments", "rates", "drivers",
     "focus"],
)  # fmt: skip
def test_each_report_equals_the_page_download_byte_for_byte(
    demo: Engine, ordered_comments: None, report: str
) -> None:
    result = invoke("--report", report, "--out", "-", *EXTRA.get(report, []))
    assert result.exit_code == 0, result.output
    expected = page_download(demo, report, page_selection(demo, scope=None))
    assert result.stdout_bytes == expected.encode("utf-8")
    assert len(expected.splitlines()) > 1


@pytest.mark.parametrize("report", ["overview", "heatmap", "items", "comments", "drivers", "focus"])
def test_a_managers_export_with_filters_equals_their_page_download(
    demo: Engine, ordered_comments: None, tmp_path: Path, report: str
) -> None:
    scope = department_scope(account_named(engine=demo, username="ed.manager"))
    groups = frozenset(g.id for g in reporting.filter_options(demo, departments=None).staff_groups
                       if g.key == "nursing")  # fmt: skip
    out = tmp_path / f"{report}.csv"
    result = invoke(
        "--report", report, "--as", "ed.manager", "--cycle", "2026 q3", "--group", "Nursing",
        "--out", str(out), *EXTRA.get(report, []),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    options = reporting.filter_options(demo, departments=scope)
    cycle = next(c for c in options.cycles if c.name == "2026 Q3")
    selection = page_selection(
        demo, scope=scope, cycle_id=cycle.id, cycle_name=cycle.name, staff_groups=groups
    )
    assert out.read_bytes() == page_download(demo, report, selection).encode("utf-8")


def test_json_holds_the_same_table_as_csv(demo: Engine) -> None:
    as_csv = invoke("--report", "heatmap", "--department", "Emergency", "--out", "-")
    as_json = invoke(
        "--report", "heatmap", "--department", "Emergency", "--format", "json", "--out", "-"
    )
    assert as_csv.exit_code == 0 and as_json.exit_code == 0, as_json.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    records = json.loads(as_json.stdout)
    assert [r["department"] for r in records] == [r["department"] for r in rows]
    # One department: no "All selected departments" row that would only repeat it, and the
    # whole organisation beside it as the benchmark.
    assert {r["department"] for r in records} == {"Emergency", reporting.WHOLE_ORGANISATION}
    for record, row in zip(records, rows, strict=True):
        assert set(record) == set(row)
        if record["value"] is None:
            assert record["suppressed"] is True and record["n"] is None
        else:
            assert record["value"] == pytest.approx(float(row["value"]))


def test_the_export_is_formula_safe(demo: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from surveys.organisation.structure import rename_department

    options = reporting.filter_options(demo, departments=None)
    emergency = next(d for d in options.departments if d.name == "Emergency")
    # A copy would be cleaner, but renaming back keeps the module's one demo file.
    rename_department(engine=demo, department_id=emergency.id, name="=1+2", actor="t")
    try:
        result = invoke("--report", "heatmap", "--out", "-")
    finally:
        rename_department(engine=demo, department_id=emergency.id, name="Emergency", actor="t")
    assert result.exit_code == 0, result.output
    departments = {row["department"] for row in csv.DictReader(io.StringIO(result.stdout))}
    assert "'=1+2" in departments and "=1+2" not in departments


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--cycle", "2031 Q9"], "there is no cycle called '2031 Q9'"),
        (["--cycle", "2026 Q5"], "did you mean '2026 Q4'?"),
        (["--department", "Emergancy"], "there is no department called 'Emergancy'; did you mean"),
        (["--division", "Nowhere"], "there is no division called 'Nowhere'"),
        (["--group", "surgeons"], "there is no staff group called 'surgeons'"),
        (["--as", "nobody"], "there is no account called 'nobody'"),
        (["--as", "ed.manager", "--department", "Oncology"], "outside the departments you may"),
        (["--report", "relationships", "--group", "nursing"], "takes no staff groups"),
        (["--report", "rates", "--as", "ed.manager"], "response rates are for administrators"),
        (["--report", "trends", "--measure", "bliss"], "bliss"),
        (["--report", "items", "--dimension", "bliss"], "bliss"),
    ],
)
def test_bad_arguments_get_a_clear_error_and_nothing_is_written(
    demo: Engine, tmp_path: Path, arguments: list[str], message: str
) -> None:
    out = tmp_path / "out.csv"
    if "--report" not in arguments:
        arguments = ["--report", "overview", *arguments]
    result = invoke(*arguments, "--out", str(out))
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_replaced_only_with_force(demo: Engine, tmp_path: Path) -> None:
    out = tmp_path / "overview.csv"
    out.write_text("keep me")
    refused = invoke("--report", "overview", "--out", str(out))
    assert refused.exit_code == 1
    assert "already exists" in refused.output and "--force" in refused.output
    assert out.read_text() == "keep me"
    replaced = invoke("--report", "overview", "--out", str(out), "--force")
    assert replaced.exit_code == 0, replaced.output
    assert out.read_text(encoding="utf-8").startswith("cycle,measure,label")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overview.csv"]  # no temporary left
