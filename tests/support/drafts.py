"""The survey_draft table as a test (or the replicas test) sees it: counts and raw rows."""

from __future__ import annotations

from sqlalchemy import Engine, text


def draft_count(engine: Engine, cycle_id: int | None = None) -> int:
    """How many drafts are kept, for one cycle or for all."""
    where = "" if cycle_id is None else " WHERE cycle_id = :cycle_id"
    with engine.connect() as connection:
        return connection.execute(
            text(f"SELECT COUNT(*) FROM survey_draft{where}"), {"cycle_id": cycle_id}
        ).scalar_one()


def raw_drafts(engine: Engine) -> list[tuple[str, int, bytes, bytes]]:
    """Every draft row as stored: (id, cycle_id, nonce, ciphertext)."""
    with engine.connect() as connection:
        return [
            (row[0], row[1], bytes(row[2]), bytes(row[3]))
            for row in connection.execute(
                text("SELECT id, cycle_id, nonce, ciphertext FROM survey_draft")
            )
        ]
