"""Survey drafts: a respondent's answers so far, kept on the server under a key only the link
gives, so that a reload, a lost connection, a phone gone to sleep or a restarted server loses
nothing, and the same link opened again later in the cycle finds them.

- **The secret** is the personal link's token, or, for an open link (one address for
  everyone), the token with a random *resume key* the survey adds to the address
  (`?token=...&resume=...`) once the respondent starts. HKDF-SHA256 turns it into two
  unrelated values: the draft's row id and its AES-256-GCM key. The database keeps the id,
  the cycle, a random nonce and the ciphertext: without the link it can neither read a
  draft nor tell which invitation it belongs to (an invitation keeps SHA-256 of its token,
  which yields neither value).
- **No time and no order.** No created or updated column; the id looks random, and SQLite
  keeps the table in id order (no rowid), so neither says when a draft was saved.
- **Length.** The plaintext is padded to a multiple of `BUCKET_BYTES`, so the ciphertext's
  size does not say how many questions are answered; only a very long comment moves it up.
- **Gone.** The submission deletes its draft in its own transaction
  (`surveys.survey.submit`), and closing a cycle deletes all of the cycle's drafts
  (`delete_cycle_drafts`, called by `apply_cycle_state`).
- Saving is never audited: an audit event has a time, and would date a respondent's work.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import string
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, delete
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from surveys.config import get_settings
from surveys.invitations.links import hash_token
from surveys.invitations.used import used_sql
from surveys.models import SurveyDraft
from surveys.records import CycleState
from surveys.storage import driver_cursor, driver_sql, read_session, write_session
from surveys.survey.form import SurveyForm

logger = logging.getLogger(__name__)

# Fixed and public: HKDF's salt only separates this use of the link from any other.
_SALT = b"attune survey draft v1"
_ID_INFO = b"attune survey draft: row id"
_KEY_INFO = b"attune survey draft: AES-256-GCM key"
NONCE_BYTES = 12
# Answers to the 38 questions take about 700 bytes; a 1,000-character comment up to 4,000.
BUCKET_BYTES = 4096
# A comment pasted far over the limit is kept on the page but not in the draft beyond this.
MAX_DRAFT_BYTES = 8 * BUCKET_BYTES
_LENGTH = struct.Struct(">I")
RESUME_KEY_BYTES = 24
_RESUME_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
_RESUME_LENGTHS = range(22, 65)
RESUME_PARAMETER = "resume"


class DraftTooLarge(ValueError):
    """The draft would be larger than `MAX_DRAFT_BYTES` (a comment pasted far over the limit)."""


class DraftNotSaved(RuntimeError):
    """The database did not take the draft; the answers are still on the respondent's page."""


@dataclass(frozen=True)
class Draft:
    """What a respondent has done so far: the step they are on, every answer given (a value
    or "not_applicable"), the comment as typed and, for an open link, where they work."""

    step: int = 0
    answers: Mapping[str, int | str] = field(default_factory=dict)
    comment: str = ""
    department_id: int | None = None
    staff_group_id: int | None = None


@dataclass(frozen=True)
class DraftSecret:
    """The draft's row id and its key, both derived from the link (and resume key)."""

    id: str
    key: bytes = field(repr=False)


def new_resume_key() -> str:
    """A random resume key for an open link's address: 192 bits, URL-safe."""
    return secrets.token_urlsafe(RESUME_KEY_BYTES)


def is_resume_key(value: object) -> bool:
    """Whether `value` has the shape of a resume key (anything else in the address is ignored)."""
    return (
        isinstance(value, str) and len(value) in _RESUME_LENGTHS and set(value) <= _RESUME_ALPHABET
    )


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret)


def draft_secret(token: str, resume_key: str | None = None) -> DraftSecret:
    """The id and key of the draft for a personal link (`resume_key` None) or for one
    respondent of an open link (its resume key)."""
    # Tokens and resume keys are URL-safe base64: a newline cannot occur in either.
    secret = token if resume_key is None else f"{token}\n{resume_key}"
    material = secret.encode("utf-8")
    return DraftSecret(_derive(material, _ID_INFO).hex(), _derive(material, _KEY_INFO))


def _associated(secret: DraftSecret, cycle_id: int) -> bytes:
    # Binds the ciphertext to its row: moved to another id or cycle, it no longer opens.
    return f"{secret.id}:{cycle_id}".encode()


