"""Action plans: what each department will do about its results, and whether it worked.

Managers see and change their own departments' plans, administrators every plan; that is
decided in surveys/actions, not here. Plan text is shown as plain text, never as Markdown.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import pandas as pd
import streamlit as st

from dashboard import auth, charts, filters, resources
from dashboard.auth import plain
from surveys.access.accounts import department_scope
from surveys.actions import plans
from surveys.actions.plans import (
    ACTIONS_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    ORGANISATION_WIDE,
    OWNER_MAX_LENGTH,
    STATUS_WORDS,
    TITLE_MAX_LENGTH,
    PlanDraft,
    PlanNotFound,
    PlanRecord,
    PlanStatus,
)
from surveys.clock import utc_now
from surveys.records import CycleState

# What the focus areas hand over (dashboard: the key drivers page) to start a plan from one.
PREFILL_KEY = "plan_prefill"
PLAN_PARAMETER = "plan"
WHOLE = -1  # the department choice that means the whole organisation
ADDRESSES = {
    "dimension": "A dimension",
    "relationship": "A relationship between staff groups",
    "nothing": "Nothing in particular",
}
VIEWS = {"list": "Plans", "new": "New plan", "overview": "Across the organisation"}

account = filters.signed_in_account()
scope = department_scope(account)
engine = resources.engine()
options = resources.filter_options(scope)
today = utc_now().date()
departments = {d.id: d.name for d in options.departments if not d.archived}
if account.is_admin:
    departments = {WHOLE: ORGANISATION_WIDE} | departments
dimensions = {dimension.key: dimension.label for dimension in options.dimensions}
groups = {group.id: group.name for group in options.staff_groups}
begun = [cycle for cycle in options.cycles if cycle.state != CycleState.draft]  # newest first
cycles = {cycle.id: cycle.name for cycle in begun}


def _due_words(plan: PlanRecord) -> str:
    if plan.overdue:
        return f"Overdue: was due {plan.due_on:%-d %b %Y}"
    return f"Due {plan.due_on:%-d %b %Y}"


BadgeColour = Literal["gray", "blue", "green"]
STATUS_COLOURS: dict[PlanStatus, BadgeColour] = {
    PlanStatus.planned: "gray",
    PlanStatus.in_progress: "blue",
    PlanStatus.done: "green",
    PlanStatus.dropped: "gray",
}


def _status_badge(plan: PlanRecord) -> None:
    """The status and the due date in words (an overdue plan says so, not only in colour)."""
    with st.container(horizontal=True, gap="small"):
        st.badge(plan.status_words, color=STATUS_COLOURS[plan.status])
        if plan.overdue:
            st.badge(_due_words(plan), icon=":material/schedule:", color="orange")
        else:
            st.caption(_due_words(plan))


def _open(plan_id: int | None) -> None:
    if plan_id is None:
        st.query_params.pop(PLAN_PARAMETER, None)
    else:
        st.query_params[PLAN_PARAMETER] = str(plan_id)


def _known(value: object, known: dict) -> bool:
    # Exact types: True equals 1 and a plain "planned" equals a status, but no widget sends them.
    return any(type(value) is type(option) and value == option for option in known)


def _forget_unknown(key: str, known: dict) -> None:
    # A value no option offers (a stale or tampered session) would end in Streamlit's error.
    if key not in st.session_state:
        return
    value = st.session_state[key]
    if not all(_known(v, known) for v in (value if isinstance(value, list) else [value])):
        del st.session_state[key]


def _forget_form(prefix: str) -> None:
    for key in [key for key in st.session_state if str(key).startswith(prefix)]:
        del st.session_state[key]


def _forget_later(prefix: str) -> None:
    """Empty a form at the start of the next run (a drawn widget's value cannot be reset)."""
    st.session_state["plans_forget"] = prefix


def _take_prefill() -> None:
    """Start the new-plan form from a focus area, once: its department, what it addresses,
    its title and why it was suggested (kept beside the form)."""
    prefill = st.session_state.pop(PREFILL_KEY, None)
    if not isinstance(prefill, dict):
        return
    department = prefill.get("department_id")
    if department in departments:
        st.session_state["plan_new_department"] = department
    if prefill.get("dimension_key") in dimensions:
        st.session_state["plan_new_addresses"] = "dimension"
        st.session_state["plan_new_dimension"] = prefill["dimension_key"]
    elif prefill.get("from_group") in groups and prefill.get("to_group") in groups:
        st.session_state["plan_new_addresses"] = "relationship"
        st.session_state["plan_new_from"] = prefill["from_group"]
        st.session_state["plan_new_to"] = prefill["to_group"]
    if isinstance(prefill.get("title"), str):
        st.session_state["plan_new_title"] = prefill["title"][:TITLE_MAX_LENGTH]
    reason = prefill.get("reason")
    st.session_state["plan_new_reason"] = reason if isinstance(reason, str) else ""
    st.session_state["plans_view"] = "new"
    _open(None)


def plan_form(prefix: str, start: PlanDraft | None, *, status: bool) -> tuple[PlanDraft, str]:
    """The plan's fields as widgets (keys start with `prefix`); returns the draft and the
    chosen status. Not an st.form: which fields show depends on what the plan addresses."""
    for key, known in (
        (f"{prefix}_department", departments),
        (f"{prefix}_dimension", dimensions),
        (f"{prefix}_from", groups),
        (f"{prefix}_to", groups),
        (f"{prefix}_cycle", cycles),
        (f"{prefix}_addresses", ADDRESSES),
        (f"{prefix}_status", STATUS_WORDS),
    ):
        _forget_unknown(key, known)
    if f"{prefix}_due" not in st.session_state:
        st.session_state[f"{prefix}_due"] = today + timedelta(days=90)
    if len(groups) > 1 and f"{prefix}_to" not in st.session_state:
        st.session_state[f"{prefix}_to"] = list(groups)[1]
    if start is not None and f"{prefix}_title" not in st.session_state:
        st.session_state[f"{prefix}_title"] = start.title
        st.session_state[f"{prefix}_actions"] = start.actions
        st.session_state[f"{prefix}_owner"] = start.owner
        st.session_state[f"{prefix}_show_owner"] = start.show_owner
        st.session_state[f"{prefix}_due"] = start.due_on
        department = WHOLE if start.department_id is None else start.department_id
        if department in departments:
            st.session_state[f"{prefix}_department"] = department
        if start.started_cycle_id in cycles:
            st.session_state[f"{prefix}_cycle"] = start.started_cycle_id
        if start.dimension_key in dimensions:
            st.session_state[f"{prefix}_addresses"] = "dimension"
            st.session_state[f"{prefix}_dimension"] = start.dimension_key
        elif start.from_group_id in groups and start.to_group_id in groups:
            st.session_state[f"{prefix}_addresses"] = "relationship"
            st.session_state[f"{prefix}_from"] = start.from_group_id
            st.session_state[f"{prefix}_to"] = start.to_group_id
        else:
            st.session_state[f"{prefix}_addresses"] = "nothing"

    title = st.text_input("Title", key=f"{prefix}_title", max_chars=TITLE_MAX_LENGTH)
    department = st.selectbox(
        "Department",
        options=list(departments),
        format_func=departments.__getitem__,
        key=f"{prefix}_department",
    )
    addresses = st.radio(
        "What it addresses",
        options=list(ADDRESSES),
        format_func=ADDRESSES.__getitem__,
        key=f"{prefix}_addresses",
        horizontal=True,
    )
    dimension_key = from_group = to_group = None
    if addresses == "dimension" and dimensions:
        dimension_key = st.selectbox(
            "Dimension",
            options=list(dimensions),
            format_func=dimensions.__getitem__,
            key=f"{prefix}_dimension",
        )
    elif addresses == "relationship" and groups:
        rating, rated = st.columns(2)
        from_group = rating.selectbox(
            "How this group", list(groups), format_func=groups.__getitem__, key=f"{prefix}_from"
        )
        to_group = rated.selectbox(
            "sees working with",
            list(groups),
            format_func=groups.__getitem__,
            key=f"{prefix}_to",
        )
    actions = st.text_area(
        "What will be done",
        key=f"{prefix}_actions",
        max_chars=ACTIONS_MAX_LENGTH,
        help="Plain text. Staff read this in the shared summary of results.",
    )
    owner = st.text_input(
        "Owner",
        key=f"{prefix}_owner",
        max_chars=OWNER_MAX_LENGTH,
        help="Who leads it: a name or a role. Free text.",
    )
    show_owner = st.checkbox(
        "Show the owner to staff in the shared summary", key=f"{prefix}_show_owner"
    )
    when, started = st.columns(2)
    due_on = when.date_input(
        "Due date",
        key=f"{prefix}_due",
        format="YYYY-MM-DD",
        min_value=date(2000, 1, 1),
    )
    started_cycle = started.selectbox(
        "Started after the results of",
        options=list(cycles),
        format_func=cycles.__getitem__,
        key=f"{prefix}_cycle",
        help="The cycle whose results the plan answers. Its figures are followed from there.",
    )
    chosen_status = PlanStatus.planned
    if status:
        chosen_status = st.selectbox(
            "Status",
            options=list(STATUS_WORDS),
            format_func=STATUS_WORDS.__getitem__,
            key=f"{prefix}_status",
        )
    draft = PlanDraft(
        title=title,
        actions=actions,
        due_on=due_on if isinstance(due_on, date) else today,
        department_id=None if department == WHOLE else department,
        dimension_key=dimension_key,
        from_group_id=from_group,
        to_group_id=to_group,
        owner=owner,
        show_owner=show_owner,
        started_cycle_id=started_cycle,
    )
    return draft, chosen_status


def plan_card(plan: PlanRecord) -> None:
    with st.container(border=True):
        st.markdown(f"**{plain(plan.title)}**")
        st.caption(
            plain(
                " · ".join(
                    part
                    for part in (plan.department, plan.addresses, f"Started {plan.started_cycle}")
                    if part
                )
            )
        )
        _status_badge(plan)
        if st.button(
            "Open", key=f"open_plan_{plan.id}", type="tertiary", icon=":material/open_in_new:"
        ):
            _open(plan.id)
            st.rerun()


def show_list() -> None:
    picked = st.container(horizontal=True, vertical_alignment="bottom")
    everything = {0: "All departments"} | departments
    _forget_unknown("plans_department", everything)
    department = picked.selectbox(
        "Department",
        options=list(everything),
        format_func=everything.__getitem__,
        key="plans_department",
        width=260,
    )
    statuses = picked.multiselect(
        "Status",
        options=list(STATUS_WORDS),
        format_func=STATUS_WORDS.__getitem__,
        key="plans_status",
        placeholder="Every status",
        width=360,
    )
    listed = plans.plans_visible_to(
        engine=engine,
        viewer=account,
        department_ids=None if department in (0, WHOLE) else [department],
        whole_organisation=None if department == 0 else department == WHOLE,
        statuses=[s for s in statuses if s in STATUS_WORDS] or None,
    )
    if not listed:
        st.info(
            "No plans here yet. Start one under New plan, from scratch or from a focus area.",
            icon=":material/info:",
        )
        return
    overdue = sum(plan.overdue for plan in listed)
    st.caption(
        f"{len(listed)} plan{'s' if len(listed) != 1 else ''}"
        + (f", {overdue} overdue (listed first)" if overdue else "")
        + "."
    )
    for plan in listed:
        plan_card(plan)


def show_new() -> None:
    if not departments:
        st.info("You have no departments to make plans for.", icon=":material/info:")
        return
    if not cycles:
        st.info("A plan starts from a cycle's results: open a survey cycle first.")
        return
    reason = st.session_state.get("plan_new_reason")
    if reason:
        st.caption("Suggested as a focus area because:")
        st.text(reason)
    draft, status = plan_form("plan_new", None, status=True)
    if st.button("Save plan", key="plan_new_save", type="primary"):
        auth.apply(
            lambda: plans.create_plan(engine=engine, viewer=account, draft=draft, status=status),
            success="Plan saved.",
            then=_after_create,
        )


def _after_create(plan_id: object) -> None:
    _forget_later("plan_new_")
    if isinstance(plan_id, int):
        _open(plan_id)


def show_plan(plan_id: int) -> None:
    if st.button("All plans", key="plans_back", icon=":material/arrow_back:", type="tertiary"):
        _open(None)
        st.rerun()
    try:
        plan = plans.plan(engine=engine, viewer=account, plan_id=plan_id)
    except PlanNotFound:
        st.warning(
            "There is no such plan among the plans you can see.", icon=":material/search_off:"
        )
        return
    st.header(plain(plan.title), anchor=False)
    _status_badge(plan)
    facts = {
        "Department": plan.department,
        "Addresses": plan.addresses or "Nothing in particular",
        "Started after": plan.started_cycle,
        "Owner": (plan.owner or "Not named")
        + (" (shown to staff)" if plan.owner_for_staff else " (not shown to staff)"),
        "Made by": f"{plan.created_by} on {plan.created_on:%-d %b %Y}",
    }
    for label, value in facts.items():
        with st.container(horizontal=True, gap="small"):
            st.caption(f"{label}:", width=110)
            st.text(value)
    st.subheader("What will be done", anchor=False)
    st.text(plan.actions)

    st.subheader("Has it worked?", anchor=False)
    progress = resources.plan_progress(scope, plan)
    if progress is None:
        st.caption(
            "This plan addresses no dimension or relationship, so there is no figure to follow."
        )
    else:
        st.text(progress.verdict)
        if any(not point.figure.suppressed for point in progress.points):
            resources.chart(
                charts.plan_progress_chart,
                resources.plan_progress_asked(scope, plan),
                alt=f"{progress.measure}, percent favourable, in {progress.where}, in every "
                f"cycle since {plan.started_cycle}.",
                compact=filters.on_a_phone(),
            )
        st.dataframe(
            pd.DataFrame(
                {
                    "Cycle": [point.cycle for point in progress.points],
                    "% favourable": [
                        None if point.figure.suppressed else round(point.figure.value or 0)
                        for point in progress.points
                    ],
                    "Responses": [
                        None if point.figure.suppressed else point.figure.n
                        for point in progress.points
                    ],
                    "Note": [point.figure.note for point in progress.points],
                }
            ),
            hide_index=True,
            width="content",
        )
        st.caption(
            f"{progress.where}. The first cycle is the one the plan started from. A figure is "
            "left out where too few responses stand behind it. Results of an open cycle are "
            "those released so far."
        )

    st.subheader("Progress notes", anchor=False)
    for note in plan.notes:
        with st.container(border=True):
            st.caption(f"{note.written_on:%-d %b %Y} · {plain(note.author)}")
            st.text(note.text)
    if not plan.notes:
        st.caption("No progress notes yet.")
    with st.form(f"plan_note_form_{plan.id}", clear_on_submit=True, border=False):
        note_text = st.text_area(
            "Add a progress note", key="plan_note_text", max_chars=NOTE_MAX_LENGTH
        )
        written_on = st.date_input(
            "Dated", value=today, max_value=today, key="plan_note_date", format="YYYY-MM-DD"
        )
        if st.form_submit_button("Add note", key="plan_note_save"):
            auth.apply(
                lambda: plans.add_progress_note(
                    engine=engine,
                    viewer=account,
                    plan_id=plan.id,
                    note=note_text,
                    written_on=written_on if isinstance(written_on, date) else None,
                ),
                success="Note added.",
            )

    st.subheader("Status", anchor=False)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        status = st.selectbox(
            "Status",
            options=list(STATUS_WORDS),
            index=list(STATUS_WORDS).index(plan.status),
            format_func=STATUS_WORDS.__getitem__,
            key=f"plan_status_{plan.id}",
            width=200,
        )
        if st.button("Save status", key="plan_status_save"):
            auth.apply(
                lambda: plans.set_status(
                    engine=engine, viewer=account, plan_id=plan.id, status=status
                ),
                success=f"Status saved: {STATUS_WORDS[status].lower()}.",
            )

    with st.expander("Change this plan"):
        prefix = f"plan_edit_{plan.id}"
        draft, _ = plan_form(prefix, plan.as_draft(), status=False)
        if st.button("Save changes", key="plan_edit_save", type="primary"):
            auth.apply(
                lambda: plans.update_plan(
                    engine=engine, viewer=account, plan_id=plan.id, draft=draft
                ),
                success="Plan saved.",
                then=lambda _: _forget_later(prefix),
            )


def show_overview() -> None:
    overview = plans.plan_overview(engine=engine, viewer=account)
    if not overview.total:
        st.info("No action plans yet.", icon=":material/info:")
        return
    counts = dict(overview.by_status)
    with st.container(horizontal=True):
        st.metric("Plans", overview.total, border=True)
        st.metric("Overdue", len(overview.overdue), border=True)
        for status in (PlanStatus.in_progress, PlanStatus.planned, PlanStatus.done):
            st.metric(STATUS_WORDS[status], counts[status], border=True)
    st.subheader("By department", anchor=False)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Department": row.department,
                    **{STATUS_WORDS[status]: count for status, count in row.by_status},
                    "Overdue": row.overdue,
                    "All plans": row.total,
                }
                for row in overview.by_department
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    st.subheader("Overdue", anchor=False)
    if not overview.overdue:
        st.caption("No plan is overdue.")
    for plan in overview.overdue:
        plan_card(plan)


st.title("Action plans")
auth.show_flash()
if "plans_forget" in st.session_state:
    _forget_form(str(st.session_state.pop("plans_forget")))
_take_prefill()
views = dict(VIEWS) if account.is_admin else {k: v for k, v in VIEWS.items() if k != "overview"}
_forget_unknown("plans_view", views)
raw = st.query_params.get(PLAN_PARAMETER)
opened = int(raw) if raw is not None and raw.isdecimal() and len(raw) < 12 else None
if opened is not None:
    show_plan(opened)
    st.stop()
view = st.segmented_control(
    "Show",
    options=list(views),
    format_func=views.__getitem__,
    default="list",
    required=True,
    key="plans_view",
    label_visibility="collapsed",
)
if view == "new":
    show_new()
elif view == "overview":
    show_overview()
else:
    show_list()
