"""Administration: the audit log of administrative actions, newest first."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, resources
from surveys import audit
from surveys.organisation import schedule

SHOWN = 500

auth.require_admin()

st.title("Audit log")
st.caption(
    "Who changed what, and when: sign-ins, accounts, the organisation, cycles and links made. "
    "It never holds survey answers, links or email addresses."
)

# In the order of the words shown, not of the codes behind them.
actions = sorted(audit.list_actions(engine=resources.engine()), key=audit.describe)
with st.container(horizontal=True):
    action = st.selectbox(
        "Action",
        options=actions,
        index=None,
        format_func=audit.describe,
        placeholder="All actions",
        key="audit_action",
    )
    actor = st.text_input("Who", key="audit_actor", placeholder="Any username")
events = audit.list_events(
    engine=resources.engine(), limit=SHOWN, actor=actor.strip().lower() or None, action=action
)

if not events:
    st.info("Nothing recorded yet.", icon=":material/info:")
    st.stop()

# The organisation's zone (ATTUNE_TIME_ZONE), the one its cycles open and close in, rather
# than each viewer's browser: two administrators comparing notes see the same times.
zone = schedule.zone()
# Above the table: the table's toolbar shows over its top edge, where it covered "Who".
st.caption(
    f"Times in {zone.key}."
    + (f" The newest {SHOWN} events are shown." if len(events) == SHOWN else "")
)
st.dataframe(
    pd.DataFrame(
        {
            "When": [event.at.astimezone(zone).replace(tzinfo=None) for event in events],
            "Who": [event.actor for event in events],
            "Action": [audit.describe(event.action) for event in events],
            "Detail": [event.detail for event in events],
        }
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "When": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm:ss"),
        "Detail": st.column_config.TextColumn(width="large"),
    },
)
