"""Administration: survey cycles, created, opened and closed."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboard import auth, resources
from surveys.invitations import delivery
from surveys.organisation import cycles as cycle_actions
from surveys.organisation import schedule
from surveys.records import CycleState

account = auth.require_admin()

st.title("Manage cycles")
st.caption(
    "A cycle is one round of the survey. Make links for it on the Invitations page while it "
    "is a draft or open; links work only while it is open."
)
auth.show_flash()

engine = resources.engine()
cycles = cycle_actions.list_cycles(engine=engine)
for first, second in cycle_actions.overlapping_open_cycles(cycles):
    st.warning(
        f"{first.name} and {second.name} are both open and their dates overlap "
        f"({second.opens:%-d %b %Y} to {min(first.closes, second.closes):%-d %b %Y}). Staff "
        "may be asked twice, and each cycle's results hold only part of the answers. Close "
        "one of them unless this is meant.",
        icon=":material/warning:",
    )

if cycles:
    st.dataframe(
        pd.DataFrame(
            {
                "Cycle": [cycle.name for cycle in cycles],
                "Status": [cycle.state.title() for cycle in cycles],
                "Opens": [cycle.opens for cycle in cycles],
                "Closes": [cycle.closes for cycle in cycles],
            }
        ).iloc[::-1],
        hide_index=True,
        width="stretch",
        column_config={
            "Opens": st.column_config.DateColumn(format="D MMM YYYY"),
            "Closes": st.column_config.DateColumn(format="D MMM YYYY"),
        },
    )
else:
    st.info("No survey cycles yet: create the first one below.", icon=":material/info:")

new, change = st.columns(2, gap="large")

with new:
    st.subheader("New cycle")
    with st.form("new_cycle_form", clear_on_submit=True):
        name = st.text_input("Name", key="new_cycle_name", placeholder="e.g. 2027 Q1")
        today = date.today()
        opens = st.date_input("Opens", value=today, key="new_cycle_opens", format="YYYY-MM-DD")
        closes = st.date_input(
            "Closes", value=today + timedelta(weeks=6), key="new_cycle_closes", format="YYYY-MM-DD"
        )
        if st.form_submit_button("Create cycle", key="new_cycle_submit", type="primary"):
            auth.apply(
                lambda: cycle_actions.create_cycle(
                    engine=engine, name=name, opens=opens, closes=closes, actor=account.username
                ),
                success="Cycle created as a draft. Open it when staff should start answering.",
            )

with change:
    st.subheader("Open or close")
    if cycles:
        by_id = {cycle.id: cycle for cycle in cycles}
        chosen = st.selectbox(
            "Cycle",
            options=[cycle.id for cycle in reversed(cycles)],
            format_func=lambda cycle_id: by_id[cycle_id].name,
            key="cycle_state_choice",
        )
        state = CycleState(by_id[chosen].state)
        st.caption(f"Status: {state.value}")
        with st.container(horizontal=True):
            if st.button(
                "Reopen cycle" if state is CycleState.closed else "Open cycle",
                key="cycle_open",
                type="primary",
                icon=":material/play_arrow:",
                disabled=state is CycleState.open,
            ):
                auth.apply(
                    lambda: cycle_actions.change_cycle_state(
                        engine=engine, cycle_id=chosen, action="open", actor=account.username
                    ),
                    success="Cycle opened: its links now work.",
                )
            if st.button(
                "Close cycle",
                key="cycle_close",
                icon=":material/stop:",
                disabled=state is not CycleState.open,
            ):
                auth.apply(
                    lambda: cycle_actions.change_cycle_state(
                        engine=engine, cycle_id=chosen, action="close", actor=account.username
                    ),
                    success="Cycle closed: its links no longer accept answers.",
                )
    else:
        st.caption("Create a cycle first.")

st.divider()
st.subheader("Schedule, message and emails")
st.caption(
    "A cycle with a schedule opens at the start of its opening day, sends its invitations and "
    "reminders, and closes at the end of its closing day by itself (the job runner, "
    "`attune run-due`, does this). Staff to invite by email are added on Invitations "
    "(Emailed by Attune) or with `attune roster import`. Only counts are shown here: never "
    "who has or has not answered."
)
if not cycles:
    st.caption("Create a cycle first.")
    st.stop()

schedule_by_id = {cycle.id: cycle for cycle in cycles}
scheduled_id = st.selectbox(
    "Cycle to schedule",
    options=[cycle.id for cycle in reversed(cycles)],
    format_func=lambda cycle_id: schedule_by_id[cycle_id].name,
    key="schedule_cycle",
)
plan = schedule.get_schedule(engine=engine, cycle_id=scheduled_id)
if not plan.automatic:
    st.caption("No schedule yet: this cycle is opened and closed by hand until one is saved.")

with st.form("schedule_form"):
    invite_on = st.date_input(
        "Invitations go out on",
        value=plan.invite_on,
        min_value=plan.opens,
        max_value=plan.closes,
        format="YYYY-MM-DD",
        key="schedule_invite_on",
    )
    reminder_text = st.text_input(
        "Reminders, in days after opening",
        value=",".join(str(day) for day in plan.reminder_days) if plan.automatic else "3,7",
        help="Comma-separated, e.g. 3,7. Leave empty for no reminders.",
        key="schedule_reminders",
    )
    subject = st.text_input(
        "Subject",
        value=plan.subject,
        placeholder=delivery.default_subject(plan.cycle, reminder=False),
        max_chars=delivery.SUBJECT_MAX_LENGTH,
        key="schedule_subject",
    )
    intro = st.text_area(
        "Introduction (plain text; a blank line starts a new paragraph)",
        value=plan.intro,
        max_chars=delivery.INTRO_MAX_LENGTH,
        key="schedule_intro",
    )
    if st.form_submit_button("Save schedule and message", key="schedule_save", type="primary"):
        auth.apply(
            lambda: schedule.set_schedule(
                engine=engine,
                cycle_id=scheduled_id,
                actor=account.username,
                invite_on=invite_on if isinstance(invite_on, date) else None,
                reminder_days=schedule.parse_reminder_days(reminder_text),
                subject=subject,
                intro=intro,
            ),
            success="Schedule and message saved.",
        )

with st.expander("Preview of the invitation", expanded=False):
    try:
        preview = delivery.render(
            cycle=plan.cycle,
            closes=plan.closes,
            subject=plan.subject,
            intro=plan.intro,
            link="(each person's own link)",
            reminder=False,
            shared=resources.previous_summary(scheduled_id),
        )
    except ValueError as error:
        st.error(auth.plain(error), icon=":material/error:")
    else:
        st.text(f"Subject: {preview.subject}")
        st.text(preview.text)

test_to = st.text_input(
    "Your email address, for a test",
    value=account.username if "@" in account.username else "",
    key="schedule_test_to",
)
if st.button("Send a test email to me", key="schedule_test_send", icon=":material/send:"):
    try:
        delivery.send_test_email(
            engine=engine, cycle_id=scheduled_id, to=test_to, actor=account.username
        )
    except (ValueError, delivery.MailNotConfigured, delivery.MailError) as error:
        st.error(f"No test email sent: {auth.plain(error)}", icon=":material/error:")
    else:
        st.success(f"Test email sent to {auth.plain(test_to)}.", icon=":material/check_circle:")

counts = schedule.delivery_counts(engine=engine, cycle_id=scheduled_id)
with st.container(horizontal=True):
    st.metric("Addresses", f"{counts.addresses:,}", width="content")
    st.metric("Invitations sent", f"{counts.sent:,}", width="content")
    st.metric("Waiting", f"{counts.waiting:,}", width="content")
    st.metric("Failing, to be retried", f"{counts.failing:,}", width="content")
    st.metric("Reminders sent", f"{counts.reminders_sent:,}", width="content")
if counts.reasons:
    st.dataframe(
        pd.DataFrame(
            {
                "Why it failed": [reason for reason, _ in counts.reasons],
                "Addresses": [number for _, number in counts.reasons],
            }
        ),
        hide_index=True,
        width="stretch",
        key="schedule_failures",
    )
problem = delivery.mail_problem()
if problem and counts.addresses:
    st.warning(f"Nothing can be sent yet: {problem}.", icon=":material/warning:")
