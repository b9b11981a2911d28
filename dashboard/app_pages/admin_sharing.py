"""Administration: a cycle's results shared back with staff ("you said, we did").

A page of its own rather than a corner of Manage cycles: publishing is about results, not a
cycle's dates, and the page needs room for the link itself and what it means to hand it out.
"""

from __future__ import annotations

import streamlit as st

from dashboard import auth, posters, resources
from surveys.actions import sharing
from surveys.organisation import cycles as cycle_actions
from surveys.records import CycleState

# The link just made in this session, by cycle: a link that cannot be rebuilt (no
# ATTUNE_LINK_SECRET) is shown only here, once.
MADE = "share_made_link"

account = auth.require_admin()

st.title("Share results")
st.caption(
    "Publish a closed cycle's summary for staff: the organisation's figures, each department's "
    "where enough people answered, and every action plan (its title, what will be done and "
    "its status; the owner only where the plan's author chose to show it). Anyone with the "
    "link can read it without signing in, and nothing else. Figures follow the same minimum "
    "group size as every results page."
)
auth.show_flash()

engine = resources.engine()
cycles = list(reversed(cycle_actions.list_cycles(engine=engine)))
if not cycles:
    st.info("No survey cycles yet.", icon=":material/info:")
    st.stop()
by_id = {cycle.id: cycle for cycle in cycles}
closed = [cycle.id for cycle in cycles if cycle.state == CycleState.closed]
chosen = st.selectbox(
    "Cycle",
    options=list(by_id),
    index=list(by_id).index(closed[0]) if closed else 0,
    format_func=lambda cycle_id: f"{by_id[cycle_id].name} ({by_id[cycle_id].state})",
    key="share_cycle",
)
cycle = by_id[chosen]
live = sharing.shared_link(engine=engine, cycle_id=chosen)
made = st.session_state.get(MADE)
url = live.url if live else None
if live is not None and url is None and made and made[0] == chosen:
    url = made[1]


def publish() -> str:
    link = sharing.publish_summary(engine=engine, cycle_id=chosen, actor=account.username)
    st.session_state[MADE] = (chosen, link)
    return link


def revoke() -> None:
    sharing.revoke_summary(engine=engine, cycle_id=chosen, actor=account.username)
    st.session_state.pop(MADE, None)


if live is None:
    st.markdown(
        f"**{auth.plain(cycle.name)}: not shared.** Staff see nothing of it until you publish."
    )
    if cycle.state != CycleState.closed:
        st.caption("A summary can be published once the cycle has closed.")
else:
    st.markdown(
        f"**{auth.plain(cycle.name)}: shared** since {live.published_at:%-d %b %Y}, "
        f"by {auth.plain(live.published_by)}."
    )
    if url:
        st.code(url, language=None, wrap_lines=True)
        st.link_button("Open the summary", url, icon=":material/open_in_new:")
        posters.qr_poster(
            url,
            what="the summary's link",
            file_name="attune-results-summary-qr.png",
            key="share_qr",
            width=200,
        )
        st.caption(
            "Send this link to staff or put it on the intranet. The next cycle's thank-you "
            "page and invitation emails link to it too."
            if live.url
            else "Copy it now: it is shown only this once (set ATTUNE_LINK_SECRET to be able "
            "to see it again and to link it from the next cycle's thank-you page and emails)."
        )
    else:
        st.caption(
            "The link was shown once, when it was published. To hand out a link again, "
            "revoke this one and publish a new one: the old link then opens nothing."
        )

with st.container(horizontal=True):
    if st.button(
        "Publish summary",
        key="share_publish",
        type="primary",
        icon=":material/campaign:",
        disabled=live is not None or cycle.state != CycleState.closed,
    ):
        auth.apply(publish, success="Summary published: copy the link below.")
    if st.button(
        "Revoke link",
        key="share_revoke",
        icon=":material/link_off:",
        disabled=live is None,
    ):
        auth.apply(revoke, success="Link revoked: it opens nothing any more.")
