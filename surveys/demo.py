"""A realistic, deterministic demo hospital (or health system) with eight quarters of answers.

The numbers come from a simple latent-score model: each answer is a respondent's general
outlook plus department, rater-group, rated-group and item effects plus noise, cut into the
five answer points. On top of that sit the stories a viewer should be able to find:

- Emergency: respect between nursing staff and physicians declines over the last year,
  more steeply as nurses see it than as physicians see it.
- ICU: relationships start weak, then improve quarter on quarter after a teamwork
  programme that began in the third quarter.
- Administrative & support staff everywhere feel their feedback is not heard, and other
  groups do not understand their role; those who do see it acted on would recommend working
  here, so for them "Feedback acted on" is a key driver.
- Oncology is consistently strong.

Action plans close the loop: ICU's teamwork programme (begun in the third quarter, done), an
Emergency plan on how nurses and physicians work together (in progress), and an overdue plan
to act on administrative staff's feedback across the organisation.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, insert, select
from sqlmodel import Session, col

from surveys import audit
from surveys.access.accounts import DemoAccounts, create_demo_accounts
from surveys.actions import sharing
from surveys.demo_comments import COMMENTS
from surveys.demo_plans import write_plans
from surveys.instruments import builtin_instrument
from surveys.models import Comment, Invitation, SurveyCycle, UsedLinks

# The session-taking building blocks: the demo builds everything in one transaction.
from surveys.organisation.catalogue import instrument_items, register_instrument
from surveys.organisation.cycles import add_cycle, has_survey_data
from surveys.organisation.structure import add_department, add_division, staff_groups
from surveys.records import CycleState, ItemInfo
from surveys.scoring import GROUPS_SECTION
from surveys.storage import write_session
from surveys.survey import rollups, steps

if TYPE_CHECKING:
    import psycopg

# One (department, group) of a cycle: department id, story, group index, the department's
# headcount per group, and how many of that group responded.
_Cell = tuple[int, str, int, tuple[int, ...], int]


class Scale(StrEnum):
    hospital = "hospital"
    system = "system"


class DatabaseNotEmpty(RuntimeError):
    """The demo only loads into a database with no organisation or survey data."""


GROUPS = ("nursing", "physicians", "allied_health", "administrative")

# Department -> headcount of nursing, physicians, allied health, administrative & support.
HOSPITAL: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "Acute & Critical Care": {
        "Emergency": (168, 42, 26, 30),
        "Intensive Care (ICU)": (165, 32, 26, 10),
        "Surgery": (150, 55, 25, 20),
        "Cardiology": (110, 30, 20, 14),
    },
    "Medicine, Women & Children": {
        "Medical-Surgical": (300, 44, 32, 24),
        "Oncology": (130, 24, 20, 14),
        "Pediatrics": (115, 26, 18, 12),
        "Maternity": (125, 20, 8, 10),
    },
    "Clinical Support & Operations": {
        "Pharmacy": (4, 0, 72, 10),
        "Rehabilitation": (6, 3, 92, 10),
        "Radiology": (14, 18, 84, 14),
        "Laboratory": (0, 4, 96, 12),
        "Patient Access": (3, 0, 0, 74),
        "Billing": (0, 0, 0, 56),
    },
}

# The health system repeats the hospital at forty sites of slightly different sizes.
SYSTEM_SITES = (
    "Northgate", "Riverside", "Hillcrest", "Lakeview", "Westfield", "Eastbrook", "Southport",
    "Kingsbridge", "Elmwood", "Ashford", "Brookside", "Cedar Vale", "Fairhaven", "Glenmore",
    "Harbourside", "Ironbridge", "Juniper Hill", "Kestrel Park", "Longmeadow", "Millbrook",
    "Newhaven", "Oakridge", "Pinehurst", "Queensway", "Redcliff", "Stonebridge", "Thornbury",
    "Upton", "Valley View", "Whitby", "Yarrow", "Alderley", "Beacon Hill", "Clearwater",
    "Dunmore", "Edgewater", "Foxley", "Greystone", "Hawthorn", "Ivydale",
)  # fmt: skip

SCALE_CYCLES = {Scale.hospital: 8, Scale.system: 15}
SEED = 20261122


@dataclass(frozen=True)
class DemoSummary:
    departments: int
    staff: int
    cycles: int
    responses: int
    answers: int
    comments: int
    seconds: float
    accounts: DemoAccounts | None = None  # None only in _load's interim summary
    # The published staff summary of the newest closed cycle: its full link (shown once).
    shared_link: str | None = None


def quarterly_cycles(count: int, last_quarter_start: date) -> list[tuple[str, date, date]]:
    """`count` quarterly cycles ending with the quarter that starts on `last_quarter_start`."""
    cycles = []
    year, month = last_quarter_start.year, last_quarter_start.month
    for _ in range(count):
        quarter = (month - 1) // 3 + 1
        opens = date(year, month, 1) + timedelta(days=11)
        cycles.append((f"{year} Q{quarter}", opens, opens + timedelta(days=52)))
        month -= 3
        if month < 1:
            month += 12
            year -= 1
    return cycles[::-1]


def _organisation(scale: Scale, rng: np.random.Generator) -> dict[str, dict[str, tuple[int, ...]]]:
    if scale is Scale.hospital:
        return {
            division: {name: counts for name, counts in departments.items()}
            for division, departments in HOSPITAL.items()
        }
    organisation: dict[str, dict[str, tuple[int, ...]]] = {}
    for site in SYSTEM_SITES:
        factor = rng.uniform(0.8, 1.2)
        for division, departments in HOSPITAL.items():
            organisation[f"{site}: {division}"] = {
                f"{name} – {site}": tuple(int(round(c * factor)) for c in counts)
                for name, counts in departments.items()
            }
    return organisation


def _story_key(department: str) -> str:
    return department.split(" – ")[0]


def load_demo(
    engine: Engine,
    *,
    scale: Scale = Scale.hospital,
    today: date | None = None,
    actor: str = "attune demo",
) -> DemoSummary:
    """Fill an empty database with the demo organisation and its survey history, all at once,
    audited as `actor` (the command line passes who ran it)."""
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    today = today or date(2026, 11, 22)
    with write_session(engine) as session:
        if has_survey_data(session=session):
            raise DatabaseNotEmpty(
                "The database already holds organisation or survey data; "
                "the demo only loads into an empty database."
            )
        summary = _load(session, scale, rng, today)
        # An admin and a manager to sign in with.
        accounts = create_demo_accounts(session=session, actor=actor)
        write_plans(session=session, today=today, actor=actor)
        # "You said, we did": the newest closed cycle's summary, with the plans above,
        # published for staff.
        shared_link = _publish_last_closed(session, actor)
        audit.record(
            session=session,
            actor=actor,
            action="demo.load",
            detail=(
                f"{scale.value} demo: {summary.departments} departments, {summary.cycles} cycles, "
                f"{summary.responses:,} responses"
            ),
        )
    # A bulk load leaves the planner without statistics until autovacuum gets to it (on
    # PostgreSQL) or forever (SQLite); the dashboard's first queries should not pay for that.
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # Sampled statistics: seconds rather than minutes at system scale.
            connection.exec_driver_sql("PRAGMA analysis_limit = 1000")
        connection.exec_driver_sql("ANALYZE")
    seconds = time.perf_counter() - started
    return DemoSummary(
        **{
            **summary.__dict__,
            "seconds": seconds,
            "accounts": accounts,
            "shared_link": shared_link,
        }
    )


def _publish_last_closed(session: Session, actor: str) -> str | None:
    closed = session.scalars(
        select(SurveyCycle)
        .where(col(SurveyCycle.state) == CycleState.closed.value)
        .order_by(col(SurveyCycle.opens).desc())
    ).first()
    if closed is None or closed.id is None:
        return None
    return sharing.add_share_link(session=session, cycle_id=closed.id, actor=actor)


def _load(session: Session, scale: Scale, rng: np.random.Generator, today: date) -> DemoSummary:
    definition = builtin_instrument()
    instrument_id = register_instrument(session=session, definition=definition)
    groups = {group.key: group for group in staff_groups(session=session)}
    group_ids = [groups[key].id for key in GROUPS]
    stored = instrument_items(session=session, instrument_id=instrument_id)
    # Survey order, so that the generated data reads like the questionnaire.
    order = definition.items([(key, groups[key].plural) for key in GROUPS])
    items = [stored[item.code] for item in order]

    organisation = _organisation(scale, rng)
    departments: list[tuple[int, str, tuple[int, ...]]] = []
    for division, members in organisation.items():
        division_id = add_division(session=session, name=division)
        for name, headcounts in members.items():
            departments.append(
                (
                    add_department(session=session, name=name, division_id=division_id),
                    _story_key(name),
                    headcounts,
                )
            )

    quarter_start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    cycle_defs = quarterly_cycles(SCALE_CYCLES[scale], quarter_start)
    cycle_ids, cycle_states = [], []
    for name, opens, closes in cycle_defs:
        state = CycleState.open if opens <= today <= closes else CycleState.closed
        cycle_states.append(state)
        cycle_ids.append(
            add_cycle(
                session=session,
                name=name,
                opens=opens,
                closes=closes,
                instrument_id=instrument_id,
                state=state,
            )
        )
    session.flush()

    model = _AnswerModel(items, rng)
    totals = {"responses": 0, "answers": 0, "comments": 0}
    staff = sum(sum(headcounts) for _, _, headcounts in departments)
    for cycle_number, cycle_id in enumerate(cycle_ids):
        progress = cycle_number - (len(cycle_ids) - 8)  # stories run over the last 8 quarters
        cells: list[_Cell] = []
        for department_id, story, headcounts in departments:
            rate = rng.uniform(0.55, 0.80)
            for group_index, headcount in enumerate(headcounts):
                if headcount:
                    responded = int(round(headcount * rate))
                    cells.append((department_id, story, group_index, headcounts, responded))
        _write_invitations(session, rng, cycle_id, cells, group_ids)
        counts = _write_cycle(
            session, rng, model, cycle_id, progress, cells, group_ids, instrument_id, items
        )
        for key, value in counts.items():
            totals[key] += value
        rollups.rebuild(session=session, cycle_id=cycle_id)
    for cycle_id, state in zip(cycle_ids, cycle_states, strict=True):
        if state is CycleState.open:
            # As if its answers had arrived one by one: the steps they would have reached.
            steps.advance(session=session, cycle_id=cycle_id)
        else:
            steps.release_all(session=session, cycle_id=cycle_id)
    return DemoSummary(
        len(departments),
        staff,
        len(cycle_ids),
        totals["responses"],
        totals["answers"],
        totals["comments"],
        0.0,
    )


class _AnswerModel:
    """Latent scores for every (respondent, item), with the demo's stories built in."""

    THRESHOLDS = np.array([-1.25, -0.45, 0.30, 1.45])

    def __init__(self, items: list[ItemInfo], rng: np.random.Generator) -> None:
        self.items = items
        group_by_id: dict[int, int] = {}
        self.about = np.full(len(items), -1)
        self.section = np.array([item.section for item in items])
        self.dimension = np.array([item.dimension for item in items])
        self.reverse = np.array([item.reverse for item in items])
        self.is_nps = np.array([item.scale == "nps" for item in items])
        self.keys = np.array([item.code.split(".")[0] for item in items])
        for index, item in enumerate(items):
            if item.about_group_id is not None:
                group_by_id.setdefault(item.about_group_id, len(group_by_id))
                self.about[index] = item.about_group_id
        self.item_effect = rng.normal(0.0, 0.15, len(items))
        tweaks = {
            "timeliness": -0.2, "blame": -0.25, "shared_goals": 0.25, "role_understanding": -0.3,
            "respect": 0.2, "listening": 0.35, "plain_language": 0.1, "family_involvement": 0.2,
            "boundaries": 0.5, "team_support": 0.25, "speaking_up": -0.15, "feedback": -0.25,
            "team_respect": 0.3,
        }  # fmt: skip
        for index, key in enumerate(self.keys):
            self.item_effect[index] += tweaks.get(str(key), 0.0)

    def latent(
        self,
        *,
        story: str,
        rater: int,
        rated_index: np.ndarray,
        progress: int,
        n: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        pair = np.array([
            [0.30, -0.20, 0.20, 0.00],
            [0.10, 0.30, 0.10, -0.10],
            [0.10, -0.30, 0.40, 0.00],
            [-0.10, -0.30, 0.00, 0.30],
        ])  # fmt: skip
        effect = 0.55 + self.item_effect.copy()
        has_about = rated_index >= 0
        effect[has_about] += pair[rater, rated_index[has_about]]
        department = {"Oncology": 0.45, "Pediatrics": 0.2, "Billing": -0.15, "Emergency": -0.05}
        effect += department.get(story, 0.0)
        keys = self.keys
        relational = (self.section == GROUPS_SECTION) | np.isin(
            self.dimension, ("team_support", "speaking_up", "feedback", "respect")
        )
        if story == "Emergency" and progress >= 4:
            steps = progress - 3
            physician, nurse = 1, 0
            respectish = np.isin(keys, ("respect", "blame"))
            if rater == nurse:
                effect[(rated_index == physician) & respectish] -= 0.30 * steps
                effect[(rated_index == physician) & ~respectish] -= 0.10 * steps
            if rater == physician:
                effect[(rated_index == nurse) & respectish] -= 0.12 * steps
        if story == "Intensive Care (ICU)":
            effect[relational] += -0.55 + 0.30 * min(max(progress - 2, 0), 5)
        if rater == 3:
            effect[keys == "feedback"] -= 0.9
            effect[keys == "speaking_up"] -= 0.35
        effect[(rated_index == 3) & (keys == "role_understanding")] -= 0.5
        person = rng.normal(0.0, 0.55, (n, 1))
        return effect[None, :] + person + rng.normal(0.0, 0.8, (n, len(keys)))


def _write_invitations(
    session: Session,
    rng: np.random.Generator,
    cycle_id: int,
    cells: list[_Cell],
    group_ids: list[int],
) -> None:
    rows = []
    used: set[str] = set()
    for department_id, _story, group_index, headcounts, responded in cells:
        headcount = headcounts[group_index]
        hashes = rng.bytes(32 * headcount).hex()
        for index in range(headcount):
            token_hash = hashes[64 * index : 64 * index + 64]
            rows.append(
                {
                    "token_hash": token_hash,
                    "cycle_id": cycle_id,
                    "department_id": department_id,
                    "staff_group_id": group_ids[group_index],
                    "is_open": False,
                }
            )
            if index < responded:
                used.add(token_hash)
    session.execute(insert(Invitation), rows)
    # Each cell's used links, listed in its one row (surveys.invitations.used).
    listed: dict[tuple[int, int], list[int]] = {}
    for invitation_id, token_hash, department_id, group_id in session.execute(
        select(
            col(Invitation.id),
            col(Invitation.token_hash),
            col(Invitation.department_id),
            col(Invitation.staff_group_id),
        ).where(col(Invitation.cycle_id) == cycle_id)
    ):
        if token_hash in used:
            listed.setdefault((department_id, group_id), []).append(invitation_id)
    if listed:
        session.execute(
            insert(UsedLinks),
            [
                {
                    "cycle_id": cycle_id,
                    "department_id": department_id,
                    "staff_group_id": group_id,
                    "invitation_ids": ",".join(str(number) for number in sorted(ids)),
                }
                for (department_id, group_id), ids in sorted(listed.items())
            ],
        )


def _write_cycle(
    session: Session,
    rng: np.random.Generator,
    model: _AnswerModel,
    cycle_id: int,
    progress: int,
    cells: list[_Cell],
    group_ids: list[int],
    instrument_id: int,
    items: list[ItemInfo],
) -> dict[str, int]:
    item_ids = np.array([item.id for item in items], dtype=np.int64)
    group_index_by_id: dict[int | None, int] = {
        group_id: index for index, group_id in enumerate(group_ids)
    }
    rated_index = np.array([group_index_by_id.get(item.about_group_id, -1) for item in items])
    patient_items = model.section == "patients"
    response_rows: list[tuple[int, int, int, int, int]] = []
    answer_blocks: list[tuple[np.ndarray, np.ndarray]] = []
    comment_rows: list[dict[str, object]] = []
    for department_id, story, group_index, headcounts, responded in cells:
        if not responded:
            continue
        ids = rng.integers(1, 2**63 - 1, responded, dtype=np.int64)
        latent = model.latent(
            story=story,
            rater=group_index,
            rated_index=rated_index,
            progress=progress,
            n=responded,
            rng=rng,
        )
        scored = np.digitize(latent, model.THRESHOLDS) + 1
        values = np.where(model.reverse[None, :], 6 - scored, scored).astype(np.int16)
        nps = np.clip(
            np.rint(7.2 + 2.2 * (latent.mean(axis=1) - 0.55) + rng.normal(0, 1.3, responded)), 0, 10
        )
        if group_index == 3:
            # Administrative staff who see their feedback acted on would recommend working
            # here: the story key drivers find (centred, so their eNPS stays as it was).
            heard = latent[:, model.keys == "feedback"].mean(axis=1)
            nps = np.clip(np.rint(nps + 1.5 * (heard - heard.mean())), 0, 10)
        values[:, model.is_nps] = nps[:, None].astype(np.int16)
        not_applicable = rng.random(values.shape) < 0.03
        # Groups a department hardly has are often "does not apply" for its staff.
        for other, count in enumerate(headcounts):
            if count == 0:
                not_applicable[:, rated_index == other] |= (
                    rng.random((responded, int((rated_index == other).sum()))) < 0.6
                )
        if story in ("Billing", "Patient Access", "Laboratory") or group_index == 3:
            not_applicable[:, patient_items] |= (
                rng.random((responded, int(patient_items.sum()))) < 0.35
            )
        not_applicable[:, model.is_nps] = False
        not_applicable[:, model.keys == "overall_rating"] = False
        values = values.astype(np.int16)
        answer_blocks.append((ids, np.where(not_applicable, -1, values)))
        staff_group_id = group_ids[group_index]
        for response_id in ids.tolist():
            response_rows.append(
                (response_id, cycle_id, department_id, staff_group_id, instrument_id)
            )
        comment_count = int(rng.binomial(responded, 0.14))
        mood_mean = latent.mean(axis=1)
        for index in rng.choice(responded, size=comment_count, replace=False).tolist():
            pool = _comment_pool(story, group_index, progress, float(mood_mean[index]))
            comment_rows.append(
                {
                    "id": int(rng.integers(1, 2**63 - 1)),
                    "cycle_id": cycle_id,
                    "department_id": department_id,
                    "staff_group_id": staff_group_id,
                    "text": pool[int(rng.integers(len(pool)))],
                }
            )
    response_rows.sort()
    _bulk_insert(
        session,
        "response",
        ("id", "cycle_id", "department_id", "staff_group_id", "instrument_id"),
        response_rows,
    )
    all_ids = np.concatenate([ids for ids, _ in answer_blocks])
    all_values = np.concatenate([values for _, values in answer_blocks])
    order = np.argsort(all_ids, kind="stable")
    all_ids, all_values = all_ids[order], all_values[order]
    answers = len(all_ids) * len(item_ids)
    _bulk_answers(session, all_ids, item_ids, all_values)
    if comment_rows:
        session.execute(insert(Comment), comment_rows)
    return {"responses": len(response_rows), "answers": answers, "comments": len(comment_rows)}


def _comment_pool(story: str, group_index: int, progress: int, mood: float) -> tuple[str, ...]:
    if story == "Emergency" and progress >= 5 and group_index in (0, 1):
        return COMMENTS["ed_tension"]
    if story == "Intensive Care (ICU)" and progress >= 4:
        return COMMENTS["icu_better"]
    if group_index == 3 and mood < 0.9:
        return COMMENTS["admin_unheard"]
    return COMMENTS["positive"] if mood > 0.55 else COMMENTS["negative"]


def _bulk_insert(session: Session, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert many rows through the driver: executemany on SQLite, COPY on PostgreSQL."""
    if not rows:
        return
    connection = session.connection().connection.driver_connection
    assert connection is not None
    if session.get_bind().dialect.name == "sqlite":
        placeholders = ", ".join("?" for _ in columns)
        connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
        )
        return
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if value is None else str(value) for value in row))
        buffer.write("\n")
    _copy(connection, table, columns, buffer.getvalue())


def _copy(
    connection: psycopg.Connection[Any], table: str, columns: tuple[str, ...], payload: str
) -> None:
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        copy.write(payload)


def _bulk_answers(
    session: Session, response_ids: np.ndarray, item_ids: np.ndarray, values: np.ndarray
) -> None:
    """Answers for responses in id order; a value of -1 stands for "does not apply"."""
    columns = ("response_id", "item_id", "value")
    repeated_ids = np.repeat(response_ids, len(item_ids))
    tiled_items = np.tile(item_ids, len(response_ids))
    flat_values = values.reshape(-1)
    if session.get_bind().dialect.name == "sqlite":
        value_list: list[int | None] = [
            None if value < 0 else value for value in flat_values.tolist()
        ]
        _bulk_insert(
            session,
            "answer",
            columns,
            list(zip(repeated_ids.tolist(), tiled_items.tolist(), value_list, strict=True)),
        )
        return
    text_values = flat_values.astype(str).astype(object)
    text_values[flat_values < 0] = "\\N"
    lines = np.char.add(
        np.char.add(
            np.char.add(repeated_ids.astype(str), "\t"), np.char.add(tiled_items.astype(str), "\t")
        ),
        text_values.astype(str),
    )
    connection = session.connection().connection.driver_connection
    assert connection is not None
    _copy(connection, "answer", columns, "\n".join(lines.tolist()) + "\n")
