"""Results shared back with staff: the share link (hash only, revocable), its summary's figures
(the reporting layer's, for the same scope), plans as staff see them, the command and emails."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, inspect, select
from typer.testing import CliRunner

from surveys import audit
from surveys.access.accounts import AccountInfo
from surveys.actions import plans, sharing
from surveys.actions.records import PlanDraft, PlanStatus
from surveys.cli import app
from surveys.config import get_settings
from surveys.invitations.delivery import import_email_roster, render
from surveys.jobs import run_due
from surveys.models import ShareLink
from surveys.organisation.cycles import change_cycle_state
from surveys.organisation.schedule import put_schedule
from surveys.reporting import overview
from surveys.reporting.shared_summary import PlanInput, shared_summary, staff_view
from surveys.storage import read_session, write_session
from surveys.survey.form import load_survey
from surveys.survey.submit import submit_survey
from tests.support.backends import backends
from tests.support.hostile import INJECTION, INVISIBLE, MARKUP, changed_tables, database_dump
from tests.support.mail import MailServer, addresses, roster
from tests.support.submission import full_answers, tokens

ADMIN = AccountInfo(id=1, username="boss", role="admin", department_ids=None)
SECRET = "s" * 40


def answer(engine: Engine, survey: dict, count: int, department: str, group: str) -> None:
    """`count` complete forms for one department and group, with answers that vary."""
    for number, token in enumerate(
        tokens(engine, survey, count, department=department, group=group)
    ):
        form = load_survey(engine=engine, token=token)
        submit_survey(
            engine=engine,
            token=token,
            submission_key=secrets.token_urlsafe(16),
            answers=full_answers(form, likert=2 + number % 4, nps=(3 * number) % 11),
        )


@pytest.fixture
def answered(engine: Engine, survey: dict) -> dict:
    """The `survey` hospital with 2026 Q4 answered (Emergency 12, ICU 3) and closed."""
    answer(engine, survey, 7, "Emergency", "nursing")
    answer(engine, survey, 5, "Emergency", "physicians")
    answer(engine, survey, 3, "ICU", "nursing")
    change_cycle_state(
        engine=engine, cycle_id=survey["cycles"]["2026 Q4"], action="close", actor="t"
    )
    return survey


def token_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.path == f"/{sharing.SHARE_PATH}"
    (token,) = parse_qs(parts.query)[sharing.SHARE_PARAMETER]
    return token


@backends()
def test_a_published_link_opens_its_cycle_and_the_database_never_holds_its_token(
    engine: Engine, answered: dict
) -> None:
    cycle_id = answered["cycles"]["2026 Q4"]
    url = sharing.publish_summary(engine=engine, cycle_id=cycle_id, actor="boss")
    assert url.startswith(f"{get_settings().base_url}/shared?k=")
    token = token_of(url)
    assert len(token) >= 43  # 32 random bytes
    assert sharing.cycle_for_token(engine=engine, token=token) == cycle_id
    dump = repr(database_dump(engine))
    assert token not in dump
    assert hashlib.sha256(token.encode()).hexdigest() in dump
    events = audit.list_events(engine=engine, action="share.publish")
    assert [(event.actor, event.detail) for event in events] == [("boss", "2026 Q4")]


@backends()
def test_a_revoked_link_stays_dead_and_publishing_again_makes_a_new_one(
    engine: Engine, answered: dict
) -> None:
    cycle_id = answered["cycles"]["2026 Q4"]
    first = token_of(sharing.publish_summary(engine=engine, cycle_id=cycle_id, actor="boss"))
    sharing.revoke_summary(engine=engine, cycle_id=cycle_id, actor="boss")
    assert sharing.cycle_for_token(engine=engine, token=first) is None
    assert sharing.summary_for_link(engine=engine, token=first) is None
    assert sharing.shared_link(engine=engine, cycle_id=cycle_id) is None
    second = token_of(sharing.publish_summary(engine=engine, cycle_id=cycle_id, actor="boss"))
    assert second != first
    assert sharing.cycle_for_token(engine=engine, token=second) == cycle_id
    assert sharing.cycle_for_token(engine=engine, token=first) is None
    assert [event.action for event in audit.list_events(engine=engine)][:3] == [
        "share.publish",
        "share.revoke",
        "share.publish",
    ]


@pytest.mark.parametrize(
    ("cycle", "published", "message"),
    [
        ("2026 Q4", False, "is open: publish its summary once it has closed"),
        ("2027 Q1", False, "is draft"),
        ("2026 Q3", True, "already published"),
    ],
)
def test_publishing_is_refused_for_a_cycle_not_closed_or_already_shared(
    engine: Engine, survey: dict, cycle: str, published: bool, message: str
) -> None:
    if published:
        sharing.publish_summary(engine=engine, cycle_id=survey["cycles"][cycle], actor="boss")
    before = database_dump(engine)
    with pytest.raises(sharing.ShareError, match=message):
        sharing.publish_summary(engine=engine, cycle_id=survey["cycles"][cycle], actor="boss")
    assert not changed_tables(before, database_dump(engine))


def test_revoking_a_summary_that_is_not_shared_is_refused(engine: Engine, survey: dict) -> None:
    with pytest.raises(sharing.ShareError, match="is not published"):
        sharing.revoke_summary(engine=engine, cycle_id=survey["cycles"]["2026 Q3"], actor="b")


@pytest.mark.parametrize(
    "token",
    ["", "x", "A" * 43, "k" * 5_000, *MARKUP.values(), *INVISIBLE.values(), *INJECTION.values()],
)
def test_a_wrong_token_opens_nothing(engine: Engine, survey: dict, token: str) -> None:
    sharing.publish_summary(engine=engine, cycle_id=survey["cycles"]["2026 Q3"], actor="boss")
    assert sharing.cycle_for_token(engine=engine, token=token) is None
    assert sharing.summary_for_link(engine=engine, token=token) is None


def test_the_link_can_be_shown_again_only_with_the_link_secret(
    engine: Engine, survey: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    q3 = survey["cycles"]["2026 Q3"]
    once = sharing.publish_summary(engine=engine, cycle_id=q3, actor="boss")
    live = sharing.shared_link(engine=engine, cycle_id=q3)
    assert live is not None and live.url is None and live.published_by == "boss"
    sharing.revoke_summary(engine=engine, cycle_id=q3, actor="boss")

    monkeypatch.setenv("ATTUNE_LINK_SECRET", SECRET)
    get_settings.cache_clear()
    url = sharing.publish_summary(engine=engine, cycle_id=q3, actor="boss")
    assert url != once
    live = sharing.shared_link(engine=engine, cycle_id=q3)
    assert live is not None and live.url == url
    # The row's nonce is not the token: without the secret the database cannot open the link.
    with read_session(engine) as session:
        row = session.scalars(select(ShareLink).where(ShareLink.revoked_at.is_(None))).one()
    assert row.nonce and row.nonce != token_of(url)
    assert token_of(url) not in repr(database_dump(engine))
    monkeypatch.setenv("ATTUNE_LINK_SECRET", "t" * 40)
    get_settings.cache_clear()
    assert sharing.shared_link(engine=engine, cycle_id=q3).url != url  # type: ignore[union-attr]


@backends()
def test_every_figure_in_the_summary_is_the_reporting_layers_for_the_same_scope(
    engine: Engine, answered: dict
) -> None:
    cycle_id = answered["cycles"]["2026 Q4"]
    summary = sharing.summary_for_cycle(engine=engine, cycle_id=cycle_id)
    assert summary.overview == overview(engine, cycle_id=cycle_id, departments=None, movers=3)
    assert summary.overview.responses == 15
    # ICU's 3 responses are fewer than 5 (and it has no plan): it is not listed at all.
    assert [d.department for d in summary.departments] == ["Emergency"]
    for department in summary.departments:
        own = overview(
            engine,
            cycle_id=cycle_id,
            departments=None,
            selected_departments=frozenset({department.department_id}),
            movers=1,
        )
        # Not 12: Emergency's 5 physicians pool with ICU's 3 nurses (the release path's atoms).
        assert department.responses == own.responses == 7
        assert department.index == own.index and not department.index.suppressed
        assert department.strongest == own.strongest[0]
        assert department.weakest == own.weakest[0]
    table = summary.table()
    shown = table[~table["suppressed"]]
    assert set(shown["scope"]) == {
        "organisation",
        f"department:{answered['departments']['Emergency']}",
    }


@backends()
def test_a_department_below_the_minimum_shows_its_plans_but_no_figure(
    engine: Engine, answered: dict
) -> None:
    icu = answered["departments"]["ICU"]
    plans.create_plan(
        engine=engine,
        viewer=ADMIN,
        draft=PlanDraft(
            title="Huddles",
            actions="A daily huddle.",
            due_on=date(2027, 3, 1),
            department_id=icu,
            owner="Dr Lee",
            show_owner=False,
            started_cycle_id=answered["cycles"]["2026 Q4"],
        ),
    )
    summary = sharing.summary_for_cycle(engine=engine, cycle_id=answered["cycles"]["2026 Q4"])
    (listed,) = [d for d in summary.departments if d.department_id == icu]
    assert listed.responses is None and listed.index.suppressed and listed.index.n == 0
    assert listed.strongest is None and listed.weakest is None
    assert [(p.title, p.actions, p.status, p.owner) for p in listed.plans] == [
        ("Huddles", "A daily huddle.", "Planned", None)
    ]
    assert "Dr Lee" not in repr(summary)


def test_staff_see_a_plans_owner_only_when_its_author_chose_to_show_it() -> None:
    given = [
        PlanInput(1, "Dropped idea", "Nothing", "dropped", owner="Ann", show_owner=True),
        PlanInput(1, "Checklist", "A handover checklist", "done", owner="Dr Lee"),
        PlanInput(1, "Huddles", "Daily", "in_progress", owner="Sam Smith", show_owner=True),
        PlanInput(1, "Rota", "Fairer rota", "planned", owner="", show_owner=True),
    ]
    seen = staff_view(given)
    assert [(plan.title, plan.status, plan.owner) for plan in seen] == [
        ("Huddles", "In progress", "Sam Smith"),
        ("Rota", "Planned", None),
        ("Checklist", "Done", None),
        ("Dropped idea", "Dropped", "Ann"),
    ]


def test_plans_from_the_action_plans_module_reach_the_summary_by_department(
    engine: Engine, answered: dict
) -> None:
    emergency = answered["departments"]["Emergency"]
    q4 = answered["cycles"]["2026 Q4"]
    for title, department, owner, show in (
        ("Handover checklist", emergency, "Charge nurse Ann", False),
        ("Respect charter", emergency, "Dr Okafor", True),
        ("Answer every suggestion", None, "HR", True),
    ):
        plans.create_plan(
            engine=engine,
            viewer=ADMIN,
            status=PlanStatus.in_progress,
            draft=PlanDraft(
                title=title,
                actions=f"What: {title}",
                due_on=date(2027, 3, 1),
                department_id=department,
                owner=owner,
                show_owner=show,
                started_cycle_id=q4,
            ),
        )
    summary = sharing.summary_for_cycle(engine=engine, cycle_id=q4)
    (emergency_part,) = summary.departments
    assert {(p.title, p.owner) for p in emergency_part.plans} == {
        ("Handover checklist", None),
        ("Respect charter", "Dr Okafor"),
    }
    assert [(p.title, p.owner) for p in summary.organisation_plans] == [
        ("Answer every suggestion", "HR")
    ]
    assert "Charge nurse Ann" not in repr(summary)


def test_hand_made_plans_are_an_input_of_the_summary(engine: Engine, answered: dict) -> None:
    emergency = answered["departments"]["Emergency"]
    summary = shared_summary(
        engine,
        cycle_id=answered["cycles"]["2026 Q4"],
        plans=[PlanInput(emergency, "Rota", "Fairer rota", "planned")],
    )
    assert [p.title for p in summary.departments[0].plans] == ["Rota"]


def test_the_next_cycle_links_the_published_summary_in_its_emails(
    engine: Engine, survey: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    q3, q4 = survey["cycles"]["2026 Q3"], survey["cycles"]["2026 Q4"]
    assert sharing.previous_summary(engine=engine, cycle_id=q4) is None
    monkeypatch.setenv("ATTUNE_LINK_SECRET", SECRET)
    get_settings.cache_clear()
    url = sharing.publish_summary(engine=engine, cycle_id=q3, actor="boss")
    shared = sharing.previous_summary(engine=engine, cycle_id=q4)
    assert shared is not None and shared.url == url and shared.cycle == "2026 Q3"
    # Only the cycle right after: 2027 Q1 follows 2026 Q4, which is not shared.
    assert sharing.previous_summary(engine=engine, cycle_id=survey["cycles"]["2027 Q1"]) is None
    message = render(
        cycle="2026 Q4",
        closes=date(2026, 11, 28),
        subject="",
        intro="",
        link="https://example.org/survey?token=x",
        reminder=False,
        shared=shared,
    )
    assert url in message.text and "what came of the 2026 Q3 survey" in message.text
    assert f'href="{url}"' in message.html
    plain = render(
        cycle="2026 Q4", closes=date(2026, 11, 28), subject="", intro="",
        link="https://example.org/survey?token=x", reminder=False, shared=None,
    )  # fmt: skip
    assert "You said, we did" not in plain.text and "You said, we did" not in plain.html


def test_the_command_publishes_and_revokes(
    engine: Engine, survey: dict, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        get_settings.cache_clear()
        return runner.invoke(app, ["share", *args])

    published = invoke("publish", "--cycle", "2026 q3")
    assert published.exit_code == 0, published.output
    url = published.stdout.strip()
    assert (
        sharing.cycle_for_token(engine=engine, token=token_of(url)) == survey["cycles"]["2026 Q3"]
    )
    again = invoke("publish", "--cycle", "2026 Q3")
    assert again.exit_code == 1 and "already published" in again.output
    revoked = invoke("revoke", "--cycle", "2026 Q3")
    assert revoked.exit_code == 0 and "no longer opens anything" in revoked.output
    assert sharing.cycle_for_token(engine=engine, token=token_of(url)) is None
    assert invoke("revoke", "--cycle", "2026 Q3").exit_code == 1
    typo = invoke("publish", "--cycle", "2026 Q33")
    assert typo.exit_code == 1 and "did you mean '2026 Q3'?" in typo.output
    actions = [event.action for event in audit.list_events(engine=engine)]
    assert actions[:2] == ["share.revoke", "share.publish"]
    assert audit.list_events(engine=engine)[0].actor.startswith("cli")


def test_the_next_cycles_invitations_sent_by_the_runner_link_the_summary(
    engine: Engine, survey: dict, mail_settings: MailServer
) -> None:
    q4, q1 = survey["cycles"]["2026 Q4"], survey["cycles"]["2027 Q1"]
    change_cycle_state(engine=engine, cycle_id=q4, action="close", actor="t")
    url = sharing.publish_summary(engine=engine, cycle_id=q4, actor="boss")
    with write_session(engine) as session:
        put_schedule(session=session, cycle_id=q1, actor="boss", reminder_days=())
    emails = addresses(3)
    import_email_roster(
        engine=engine, data=roster(emails, ("Emergency", "ICU")), cycle_id=q1, actor="boss"
    )
    report = run_due(engine, datetime(2027, 1, 12, 9, tzinfo=UTC))
    assert report.invitations_sent == 3
    for message in mail_settings.mailbox.messages:
        plain = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "You said, we did: what came of the 2026 Q4 survey" in plain
        assert url in plain and f'href="{url}"' in html


@backends()
def test_the_share_link_table_points_at_no_answer_and_no_submission_writes_to_it(
    engine: Engine, survey: dict
) -> None:
    # A share link names a cycle and who published it: never a response, a comment or a
    # link that admitted one, and answering the survey leaves it as it was.
    with engine.connect() as connection:
        foreign_keys = inspect(connection).get_foreign_keys("share_link")
    assert {key["referred_table"] for key in foreign_keys} == {"survey_cycle"}
    sharing.publish_summary(engine=engine, cycle_id=survey["cycles"]["2026 Q3"], actor="boss")
    before = database_dump(engine)["share_link"]
    answer(engine, survey, 1, "Emergency", "nursing")
    assert database_dump(engine)["share_link"] == before
