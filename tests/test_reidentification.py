"""An administrator with the whole database tries to link responses to invitations, and fails.

The attacker knows which person got which link (the roster's CSV) and can read every table,
including storage order (SQLite rowid, PostgreSQL ctid) and writer transaction ids (xmin).
Staff use their links in an order the attacker does not know; the attacker pairs the k-th
used invitation with the k-th response under every ordering the database offers.
"""

from __future__ import annotations

import itertools
import random

import pytest
from sqlalchemy import Engine, select, text

from surveys.invitations.used import used_sql
from surveys.models import Response
from surveys.storage import read_session
from surveys.survey.form import load_survey
from surveys.survey.submit import submit_survey
from tests.support.backends import backends
from tests.support.submission import full_answers, tokens

PEOPLE = 30
# Pairing by chance gets about one right out of thirty; a working attack gets most.
MOST_A_GUESS_GETS = 6


def response_ids(engine: Engine) -> set[int]:
    with read_session(engine) as session:
        return set(session.scalars(select(Response.id)))


def comment_ids(engine: Engine) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT id FROM comment")).scalars())


def orderings(
    engine: Engine, table: str, key: str, where: str = "", *, rowid: bool = True
) -> dict[str, list]:
    """Every order in which the database can list `table`'s rows, as lists of `key`
    (`rowid=False` for a SQLite table without one)."""
    columns = {"id": "id"}
    if engine.dialect.name == "sqlite":
        if rowid:
            columns["rowid"] = "rowid"
    else:
        columns |= {"ctid": "ctid", "xmin": "xmin::text::bigint"}
    with engine.connect() as connection:
        return {
            name: [
                row[0]
                for row in connection.execute(
                    text(f"SELECT {key} FROM {table} {where} ORDER BY {expression}")
                )
            ]
            for name, expression in columns.items()
        } | {
            "storage": [
                row[0] for row in connection.execute(text(f"SELECT {key} FROM {table} {where}"))
            ]
        }


