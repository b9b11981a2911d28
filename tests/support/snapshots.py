"""What the rollup tables hold, sorted, to compare before and after a rebuild or a failure."""

from __future__ import annotations

from sqlalchemy import Engine, select

from surveys.models import (
    DRIVER_COLUMNS,
    CellRollup,
    ItemRollup,
    RelationshipRollup,
    ScoreRollup,
)
from surveys.scoring import OUTCOMES
from surveys.storage import read_session


def rollup_snapshot(engine: Engine) -> dict:
    with read_session(engine) as session:
        cells = sorted(tuple(row) for row in session.execute(select(CellRollup.__table__)).all())
        items = sorted(tuple(row) for row in session.execute(select(ItemRollup.__table__)).all())
        scores = sorted(
            (r.department_id, r.staff_group_id, r.measure, r.n, round(r.total, 6),
             round(r.total_sq, 4),
             *(round(getattr(r, c), 4) for o in OUTCOMES for c in DRIVER_COLUMNS[o]))
            for r in session.execute(select(ScoreRollup.__table__)).all()
        )  # fmt: skip
        relationships = sorted(
            tuple(row) for row in session.execute(select(RelationshipRollup.__table__)).all()
        )
    return {"cells": cells, "items": items, "scores": scores, "relationships": relationships}
