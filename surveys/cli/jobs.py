"""`attune run-due`: open, invite, remind and close whatever is due; once, or every minute."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from types import FrameType
from typing import Annotated

import typer

from surveys.cli import actor, app, fail, open_engine

LOOP_SECONDS = 60


@app.command("run-due")
def run_due(
    loop: Annotated[
        bool, typer.Option("--loop", help="Repeat every minute until stopped (SIGTERM, Ctrl-C).")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option("--now", hidden=True, help="Act as if it were this ISO time (tests)."),
    ] = None,
) -> None:
    """Do everything that is due: open cycles, send invitations and reminders, close cycles.

    Safe to run as many copies at once as you like: each piece of work is claimed first.
    """
    from surveys.jobs import run_due as run_once
    from surveys.storage import schema_is_current

    moment = None
    if now is not None:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            raise fail(f"--now must be an ISO time, not {now!r}") from None
        if moment.tzinfo is None:
            raise fail("--now needs a time zone, e.g. 2026-10-01T09:00:00+00:00")
    engine = open_engine()
    if not schema_is_current(engine):
        raise fail("the schema is not up to date; run `attune db upgrade` first")
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    if loop:
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        typer.echo("Running what is due every minute; stop with SIGTERM or Ctrl-C.")
    while True:
        try:
            report = run_once(engine, moment, actor=actor())
        except Exception as error:  # noqa: BLE001 - a loop reports and carries on
            if not loop:
                raise
            typer.secho(f"run-due failed: {type(error).__name__}: {error}", fg="red", err=True)
        else:
            for line in report.lines():
                if loop and line == "Nothing was due.":
                    continue
                typer.echo(line)
        if not loop or stop.wait(LOOP_SECONDS):
            break
    if loop:
        typer.echo("Stopped.")