def seal(draft: Draft, *, secret: DraftSecret, cycle_id: int) -> tuple[bytes, bytes]:
    """The draft padded and encrypted: (nonce, ciphertext)."""
    payload = json.dumps(
        {
            "step": draft.step,
            "answers": dict(draft.answers),
            "comment": draft.comment,
            "department": draft.department_id,
            "group": draft.staff_group_id,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    framed = _LENGTH.pack(len(payload)) + payload
    if len(framed) > MAX_DRAFT_BYTES:
        raise DraftTooLarge(f"a draft of {len(framed):,} bytes is over {MAX_DRAFT_BYTES:,}")
    padded = framed + bytes(-len(framed) % BUCKET_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce, AESGCM(secret.key).encrypt(nonce, padded, _associated(secret, cycle_id))


def unseal(nonce: bytes, ciphertext: bytes, *, secret: DraftSecret, cycle_id: int) -> Draft | None:
    """The draft, or None when the key is wrong or the bytes were changed."""
    try:
        padded = AESGCM(secret.key).decrypt(
            bytes(nonce), bytes(ciphertext), _associated(secret, cycle_id)
        )
        (length,) = _LENGTH.unpack_from(padded)
        data = json.loads(padded[_LENGTH.size : _LENGTH.size + length].decode("utf-8"))
    except (InvalidTag, ValueError, struct.error):
        return None
    return _draft_from(data)


def _draft_from(data: Any) -> Draft | None:
    """A decoded draft, keeping only values of the right types (the form checks the rest)."""
    if not isinstance(data, dict):
        return None

    def whole(value: object) -> int | None:
        return value if type(value) is int else None

    answers = data.get("answers")
    comment = data.get("comment")
    return Draft(
        step=whole(data.get("step")) or 0,
        answers={
            code: value
            for code, value in (answers.items() if isinstance(answers, dict) else ())
            if isinstance(code, str) and type(value) in (int, str)
        },
        comment=comment if isinstance(comment, str) else "",
        department_id=whole(data.get("department")),
        staff_group_id=whole(data.get("group")),
    )


@dataclass(frozen=True)
class _DraftSql:
    link: str
    link_locking: str
    upsert: str
    read: str
    remove: str


@functools.cache
def _sql(dialect: str) -> _DraftSql:
    link = (
        f"SELECT v.cycle_id, v.is_open, {used_sql('v')}, c.state FROM invitation v"
        " JOIN survey_cycle c ON c.id = v.cycle_id WHERE v.token_hash = :token_hash"
    )
    return _DraftSql(
        link=driver_sql(dialect, link),
        # On PostgreSQL a cycle closing meanwhile waits for this save to commit and then
        # deletes its draft, or this save waits for the close and sees the cycle closed.
        # Only the cycle's row is locked: a lock on the invitation would leave this
        # transaction's id on it, the same id the draft row carries.
        link_locking=driver_sql(dialect, f"{link} FOR SHARE OF c")
        if dialect == "postgresql"
        else driver_sql(dialect, link),
        upsert=driver_sql(
            dialect,
            "INSERT INTO survey_draft (id, cycle_id, nonce, ciphertext)"
            " VALUES (:id, :cycle_id, :nonce, :ciphertext)"
            " ON CONFLICT (id) DO UPDATE SET cycle_id = excluded.cycle_id,"
            " nonce = excluded.nonce, ciphertext = excluded.ciphertext",
        ),
        read=driver_sql(
            dialect, "SELECT cycle_id, nonce, ciphertext FROM survey_draft WHERE id = :id"
        ),
        remove=driver_sql(dialect, "DELETE FROM survey_draft WHERE id = :id"),
    )


def secret_for_link(*, token: str, is_open: bool, resume_key: str | None) -> DraftSecret | None:
    """The draft secret a link uses: the token alone for a personal link; the token with the
    respondent's resume key for an open link (None without one: the token is everyone's)."""
    if not is_open:
        return draft_secret(token)
    if not is_resume_key(resume_key):
        return None
    return draft_secret(token, resume_key)


def save_draft(*, engine: Engine, token: str, draft: Draft, resume_key: str | None = None) -> bool:
    """Keep `draft` for this link, replacing any earlier one; one write transaction.

    Returns False, storing nothing, when drafts are turned off (`ATTUNE_SURVEY_DRAFTS`), the
    link is unknown, used or for a cycle that is not open, or an open link comes without a
    resume key. A comment pasted so far over the limit that the draft would pass
    `MAX_DRAFT_BYTES` is left out of it (the page keeps it). Raises DraftNotSaved when the
    database fails.
    """
    if not get_settings().survey_drafts or not isinstance(token, str) or not token:
        return False
    try:
        with write_session(engine) as session:
            dialect, cursor = driver_cursor(session)
            sql = _sql(dialect)
            cursor.execute(sql.link_locking, {"token_hash": hash_token(token)})
            link = cursor.fetchone()
            if link is None:
                return False
            cycle_id, is_open, used, state = link
            if state != CycleState.open or (used and not is_open):
                return False
            secret = secret_for_link(token=token, is_open=bool(is_open), resume_key=resume_key)
            if secret is None:
                return False
            try:
                nonce, ciphertext = seal(draft, secret=secret, cycle_id=cycle_id)
            except DraftTooLarge:
                draft = replace(draft, comment="")
                nonce, ciphertext = seal(draft, secret=secret, cycle_id=cycle_id)
            cursor.execute(
                sql.upsert,
                {"id": secret.id, "cycle_id": cycle_id, "nonce": nonce, "ciphertext": ciphertext},
            )
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        logger.warning("survey draft not saved: %s", type(error).__name__)
        raise DraftNotSaved("the draft could not be saved") from error
    return True


def load_draft(
    *,
    engine: Engine,
    token: str,
    resume_key: str | None = None,
    form: SurveyForm | None = None,
) -> Draft | None:
    """The draft kept for this link, or None (none kept, drafts off, or it cannot be read).

    Only for a link that can still be answered: the caller has opened the form first. With
    `form`, only what still fits it comes back (`fit_to_form`)."""
    if not get_settings().survey_drafts or not isinstance(token, str) or not token:
        return None
    try:
        with read_session(engine) as session:
            dialect, cursor = driver_cursor(session)
            sql = _sql(dialect)
            cursor.execute(sql.link, {"token_hash": hash_token(token)})
            link = cursor.fetchone()
            if link is None:
                return None
            secret = secret_for_link(token=token, is_open=bool(link[1]), resume_key=resume_key)
            if secret is None:
                return None
            cursor.execute(sql.read, {"id": secret.id})
            row = cursor.fetchone()
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        logger.warning("survey draft not read: %s", type(error).__name__)
        return None
    if row is None:
        return None
    cycle_id, nonce, ciphertext = row
    draft = unseal(nonce, ciphertext, secret=secret, cycle_id=cycle_id)
    return draft if draft is None or form is None else fit_to_form(draft, form)


def fit_to_form(draft: Draft, form: SurveyForm) -> Draft:
    """The draft with only what the form still offers: answers to its questions among their
    options, an active department and staff group (open links), a step that exists. A draft
    kept before the instrument or the departments changed loses only what changed."""
    questions = {question.code: question for _, question in form.questions()}
    answers = {
        code: value
        for code, value in draft.answers.items()
        if code in questions
        and value in questions[code].options()
        # "does not apply" is a string; a number must be the int itself, not True.
        and type(value) in (int, str)
    }
    department = draft.department_id
    group = draft.staff_group_id
    if form.is_open_link:
        department = department if department in {c.id for c in form.departments} else None
        group = group if group in {c.id for c in form.staff_groups} else None
    else:
        department = group = None
    step = min(max(draft.step, 0), len(form.steps) + 1)
    if form.is_open_link and (department is None or group is None):
        step = 0  # where the respondent says where they work
    return Draft(step=step, answers=answers, comment=draft.comment,
                 department_id=department, staff_group_id=group)  # fmt: skip


def discard_draft(*, engine: Engine, token: str, resume_key: str | None = None) -> None:
    """Delete this link's draft, if any (a respondent who starts again)."""
    with write_session(engine) as session:
        dialect, cursor = driver_cursor(session)
        sql = _sql(dialect)
        cursor.execute(sql.link, {"token_hash": hash_token(token)})
        link = cursor.fetchone()
        if link is None:
            return
        secret = secret_for_link(token=token, is_open=bool(link[1]), resume_key=resume_key)
        if secret is not None:
            cursor.execute(sql.remove, {"id": secret.id})


def delete_draft_in(cursor: Any, dialect: str, draft_id: str) -> None:
    """Delete one draft inside the caller's transaction (the submission's own)."""
    cursor.execute(_sql(dialect).remove, {"id": draft_id})


def delete_cycle_drafts(*, session: Session, cycle_id: int) -> None:
    """Delete every draft of a cycle, inside the caller's transaction (the cycle's closing)."""
    session.execute(
        delete(SurveyDraft)
        .where(col(SurveyDraft.cycle_id) == cycle_id)
        .execution_options(synchronize_session=False)
    )