@backends()
def test_no_ordering_or_transaction_id_links_a_response_to_its_link(
    engine: Engine,
    survey: dict,
) -> None:
    links = tokens(engine, survey, PEOPLE)
    from surveys.invitations.links import hash_token

    truth: dict[str, int] = {}  # token hash -> response id, known only to the test
    comment_truth: dict[int, int] = {}  # comment id -> response id, likewise
    use_order = random.Random(11).sample(links, len(links))
    for number, token in enumerate(use_order):
        before, comments_before = response_ids(engine), comment_ids(engine)
        form = load_survey(engine=engine, token=token)
        submit_survey(
            engine=engine,
            token=token,
            submission_key=f"key-{number}",
            answers=full_answers(form, likert=1 + number % 5),
            # Every third person comments: forms with and without one, mixed.
            comment=f"Comment number {number}." if number % 3 == 0 else None,
        )
        (new,) = response_ids(engine) - before
        truth[hash_token(token)] = new
        for comment in comment_ids(engine) - comments_before:
            comment_truth[comment] = new
    assert len(comment_truth) == PEOPLE // 3

    invitations = orderings(engine, "invitation", "token_hash", f"WHERE {used_sql('invitation')}")
    # The cell's row of used links lists them too, in its own order.
    with engine.connect() as connection:
        hash_of = dict(connection.execute(text("SELECT id, token_hash FROM invitation")).all())
        (listed,) = connection.execute(text("SELECT invitation_ids FROM used_link")).scalars()
    invitations["used_link"] = [hash_of[int(number)] for number in listed.split(",")]
    responses = orderings(engine, "response", "id")
    for (invitation_order, hashes), (response_order, ids) in itertools.product(
        invitations.items(), responses.items()
    ):
        for ids_in_order in (ids, ids[::-1]):
            correct = sum(truth[h] == r for h, r in zip(hashes, ids_in_order, strict=True))
            assert correct <= MOST_A_GUESS_GETS, (
                f"pairing invitations by {invitation_order} with responses by {response_order} "
                f"links {correct} of {PEOPLE}"
            )

    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            # A used link's own row, and the cell's row that lists it as used.
            invitation_xmin = connection.execute(
                text(
                    f"SELECT token_hash, xmin::text FROM invitation WHERE {used_sql('invitation')}"
                )
            ).all()
            (listed_xmin,) = connection.execute(text("SELECT xmin::text FROM used_link")).scalars()
            invitation_xmin += [(hash_of[int(n)], listed_xmin) for n in listed.split(",")]
            response_xmin = dict(
                connection.execute(text("SELECT id, xmin::text FROM response")).all()
            )
        by_xmin: dict[str, list[str]] = {}
        for token_hash, xmin in invitation_xmin:
            by_xmin.setdefault(xmin, []).append(token_hash)
        unique_links = [
            (by_xmin[xmin][0], response)
            for response, xmin in response_xmin.items()
            if len(by_xmin.get(xmin, [])) == 1
        ]
        assert not [link for link in unique_links if truth[link[0]] == link[1]]
        # Nor does a comment's: no response shares its xmin with exactly its own comment.
        with engine.connect() as connection:
            comment_xmin = connection.execute(text("SELECT id, xmin::text FROM comment")).all()
        comments_by_xmin: dict[str, list[int]] = {}
        for comment_id, xmin in comment_xmin:
            comments_by_xmin.setdefault(xmin, []).append(comment_id)
        unique_comments = [
            (comments_by_xmin[xmin][0], response)
            for response, xmin in response_xmin.items()
            if len(comments_by_xmin.get(xmin, [])) == 1
        ]
        assert not [pair for pair in unique_comments if comment_truth[pair[0]] == pair[1]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_response_ids_are_the_rowids(engine: Engine, survey: dict) -> None:
    for number, token in enumerate(tokens(engine, survey, 5)):
        form = load_survey(engine=engine, token=token)
        submit_survey(engine=engine, token=token, submission_key=f"k{number}",
                      answers=full_answers(form), comment=None)  # fmt: skip
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id, rowid FROM response").all()
    assert all(response_id == rowid for response_id, rowid in rows)


@backends()
def test_the_email_tables_do_not_say_who_answered_when(
    engine: Engine, survey: dict, mail_settings
) -> None:
    """People invited by email answer in an unknown order, some before the reminder and some
    after. The delivery rows, in every order the database offers and by every column, must not
    tell those who answered before the reminder from those who did not, nor pair with
    responses."""
    from datetime import UTC, datetime, timedelta

    from surveys.invitations.delivery import import_email_roster
    from surveys.jobs import run_due
    from surveys.organisation.schedule import put_schedule
    from surveys.storage import write_session
    from tests.support.mail import addresses, roster, token_of

    cycle_id = survey["cycles"]["2026 Q4"]
    with write_session(engine) as session:
        put_schedule(session=session, cycle_id=cycle_id, actor="boss", reminder_days=(3,))
    emails = addresses(PEOPLE)
    import_email_roster(
        engine=engine, data=roster(emails, ("Emergency",)), cycle_id=cycle_id, actor="boss"
    )
    opens = datetime(2026, 10, 12, 9, tzinfo=UTC)
    run_due(engine, opens)
    links = {str(m["To"]): token_of(m) for m in mail_settings.mailbox.messages}
    order = random.Random(5).sample(emails, PEOPLE)
    early, late = order[: PEOPLE // 2], order[PEOPLE // 2 :]

    def answer(email: str, number: int) -> None:
        form = load_survey(engine=engine, token=links[email])
        submit_survey(engine=engine, token=links[email], submission_key=f"k{email}",
                      answers=full_answers(form, likert=1 + number % 5), comment=None)  # fmt: skip

    for number, email in enumerate(early):
        answer(email, number)
    assert run_due(engine, opens + timedelta(days=3)).reminders_sent == len(late)
    for number, email in enumerate(late[:10]):
        answer(email, number)

    # Every column but the address, nonce and ids is the same for everyone.
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT step_done, claimed_by, claimed_until, attempts, next_try, last_error"
                 " FROM invitation_delivery")
        ).all()  # fmt: skip
        assert len(set(rows)) == 1, set(rows)
        if engine.dialect.name == "postgresql":
            xmins = connection.execute(text("SELECT xmin::text FROM invitation_delivery")).all()
            assert len(set(xmins)) == 1
    # No order of the delivery rows follows the order of answering.
    answered_early = set(early)
    for name, listed in orderings(engine, "invitation_delivery", "address").items():
        first_half = set(listed[: PEOPLE // 2])
        assert len(first_half & answered_early) < PEOPLE // 2, name


@backends()
def test_comment_analyses_never_group_comments_more_finely_than_their_release(
    engine: Engine, survey: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner analysing after every single submission (its worst case) still writes
    analyses only in batches of at least the comment minimum, the size comments are released
    in, and in random-id order within a batch, so neither storage order nor xmin dates one."""
    from surveys.analysis import analyse_comments
    from surveys.config import get_settings
    from surveys.reporting.themes import NEUTRAL, Analysis

    monkeypatch.setenv("ATTUNE_MIN_COMMENT_GROUP_SIZE", "4")
    get_settings.cache_clear()

    class Quick:
        def analyse(self, texts: list[str]) -> list[Analysis]:
            return [Analysis("other", NEUTRAL) for _ in texts]

    batches = []
    for number, token in enumerate(tokens(engine, survey, 13)):
        form = load_survey(engine=engine, token=token)
        submit_survey(
            engine=engine, token=token, submission_key=f"key-{number}",
            answers=full_answers(form), comment=f"Comment {number}",
        )  # fmt: skip
        done = analyse_comments(engine, analyser=Quick())
        if done:
            batches.append(done)
    assert batches == [4, 4, 4]  # the 13th comment waits for three more
    with engine.connect() as connection:
        ids = sorted(connection.execute(text("SELECT comment_id FROM comment_analysis")).scalars())
    assert len(ids) == 12
    if engine.dialect.name == "sqlite":
        # The rowid is the comment's random id: storage order is random-id order.
        with engine.connect() as connection:
            by_rowid = connection.execute(
                text("SELECT comment_id FROM comment_analysis ORDER BY rowid")
            ).scalars()
            assert list(by_rowid) == ids
    else:
        with engine.connect() as connection:
            sizes = connection.execute(
                text("SELECT COUNT(*) FROM comment_analysis GROUP BY xmin::text")
            ).scalars()
            assert all(size >= 4 for size in sizes)


@backends()
def test_drafts_pair_with_no_invitation_and_outlive_no_submission(
    engine: Engine, survey: dict
) -> None:
    """Everyone saves a draft at three steps, in an interleaved order the attacker does not
    know; a third then submit. The drafts left, in every order the database offers, do
    not pair with the unused invitations they belong to; none of a submitted link is left;
    and on PostgreSQL no draft shares a transaction id with an invitation or a response."""
    from surveys.invitations.links import hash_token
    from surveys.survey.drafts import Draft, draft_secret, save_draft

    links = tokens(engine, survey, PEOPLE)
    chance = random.Random(23)
    form = load_survey(engine=engine, token=links[0])
    saves = [(token, step) for token in links for step in (1, 2, 3)]
    chance.shuffle(saves)
    saves.sort(key=lambda save: save[1])  # everyone's step 1 before anyone's step 2
    for token, step in saves:
        save_draft(engine=engine, token=token, draft=Draft(step=step, answers=full_answers(form)))
    submitters = chance.sample(links, PEOPLE // 3)
    for number, token in enumerate(submitters):
        submit_survey(engine=engine, token=token, submission_key=f"key-{number}",
                      answers=full_answers(form, likert=1 + number % 5))  # fmt: skip

    waiting = [token for token in links if token not in submitters]
    truth = {hash_token(token): draft_secret(token).id for token in waiting}
    with engine.connect() as connection:
        kept = set(connection.execute(text("SELECT id FROM survey_draft")).scalars())
    assert kept == set(truth.values())

    assert not kept & set(truth)  # a draft's id is not its link's hash
    invitations = orderings(
        engine, "invitation", "token_hash", f"WHERE NOT {used_sql('invitation')}"
    )
    invitations["token_hash"] = sorted(invitations["id"])
    drafts = orderings(engine, "survey_draft", "id", rowid=False)
    for (invitation_order, hashes), (draft_order, ids) in itertools.product(
        invitations.items(), drafts.items()
    ):
        for ids_in_order in (ids, ids[::-1]):
            correct = sum(truth[h] == d for h, d in zip(hashes, ids_in_order, strict=True))
            # Twenty drafts: a blind guess pairs about one, and more than six almost never.
            assert correct <= MOST_A_GUESS_GETS, (
                f"pairing invitations by {invitation_order} with drafts by {draft_order} "
                f"links {correct} of {len(waiting)}"
            )

    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:

            def xmins(table: str) -> set[str]:
                return set(connection.execute(text(f"SELECT xmin::text FROM {table}")).scalars())

            assert not xmins("survey_draft") & (xmins("invitation") | xmins("response"))
