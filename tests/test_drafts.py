"""Survey drafts: kept encrypted under the link, readable only with it, gone at submit and close."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from surveys.config import get_settings
from surveys.invitations.links import create_open_link, hash_token
from surveys.organisation.cycles import change_cycle_state
from surveys.storage import write_session
from surveys.survey.drafts import (
    BUCKET_BYTES,
    Draft,
    DraftTooLarge,
    discard_draft,
    draft_secret,
    is_resume_key,
    load_draft,
    new_resume_key,
    save_draft,
    seal,
    unseal,
)
from surveys.survey.form import NOT_APPLICABLE, load_survey
from surveys.survey.submit import submit_survey
from tests.support.backends import backends
from tests.support.drafts import draft_count, raw_drafts
from tests.support.hostile import HOSTILE_TEXTS
from tests.support.submission import full_answers, tokens

COMMENT = "Night handover with ward 7B is rushed; Zebedee-42 noticed it first."


def some_answers(engine: Engine, token: str, count: int = 7) -> dict[str, int | str]:
    form = load_survey(engine=engine, token=token)
    codes = [question.code for _, question in form.questions()][:count]
    return {code: (NOT_APPLICABLE if number == 2 else 1 + number % 5)
            for number, code in enumerate(codes)}  # fmt: skip


def open_link(engine: Engine, survey: dict, cycle: str = "2026 Q4") -> str:
    with write_session(engine) as session:
        return create_open_link(session=session, cycle_id=survey["cycles"][cycle])


def test_a_sealed_draft_opens_with_its_own_secret_only() -> None:
    draft = Draft(step=3, answers={"respect.nursing": 4, "blame.nursing": NOT_APPLICABLE},
                  comment=COMMENT, department_id=7, staff_group_id=2)  # fmt: skip
    secret = draft_secret("a-token")
    nonce, ciphertext = seal(draft, secret=secret, cycle_id=1)
    assert unseal(nonce, ciphertext, secret=secret, cycle_id=1) == draft
    # Another link, the same open link with another resume key, or the row moved elsewhere.
    for other, cycle in ((draft_secret("b-token"), 1), (draft_secret("a-token", "x" * 32), 1),
                         (secret, 2)):  # fmt: skip
        assert unseal(nonce, ciphertext, secret=other, cycle_id=cycle) is None
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    assert unseal(nonce, tampered, secret=secret, cycle_id=1) is None


def test_the_id_and_key_are_unrelated_to_each_other_and_to_the_token_hash() -> None:
    secret = draft_secret("a-token")
    assert len(secret.id) == 64
    assert secret.id != hash_token("a-token")
    assert secret.id != secret.key.hex()
    assert draft_secret("a-token", "r" * 32).id != secret.id
    assert draft_secret("a-token") == secret  # derived, not drawn: the same link finds it


@pytest.mark.parametrize("comment", ["", "short", "x" * 1000, "ü" * 1000])
def test_a_draft_s_size_does_not_say_how_much_is_answered(comment: str) -> None:
    secret = draft_secret("a-token")
    few = seal(Draft(step=1, answers={"a": 1}), secret=secret, cycle_id=1)[1]
    many = seal(
        Draft(step=7, answers={f"item.{n}.nursing": 5 for n in range(38)}, comment=comment),
        secret=secret,
        cycle_id=1,
    )[1]
    assert len(few) == len(many) == BUCKET_BYTES + 16  # 16: the tag


@pytest.mark.parametrize("name", sorted(name for name in HOSTILE_TEXTS if name != "one megabyte"))
def test_any_comment_comes_back_exactly(name: str) -> None:
    draft = Draft(step=7, comment=HOSTILE_TEXTS[name])
    secret = draft_secret("a-token")
    assert unseal(*seal(draft, secret=secret, cycle_id=1), secret=secret, cycle_id=1) == draft


def test_a_draft_too_large_is_refused() -> None:
    with pytest.raises(DraftTooLarge):
        seal(Draft(comment="x" * 40_000), secret=draft_secret("t"), cycle_id=1)


def test_resume_keys_are_random_and_checked() -> None:
    keys = {new_resume_key() for _ in range(50)}
    assert len(keys) == 50 and all(is_resume_key(key) for key in keys)
    for bad in ("", "short", "x" * 65, "a" * 30 + "/", None, 12345, "ä" * 32):
        assert not is_resume_key(bad)


@backends()
def test_a_draft_comes_back_for_the_same_link_and_no_other(engine: Engine, survey: dict) -> None:
    first, second = tokens(engine, survey, 2)
    draft = Draft(step=3, answers=some_answers(engine, first), comment=COMMENT)
    assert save_draft(engine=engine, token=first, draft=draft)
    assert load_draft(engine=engine, token=first) == draft
    assert load_draft(engine=engine, token=second) is None
    # Saving again replaces it: one row per link.
    later = Draft(step=4, answers={**draft.answers, "respect.nursing": 5}, comment="")
    assert save_draft(engine=engine, token=first, draft=later)
    assert load_draft(engine=engine, token=first) == later
    assert draft_count(engine) == 1
    discard_draft(engine=engine, token=first)
    assert load_draft(engine=engine, token=first) is None
    assert draft_count(engine) == 0


@backends()
def test_the_database_holds_ciphertext_only(engine: Engine, survey: dict) -> None:
    (token,) = tokens(engine, survey, 1)
    answers = some_answers(engine, token, count=38)
    save_draft(engine=engine, token=token, draft=Draft(step=5, answers=answers, comment=COMMENT))
    ((draft_id, cycle_id, nonce, ciphertext),) = raw_drafts(engine)
    assert cycle_id == survey["cycles"]["2026 Q4"]
    assert len(nonce) == 12
    stored = draft_id.encode() + nonce + ciphertext
    for plain in (COMMENT, "Zebedee", "ward 7B", "respect.nursing", "not_applicable",
                  '"answers"', "step", token, hash_token(token)):  # fmt: skip
        assert plain.encode() not in stored, plain
        assert plain.encode("utf-16-le") not in stored, plain
    # The columns are these four: nothing names, dates or points at the invitation.
    with engine.connect() as connection:
        columns = {column["name"] for column in inspect(connection).get_columns("survey_draft")}
        invitation = connection.execute(
            text("SELECT * FROM invitation WHERE token_hash = :h"), {"h": hash_token(token)}
        ).one()
    assert columns == {"id", "cycle_id", "nonce", "ciphertext"}
    assert draft_id not in {str(value) for value in invitation}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_draft_s_words_are_left_in_the_sqlite_files(engine: Engine, survey: dict) -> None:
    """Saved often, changed, then submitted with another comment: neither the database file
    nor its log holds a word of the drafts in plain text."""
    (token,) = tokens(engine, survey, 1)
    form = load_survey(engine=engine, token=token)
    for number in range(5):
        draft = Draft(step=number + 1, answers=full_answers(form), comment=f"{COMMENT} {number}")
        save_draft(engine=engine, token=token, draft=draft)
    submit_survey(engine=engine, token=token, submission_key="k", answers=full_answers(form),
                  comment="Fine overall.")  # fmt: skip
    engine.dispose()
    assert engine.url.database
    database = Path(engine.url.database)
    files = (database, database.with_name(f"{database.name}-wal"))
    stored = b"".join(path.read_bytes() for path in files if path.exists())
    assert b"Fine overall." in stored  # the submitted comment, as the check's control
    assert b"Zebedee" not in stored


@backends()
def test_an_open_link_keeps_one_draft_per_resume_key(engine: Engine, survey: dict) -> None:
    token = open_link(engine, survey)
    mine, theirs = new_resume_key(), new_resume_key()
    emergency, nursing = survey["departments"]["Emergency"], survey["groups"]["nursing"]
    draft = Draft(step=2, answers=some_answers(engine, token), comment="",
                  department_id=emergency, staff_group_id=nursing)  # fmt: skip
    # Without a resume key the token is everyone's: nothing is kept.
    assert not save_draft(engine=engine, token=token, draft=draft)
    assert save_draft(engine=engine, token=token, draft=draft, resume_key=mine)
    assert save_draft(engine=engine, token=token, draft=Draft(step=1), resume_key=theirs)
    assert load_draft(engine=engine, token=token, resume_key=mine) == draft
    assert load_draft(engine=engine, token=token, resume_key=theirs) == Draft(step=1)
    assert load_draft(engine=engine, token=token) is None
    assert load_draft(engine=engine, token=token, resume_key=new_resume_key()) is None

    form = load_survey(engine=engine, token=token)
    submit_survey(engine=engine, token=token, submission_key="k", answers=full_answers(form),
                  department_id=emergency, staff_group_id=nursing, resume_key=mine)  # fmt: skip
    assert load_draft(engine=engine, token=token, resume_key=mine) is None
    assert load_draft(engine=engine, token=token, resume_key=theirs) == Draft(step=1)


@backends()
def test_a_draft_is_gone_once_its_answers_are_submitted(engine: Engine, survey: dict) -> None:
    mine, other = tokens(engine, survey, 2)
    form = load_survey(engine=engine, token=mine)
    for token in (mine, other):
        save_draft(engine=engine, token=token, draft=Draft(step=2, answers={"respect.nursing": 4}))
    submit_survey(engine=engine, token=mine, submission_key="k", answers=full_answers(form))
    assert load_draft(engine=engine, token=mine) is None
    assert draft_count(engine) == 1  # the other respondent's is untouched
    # The link is used now: no draft is kept for it any more.
    assert not save_draft(engine=engine, token=mine, draft=Draft(step=1))
    assert draft_count(engine) == 1


@backends()
def test_a_refused_submission_keeps_the_draft(engine: Engine, survey: dict) -> None:
    (token,) = tokens(engine, survey, 1)
    save_draft(engine=engine, token=token, draft=Draft(step=2, answers={"respect.nursing": 4}))
    with pytest.raises(ValueError, match="unanswered"):
        submit_survey(engine=engine, token=token, submission_key="k", answers={})
    assert load_draft(engine=engine, token=token) is not None


@backends()
def test_every_draft_of_a_cycle_is_gone_when_it_closes(engine: Engine, survey: dict) -> None:
    q4 = survey["cycles"]["2026 Q4"]
    personal = tokens(engine, survey, 3)
    shared = open_link(engine, survey)
    for token in personal:
        save_draft(engine=engine, token=token, draft=Draft(step=1, answers={"respect.nursing": 3}))
    save_draft(engine=engine, token=shared, draft=Draft(step=1), resume_key=new_resume_key())
    # A draft of another open cycle stays.
    change_cycle_state(engine=engine, cycle_id=survey["cycles"]["2027 Q1"], action="open",
                       actor="boss")  # fmt: skip
    (next_cycle,) = tokens(engine, survey, 1, cycle="2027 Q1")
    save_draft(engine=engine, token=next_cycle, draft=Draft(step=1))
    assert draft_count(engine, q4) == 4

    change_cycle_state(engine=engine, cycle_id=q4, action="close", actor="boss")
    assert draft_count(engine, q4) == 0
    assert draft_count(engine) == 1
    # A closed cycle takes no new draft; reopened, it starts with none.
    assert not save_draft(engine=engine, token=personal[0], draft=Draft(step=1))
    change_cycle_state(engine=engine, cycle_id=q4, action="open", actor="boss")
    assert load_draft(engine=engine, token=personal[0]) is None


@backends()
def test_no_draft_is_kept_for_a_link_that_cannot_be_answered(engine: Engine, survey: dict) -> None:
    (closed,) = tokens(engine, survey, 1, cycle="2026 Q3")
    (not_open,) = tokens(engine, survey, 1, cycle="2027 Q1")
    for token in (closed, not_open, "no-such-link", ""):
        assert not save_draft(engine=engine, token=token, draft=Draft(step=1))
    assert draft_count(engine) == 0


@backends()
def test_drafts_can_be_turned_off(
    engine: Engine, survey: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    (token,) = tokens(engine, survey, 1)
    save_draft(engine=engine, token=token, draft=Draft(step=2))
    monkeypatch.setenv("ATTUNE_SURVEY_DRAFTS", "false")
    get_settings.cache_clear()
    assert not save_draft(engine=engine, token=token, draft=Draft(step=3))
    assert load_draft(engine=engine, token=token) is None
    assert not load_survey(engine=engine, token=token).keeps_drafts


@backends()
def test_a_draft_saved_while_its_cycle_closes_is_deleted_with_the_rest(
    engine: Engine, survey: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that has read the cycle as open when an administrator closes it: the close
    waits for the save to commit and then deletes its draft (on PostgreSQL the save holds the
    cycle's row; on SQLite it holds the write lock)."""
    import threading

    from surveys.survey import drafts

    (token,) = tokens(engine, survey, 1)
    sealing, go_on = threading.Event(), threading.Event()
    real_seal = drafts.seal

    def slow_seal(*args: object, **kwargs: object) -> tuple[bytes, bytes]:
        sealing.set()
        go_on.wait(timeout=30)
        return real_seal(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(drafts, "seal", slow_seal)
    saved: list[bool] = []
    saver = threading.Thread(
        target=lambda: saved.append(save_draft(engine=engine, token=token, draft=Draft(step=2)))
    )
    saver.start()
    assert sealing.wait(timeout=30)
    closer = threading.Thread(
        target=change_cycle_state,
        kwargs={"engine": engine, "cycle_id": survey["cycles"]["2026 Q4"], "action": "close",
                "actor": "boss"},
    )  # fmt: skip
    closer.start()
    closer.join(timeout=1)  # left waiting for the save, as it must be
    go_on.set()
    saver.join(timeout=30)
    closer.join(timeout=30)
    assert saved == [True]
    assert draft_count(engine) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_saved_draft_leaves_nothing_in_the_sqlite_log(engine: Engine, survey: dict) -> None:
    """Like every write, a save ends by emptying the write-ahead log into the database file."""
    (token,) = tokens(engine, survey, 1)
    assert engine.url.database
    wal = Path(f"{engine.url.database}-wal")
    for step in (1, 2, 3):
        save_draft(engine=engine, token=token, draft=Draft(step=step, comment=COMMENT))
        assert not wal.exists() or wal.stat().st_size == 0
