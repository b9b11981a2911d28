"""`attune invite`: one-time survey links for a department and staff group, or an open link."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from surveys.cli import actor, app, fail, open_engine

CSV_HEADER = ("cycle", "department", "staff_group", "link")
STDOUT = Path("-")


def write_new_file(path: Path, text: str | bytes, *, force: bool) -> None:
    """Write `text` to `path` all at once: a reader sees the old file or the whole new one.

    The file holds live links, so it is created readable by its owner only. Without `force`
    an existing file is never replaced, even one created while we were writing.
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(temporary, path)
            return
        try:
            # A hard link fails if the name exists, so there is no moment to clobber a file in.
            os.link(temporary, path)
        except FileExistsError:
            raise
        except OSError:
            # Some file systems have no hard links; fall back to check-then-rename.
            if path.exists():
                raise FileExistsError(path) from None
            os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


@app.command("invite")
def invite(
    cycle: Annotated[str, typer.Option(help="Survey cycle, by name (e.g. '2026 Q4').")],
    department: Annotated[
        str | None, typer.Option(help="Department, by name. Not with --open.")
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(help="Staff group, by key (e.g. nursing) or name. Not with --open."),
    ] = None,
    count: Annotated[
        int | None, typer.Option(help="How many one-time links to make. Not with --open.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="CSV file to write the links to ('-' for standard output). "
            "Required except with --open."
        ),
    ] = None,
    open_link: Annotated[
        bool,
        typer.Option(
            "--open",
            help="Make one reusable link; respondents choose their department and group. "
            "Nothing stops someone answering twice.",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
) -> None:
    """Make survey links: N one-time links for one department and staff group, or one open link.

    The database keeps only a hash of each token: the output is the only copy of the links.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from surveys.csvsafe import rows_to_csv
    from surveys.invitations.links import (
        MAX_INVITATIONS_PER_CALL,
        CycleClosed,
        MadeLinks,
        UnknownName,
        invite,
    )
    from surveys.invitations.links import open_link as make_open_link
    from surveys.storage import schema_is_current

    if open_link:
        given = [name for name, value in (("--department", department), ("--group", group),
                                           ("--count", count)) if value is not None]  # fmt: skip
        if given:
            raise fail(f"--open makes one link for every department and group; drop {given[0]}")
    else:
        for name, value in (("--department", department), ("--group", group), ("--count", count)):
            if value is None:
                raise fail(f"{name} is required (or use --open for an open link)")
        if out is None:
            raise fail("--out is required: the links exist nowhere else")
        assert count is not None
        if not 1 <= count <= MAX_INVITATIONS_PER_CALL:
            raise fail(f"--count must be between 1 and {MAX_INVITATIONS_PER_CALL:,}")
    to_file = out is not None and out != STDOUT
    if to_file:
        assert out is not None
        if out.exists() and not force:
            raise fail(f"{out} already exists; choose another file or pass --force to replace it")
        if not out.parent.is_dir():
            raise fail(f"folder {out.parent} does not exist")

    engine = open_engine()
    if not schema_is_current(engine):
        raise fail("the schema is not up to date; run `attune db upgrade` first")
    written = False
    text = ""

    def deliver(made: MadeLinks) -> None:
        nonlocal text, written
        rows = [(made.cycle, made.department or "", made.staff_group or "", u) for u in made.urls]
        text = rows_to_csv(CSV_HEADER, rows)
        if to_file:
            assert out is not None
            # Called inside the transaction: if the file cannot be written, no links are kept.
            write_new_file(out, text, force=force)
            written = True

    try:
        if open_link:
            made = make_open_link(engine=engine, cycle=cycle, actor=actor(), deliver=deliver)
            where = "an open link (respondents choose their department and group)"
        else:
            assert department is not None and group is not None and count is not None
            made = invite(
                engine=engine,
                cycle=cycle,
                department=department,
                staff_group=group,
                count=count,
                actor=actor(),
                deliver=deliver,
            )
            where = (
                f"{count:,} one-time link{'s' if count != 1 else ''} for "
                f"{made.department}, {made.staff_group}"
            )
    except (UnknownName, CycleClosed) as error:
        raise fail(str(error)) from None
    except FileExistsError:
        raise fail(f"{out} already exists; choose another file or pass --force") from None
    except OSError as error:
        raise fail(f"cannot write {out}: {error.strerror or error}") from None
    except SQLAlchemyError as error:
        if written and out is not None:
            out.unlink(missing_ok=True)  # its links were never stored, so none would work
        raise fail(f"the links could not be stored: {type(error).__name__}") from None

    if out == STDOUT:
        typer.echo(text, nl=False)
        return
    summary = f"Created {where} in {made.cycle}"
    if to_file:
        typer.echo(f"{summary}; wrote {out}.")
        typer.echo(
            "Only hashes are stored: this file is the only copy of the links. "
            "Keep it private and delete it once the links are handed out."
        )
    else:
        typer.echo(f"{summary}:")
    if open_link:
        typer.echo(made.urls[0])
