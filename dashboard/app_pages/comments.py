"""Comments: free text from groups large enough to keep it anonymous, as plain text."""

from __future__ import annotations

import random

import streamlit as st

from dashboard import filters, resources

PAGE_SIZE = 50
ORDER_KEY = "comments_order"

st.title("Comments")
selection = filters.filter_bar()
result = resources.report("comments", **selection.arguments())
if result.suppressed:
    st.info(
        result.note
        or f"Comments are shown only for groups of at least {result.minimum} responses.",
        icon=":material/lock:",
    )
    st.stop()
if not result.texts:
    st.info("No comments for this selection.", icon=":material/info:")
    st.stop()

# A fresh random order for each selection, kept while "Show more" pages through it; the order
# the reporting layer returned (already shuffled) is not the one shown either.
texts = result.texts
order = st.session_state.get(ORDER_KEY)
if order is None or order[0] != texts:
    indexes = random.SystemRandom().sample(range(len(texts)), len(texts))
    order = st.session_state[ORDER_KEY] = (texts, indexes, PAGE_SIZE)
_, indexes, shown = order


def _show_more() -> None:
    texts, indexes, shown = st.session_state[ORDER_KEY]
    st.session_state[ORDER_KEY] = (texts, indexes, shown + PAGE_SIZE)


st.caption(
    f"{len(texts):,} comments, in random order, without dates"
    + (f"; the first {min(shown, len(texts)):,} are shown." if len(texts) > shown else ".")
)
with st.container(height=560):
    for index in indexes[:shown]:
        with st.container(border=True):
            st.text(texts[index])
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
