"""Results shared back with staff ("you said, we did"), reached only through a share link.

No sign-in: the link's token is the access, and it opens one cycle's staff summary and
nothing else. A wrong or revoked link shows one neutral sentence that names nothing.
"""

from __future__ import annotations

import streamlit as st

from dashboard import PAGE_ICON, resources, shared_view
from surveys.actions.sharing import NOT_SHARED, SHARE_PARAMETER

st.set_page_config(page_title="You said, we did · Attune", page_icon=PAGE_ICON, layout="centered")

summary = resources.shared_summary(st.query_params.get(SHARE_PARAMETER, ""))
if summary is None:
    st.title("Staff survey results", anchor=False)
    st.info(NOT_SHARED, icon=":material/link_off:")
    st.stop()
shared_view.render(summary)
