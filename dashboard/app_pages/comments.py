"""Comments: free text from groups large enough to keep it anonymous, as plain text."""

from __future__ import annotations

import streamlit as st

from dashboard import filters, resources

PAGE_SIZE = 50
ORDER_KEY = "comments_order"

st.title("Comments")
selection = filters.filter_bar()
result = resources.comments(selection)
if result.suppressed:
    filters.nothing_to_show(selection, comments=True)
if not result.texts:
    st.info(
        f"Nobody in this selection wrote a comment in {selection.cycle_name}.",
        icon=":material/info:",
    )
    st.stop()

# In the random order surveys.reporting gave them; "Show more" pages through that order, and
# a new selection starts again from the first page.
texts = result.texts
paging = st.session_state.get(ORDER_KEY)
if paging is None or paging[0] != texts:
    paging = st.session_state[ORDER_KEY] = (texts, PAGE_SIZE)
_, shown = paging


def _show_more() -> None:
    texts, shown = st.session_state[ORDER_KEY]
    st.session_state[ORDER_KEY] = (texts, shown + PAGE_SIZE)


st.caption(
    f"{len(texts):,} comments, in random order, without dates"
    + (f"; the first {min(shown, len(texts)):,} are shown." if len(texts) > shown else ".")
)
with st.container(height=560):
    for text in texts[:shown]:
        with st.container(border=True):
            st.text(text)
if len(texts) > shown:
    st.button(
        f"Show {min(PAGE_SIZE, len(texts) - shown):,} more",
        on_click=_show_more,
        icon=":material/expand_more:",
        type="tertiary",
    )
filters.download(
    "Download the comments (CSV)",
    result,
    f"attune-comments-{selection.cycle_name}.csv",
)
