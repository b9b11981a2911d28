"""`attune run-due`: open, invite, remind and close whatever is due; once, or every minute."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from types import FrameType
from typing import Annotated

import typer
from sqlalchemy import Engine

from surveys.cli import actor, app, fail, open_engine

LOOP_SECONDS = 60


@app.command("run-due")
def run_due(
    loop: Annotated[
        bool, typer.Option("--loop", help="Repeat every minute until stopped (SIGTERM, Ctrl-C).")
    ] = False,
    status: Annotated[
        bool,
        typer.Option(
            "--status",
            help="Do nothing; say when each runner last finished a run, and exit 1 if none "
            "did within ATTUNE_WORKER_STALE_SECONDS (a health check).",
        ),
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
    if status:
        report_status(engine, moment)
        return
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
            _beat(engine, succeeded=False)
            if not loop:
                raise
            typer.secho(f"run-due failed: {type(error).__name__}: {error}", fg="red", err=True)
        else:
            _beat(engine, succeeded=True)
            for line in report.lines():
                if loop and line == "Nothing was due.":
                    continue
                typer.echo(line)
        if not loop or stop.wait(LOOP_SECONDS):
            break
    if loop:
        typer.echo("Stopped.")


def _beat(engine: Engine, *, succeeded: bool) -> None:
    """Record the heartbeat; a database that cannot take it must not stop the loop."""
    from surveys.jobs import record_heartbeat

    try:
        record_heartbeat(engine, succeeded=succeeded)
    except Exception as error:  # noqa: BLE001 - reported, the loop carries on
        typer.secho(f"heartbeat not recorded: {type(error).__name__}: {error}", fg="red", err=True)


def report_status(engine: Engine, now: datetime | None) -> None:
    """Each runner's last run, newest first; exit 1 when the newest is too old or failed."""
    from surveys.clock import utc_now
    from surveys.config import get_settings
    from surveys.jobs import heartbeats

    limit = get_settings().worker_stale_seconds
    moment = now or utc_now()
    beats = heartbeats(engine)
    if not beats:
        raise fail("no job runner has finished a run yet; start `attune run-due --loop`")
    for beat in beats:
        age = max(0, int((moment - beat.last_run_at).total_seconds()))
        outcome = "finished" if beat.succeeded else "FAILED"
        typer.echo(
            f"{beat.worker}: last run {outcome} {age} s ago "
            f"({beat.last_run_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
    newest = beats[0]
    if (moment - newest.last_run_at).total_seconds() > limit:
        raise fail(
            f"no job runner finished a run in the last {limit} s (ATTUNE_WORKER_STALE_SECONDS)"
        )
    if not newest.succeeded:
        raise fail("the latest run failed; see the runner's log")
