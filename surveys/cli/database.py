"""`attune db`: the schema."""

from __future__ import annotations

import typer

from surveys.cli import actor, db_app, open_engine


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the schema to the newest version (safe to run again)."""
    from surveys import audit
    from surveys.storage import migrate, schema_revisions, write_session

    engine = open_engine()
    where = engine.url.render_as_string(hide_password=True)
    before = schema_revisions(engine)
    migrate(engine)
    after = schema_revisions(engine)
    old, new = ", ".join(sorted(before)), ", ".join(sorted(after))
    if before == after:
        typer.echo(f"Schema is up to date at {where} (schema {new}).")
        return
    if before:
        action, detail = "database.upgrade", f"{old} -> {new}"
        message = f"Upgraded the database at {where} from schema {old} to {new}."
    else:
        action, detail = "database.create", f"schema {new}"
        message = f"Created the database at {where} (schema {new})."
    # The audit log is itself part of the schema, so the change is recorded just after it.
    with write_session(engine) as session:
        audit.record(session=session, actor=actor(), action=action, detail=detail)
    typer.echo(message)
