"""`attune comments analyse`: each shown comment's theme and tone, computed in batches and kept.

Never in the submission's transaction and never while a page waits: the job runner
(`attune run-due`) analyses what is new, and the command recomputes everything after a codebook
change. Only comments a report may show are analysed (released ones, or any of a cycle that is
no longer open), so a batch of analyses never groups comments more finely than their release
already did. Rows go in ordered by the comments' random ids, and a second copy running at the
same time skips rows already written (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from surveys.models import Comment, CommentAnalysis, SurveyCycle
from surveys.records import CycleState
from surveys.reporting.themes import CODEBOOK, Analyser, default_analyser
from surveys.storage import is_sqlite, read_session, write_session

BATCH_SIZE = 2000


def _shown():  # noqa: ANN202 - SQL expression
    """Comments a report may show: released, or of a cycle that is not open."""
    return or_(col(Comment.released).is_(True), col(SurveyCycle.state) != CycleState.open.value)


def analyser_for(engine: Engine) -> Analyser:
    """The analyser for this database: the shipped codebook plus its administrator's phrases."""
    from surveys.codebook import codebook_phrases

    phrases = codebook_phrases(engine=engine)
    if phrases == dict(CODEBOOK):
        return default_analyser()
    return Analyser(phrases=phrases)


def count_to_analyse(engine: Engine, *, everything: bool = False) -> int:
    """How many comments `analyse_comments` would analyse."""
    query = (
        select(func.count())
        .select_from(Comment)
        .join(SurveyCycle, col(SurveyCycle.id) == col(Comment.cycle_id))
        .where(_shown())
    )
    if not everything:
        query = query.outerjoin(
            CommentAnalysis, col(CommentAnalysis.comment_id) == col(Comment.id)
        ).where(col(CommentAnalysis.comment_id).is_(None))
    with read_session(engine) as session:
        return int(session.execute(query).scalar_one())


def analyse_comments(
    engine: Engine,
    *,
    everything: bool = False,
    analyser: Analyser | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Analyse the shown comments not analysed yet (or, with `everything`, all of them again),
    `batch_size` at a time; `progress` hears how many each batch did. Returns the total."""
    analyser = analyser or analyser_for(engine)
    done = 0
    after: int | None = None
    while True:
        query = (
            select(col(Comment.id), col(Comment.text))
            .join(SurveyCycle, col(SurveyCycle.id) == col(Comment.cycle_id))
            .where(_shown())
            .order_by(col(Comment.id))
            .limit(batch_size)
        )
        if everything:
            if after is not None:
                query = query.where(col(Comment.id) > after)
        else:
            query = query.outerjoin(
                CommentAnalysis, col(CommentAnalysis.comment_id) == col(Comment.id)
            ).where(col(CommentAnalysis.comment_id).is_(None))
            if after is not None:
                query = query.where(col(Comment.id) > after)
        with read_session(engine) as session:
            rows = [(int(row[0]), str(row[1])) for row in session.execute(query)]
        if not rows:
            return done
        analyses = analyser.analyse([text for _, text in rows])
        values = [
            {"comment_id": comment_id, "theme": analysis.theme, "tone": analysis.sentiment}
            for (comment_id, _), analysis in zip(rows, analyses, strict=True)
        ]
        with write_session(engine) as session:
            ids = [comment_id for comment_id, _ in rows]
            if everything:
                session.execute(
                    delete(CommentAnalysis).where(col(CommentAnalysis.comment_id).in_(ids))
                )
            dialect = sqlite if is_sqlite(engine) else postgresql
            statement = dialect.insert(CommentAnalysis).on_conflict_do_nothing()
            # Only comments that still exist: one deleted meanwhile is skipped, not an error.
            existing = set(
                session.execute(select(col(Comment.id)).where(col(Comment.id).in_(ids))).scalars()
            )
            kept = [value for value in values if value["comment_id"] in existing]
            if kept:
                session.execute(statement, kept)
        done += len(rows)
        after = rows[-1][0]
        if progress is not None:
            progress(len(rows))
