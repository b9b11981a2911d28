"""`attune export` and `attune report pdf`: every report, and the board report, for one scope.

Both read results only through `surveys.reporting`, with the scope of the account `--as` names
(an administrator's when it is not given), so a manager's export holds only their departments.
Nothing is written when an argument is wrong, and an existing file is replaced only with
`--force`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from surveys.cli import app, fail, open_engine
from surveys.cli.invite import STDOUT, write_new_file

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from surveys.reporting.named import NamedSelection

report_app = typer.Typer(help="Printed reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")


class Report(StrEnum):
    overview = "overview"
    heatmap = "heatmap"
    trends = "trends"
    relationships = "relationships"
    items = "items"
    comments = "comments"
    rates = "rates"
    drivers = "drivers"
    focus = "focus"


class Format(StrEnum):
    csv = "csv"
    json = "json"


class Rows(StrEnum):
    department = "department"
    division = "division"


CycleOption = Annotated[
    str | None,
    typer.Option(
        help="Survey cycle, by name (e.g. '2026 Q4'). Default: the one the pages open on."
    ),
]
DepartmentOption = Annotated[
    list[str] | None,
    typer.Option("--department", help="Department, by name; repeat for several."),
]
DivisionOption = Annotated[
    list[str] | None, typer.Option("--division", help="Division, by name; repeat for several.")
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Account whose scope applies (a manager sees only their departments). "
        "Default: the whole organisation, as an administrator sees it.",
    ),
]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")]


def check_out(out: Path, *, force: bool) -> None:
    """Refuse before anything is computed: an existing file without --force, a missing folder."""
    if out == STDOUT:
        return
    if out.exists() and not force:
        raise fail(f"{out} already exists; choose another file or pass --force to replace it")
    if not out.parent.is_dir():
        raise fail(f"folder {out.parent} does not exist")


def write_out(out: Path, data: str | bytes, *, force: bool) -> None:
    if out == STDOUT:
        # Bytes as they are: a CSV's CRLF line ends and a PDF must reach a pipe unchanged.
        stream = typer.get_binary_stream("stdout")
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        stream.flush()
        return
    try:
        write_new_file(out, data, force=force)
    except FileExistsError:
        raise fail(f"{out} already exists; choose another file or pass --force") from None
    except OSError as error:
        raise fail(f"cannot write {out}: {error.strerror or error}") from None


def viewer_scope(engine: Engine, username: str | None) -> frozenset[int] | None:
    """The departments `--as` may see: None (everything) without it or for an administrator."""
    from surveys.access.accounts import account_named, department_scope
    from surveys.access.passwords import AccountError

    if username is None:
        return None
    try:
        return department_scope(account_named(engine=engine, username=username))
    except AccountError as error:
        raise fail(str(error)) from None


def named_selection(
    engine: Engine,
    *,
    scope: frozenset[int] | None,
    cycle: str | None,
    departments: list[str] | None,
    divisions: list[str] | None,
    groups: list[str] | None = None,
    who: str | None = None,
) -> NamedSelection:
    from surveys.reporting.named import OutsideScope, UnknownName, select_by_name

    try:
        return select_by_name(
            engine,
            scope=scope,
            cycle=cycle,
            departments=departments or (),
            divisions=divisions or (),
            staff_groups=groups or (),
        )
    except UnknownName as error:
        raise fail(str(error)) from None
    except OutsideScope as error:
        raise fail(f"{who or 'you'}: {error}") from None


def ready_engine() -> Engine:
    from surveys.storage import schema_is_current

    engine = open_engine()
    if not schema_is_current(engine):
        raise fail("the schema is not up to date; run `attune db upgrade` first")
    return engine


@app.command("export")
def export_command(
    report: Annotated[Report, typer.Option(help="Which report.", case_sensitive=False)],
    out: Annotated[Path, typer.Option(help="File to write, or '-' for standard output.")],
    cycle: CycleOption = None,
    department: DepartmentOption = None,
    division: DivisionOption = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="Staff group, by key or name; repeat for several."),
    ] = None,
    as_user: AsOption = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="csv (formula-safe) or json.")
    ] = Format.csv,
    rows: Annotated[
        Rows, typer.Option(help="heatmap: a row per department or per division.")
    ] = Rows.department,
    measure: Annotated[
        str, typer.Option(help="trends: 'index' or a dimension key (e.g. respect).")
    ] = "index",
    from_cycle: Annotated[
        str | None, typer.Option(help="trends: first cycle of the range. Default: the oldest.")
    ] = None,
    dimension: Annotated[
        str | None, typer.Option(help="items: one dimension key. Default: every dimension.")
    ] = None,
    outcome: Annotated[
        str,
        typer.Option(help="drivers: 'enps' (would recommend working here) or 'overall'."),
    ] = "enps",
    force: ForceOption = False,
) -> None:
    """Write one report's figures, exactly as the page's download gives them."""
    from surveys.reporting import UnknownCycle, UnknownDimension
    from surveys.reporting.export import export_result, to_csv, to_json

    check_out(out, force=force)
    engine = ready_engine()
    scope = viewer_scope(engine, as_user)
    if report == Report.rates and scope is not None:
        raise fail(f"{as_user}: response rates are for administrators, as in the app")
    selection = named_selection(
        engine,
        scope=scope,
        cycle=cycle,
        departments=department,
        divisions=division,
        groups=group,
        who=as_user,
    )
    first_cycle_id = None
    if report == Report.trends:
        if from_cycle is None:
            first_cycle_id = selection.options.cycles[-1].id  # newest first: the oldest
        else:
            first_cycle_id = named_selection(
                engine, scope=scope, cycle=from_cycle, departments=[], divisions=[]
            ).cycle.id
    try:
        result = export_result(
            engine,
            report=report.value,
            cycle_id=selection.cycle.id,
            departments=selection.scope,
            selected_departments=selection.selected_departments,
            divisions=selection.divisions,
            staff_groups=selection.staff_groups,
            rows=rows.value,
            measure=measure,
            first_cycle_id=first_cycle_id,
            dimension=dimension,
            outcome=outcome,
        )
    except (UnknownCycle, UnknownDimension) as error:
        raise fail(str(error)) from None
    except ValueError as error:
        raise fail(str(error)) from None
    text = to_csv(result) if output_format == Format.csv else to_json(result)
    write_out(out, text, force=force)
    if out != STDOUT:
        typer.echo(f"Wrote the {report.value} report for {selection.cycle.name} to {out}.")


@report_app.command("pdf")
def report_pdf_command(
    out: Annotated[Path, typer.Option(help="PDF file to write, or '-' for standard output.")],
    cycle: CycleOption = None,
    department: DepartmentOption = None,
    division: DivisionOption = None,
    as_user: AsOption = None,
    with_comments: Annotated[
        bool,
        typer.Option(
            "--with-comments", help="Print the comments' text too (never printed otherwise)."
        ),
    ] = False,
    force: ForceOption = False,
) -> None:
    """Make the board report of one cycle as a PDF: the organisation, a division or departments."""
    from surveys.printing.board import render_board_report
    from surveys.reporting.board import board_report

    if department and division:
        raise fail("choose --department or --division, not both")
    check_out(out, force=force)
    engine = ready_engine()
    scope = viewer_scope(engine, as_user)
    selection = named_selection(
        engine,
        scope=scope,
        cycle=cycle,
        departments=department,
        divisions=division,
        who=as_user,
    )
    report = board_report(engine, selection=selection, with_comments=with_comments)
    data = render_board_report(report)
    write_out(out, data, force=force)
    if out != STDOUT:
        typer.echo(
            f"Wrote the board report for {report.scope}, {report.cycle}, to {out} "
            f"({len(data):,} bytes)."
        )
