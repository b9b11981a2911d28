"""The comment codebook an administrator edits: example phrases added to a code, beside the
shipped ones (surveys/reporting/themes.py). Plain text, length-checked, audited; after a change
`attune comments analyse --all` recomputes every comment's theme."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import col

from surveys import audit, text
from surveys.models import CodebookPhrase
from surveys.reporting.themes import CODEBOOK
from surveys.storage import read_session, write_session

PHRASE_MIN_LENGTH = 3
PHRASE_MAX_LENGTH = 200


class CodebookError(ValueError):
    """A phrase that cannot be added, in words an administrator understands."""


@dataclass(frozen=True)
class AddedPhrase:
    id: int
    code: str
    phrase: str


def clean_phrase(code: str, phrase: str) -> tuple[str, str]:
    """`(code, phrase)` checked: a code of the codebook, and a phrase of plain text between
    PHRASE_MIN_LENGTH and PHRASE_MAX_LENGTH characters, its spaces tidied."""
    if code not in CODEBOOK:
        raise CodebookError(f"{code!r} is not a code of the codebook")
    phrase = " ".join(phrase.split())
    if len(phrase) < PHRASE_MIN_LENGTH:
        raise CodebookError(f"a phrase needs at least {PHRASE_MIN_LENGTH} characters")
    if len(phrase) > PHRASE_MAX_LENGTH:
        raise CodebookError(f"a phrase has at most {PHRASE_MAX_LENGTH} characters")
    invisible = text.invisible_character(phrase)
    if invisible:
        raise CodebookError(f"the phrase contains the invisible or control character {invisible}")
    if phrase.casefold() in {shipped.casefold() for shipped in CODEBOOK[code]}:
        raise CodebookError("the codebook already has that phrase for this code")
    return code, phrase


def add_codebook_phrase(*, engine: Engine, code: str, phrase: str, actor: str) -> int:
    """Add an example phrase to a code; it counts from the next `attune comments analyse`."""
    code, phrase = clean_phrase(code, phrase)
    with write_session(engine) as session:
        clash = select(CodebookPhrase).where(
            col(CodebookPhrase.code) == code, col(CodebookPhrase.phrase) == phrase
        )
        if session.scalars(clash).first() is not None:
            raise CodebookError("the codebook already has that phrase for this code")
        row = CodebookPhrase(code=code, phrase=phrase)
        session.add(row)
        session.flush()
        assert row.id is not None
        audit.record(
            session=session, actor=actor, action="codebook.add", detail=f"{code}: {phrase}"
        )
        return row.id


def remove_codebook_phrase(*, engine: Engine, phrase_id: int, actor: str) -> None:
    """Take an administrator's phrase out of the codebook (shipped phrases stay)."""
    with write_session(engine) as session:
        row = session.get(CodebookPhrase, phrase_id)
        if row is None:
            raise LookupError("that phrase is no longer in the codebook")
        detail = f"{row.code}: {row.phrase}"
        session.delete(row)
        session.flush()
        audit.record(session=session, actor=actor, action="codebook.remove", detail=detail)


def list_added_phrases(*, engine: Engine) -> list[AddedPhrase]:
    """The administrator's phrases, by code then phrase."""
    query = select(CodebookPhrase).order_by(col(CodebookPhrase.code), col(CodebookPhrase.phrase))
    with read_session(engine) as session:
        return [
            AddedPhrase(row.id, row.code, row.phrase)
            for row in session.scalars(query)
            if row.id is not None
        ]


def codebook_phrases(*, engine: Engine) -> dict[str, tuple[str, ...]]:
    """The codebook in use: each code's shipped phrases, then the administrator's."""
    added: dict[str, list[str]] = {code: [] for code in CODEBOOK}
    for row in list_added_phrases(engine=engine):
        if row.code in added:
            added[row.code].append(row.phrase)
    return {code: (*CODEBOOK[code], *added[code]) for code in CODEBOOK}
