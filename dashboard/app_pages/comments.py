"""Comments: free text from groups large enough to keep it anonymous, as plain text."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, filters, resources
from surveys.reporting.comments import NOT_ANALYSED
from surveys.text import escape_all_markdown

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

# Themes: only those of at least the comment minimum are counted (surveys.reporting.themes).
if result.themes_counted:
    st.subheader("Themes")
    st.dataframe(
        {
            "Theme": [count.theme for count in result.themes_counted],
            "Comments": [count.count for count in result.themes_counted],
            "Negative": [f"{count.share_negative:.0%}" for count in result.themes_counted],
        },
        hide_index=True,
        width="content",
    )
    st.caption(
        f"Each theme is counted when at least {result.minimum} comments share it; smaller "
        "themes are counted together as “other”. Themes and tones are computed on this server."
    )
    history = resources.theme_trends(selection)
    if history["cycle_id"].nunique() > 1:
        with st.expander("Themes across cycles"):
            resources.chart(
                charts.theme_trend_chart,
                resources.theme_trends_asked(selection),
                alt="Comments per theme in each cycle, up to the one chosen.",
            )
if result.not_analysed:
    many = result.not_analysed != 1
    st.caption(
        f"{result.not_analysed:,} {'comments have' if many else 'comment has'} no theme yet; "
        f"the job runner gives {'them one' if many else 'it one'} at its next run."
    )
# A theme picker only when there are themes to pick.
theme = (
    st.selectbox(
        "Theme",
        [count.theme for count in result.themes_counted],
        index=None,
        placeholder="All themes",
        key="comments_theme",
        width=420,
    )
    if result.themes_counted
    else None
)
search = st.text_input(
    "Search the comments",
    placeholder="For example: handover",
    key="comments_search",
    width=420,
    max_chars=200,
)
found = result.about(theme).matching(search)
if search.strip() and not found.texts:
    st.info(f"No comment in this selection mentions “{search.strip()}”.", icon=":material/search:")
    st.stop()

# In the random order surveys.reporting gave them; "Show more" pages through that order, and
# a new selection or search starts again from the first page.
texts = found.texts
paging = st.session_state.get(ORDER_KEY)
if paging is None or paging[0] != texts:
    paging = st.session_state[ORDER_KEY] = (texts, PAGE_SIZE)
_, shown = paging


def _show_more() -> None:
    texts, shown = st.session_state[ORDER_KEY]
    st.session_state[ORDER_KEY] = (texts, shown + PAGE_SIZE)


counted = (
    f"{len(texts):,} of {len(result.texts):,} comments mention “{search.strip()}”"
    if search.strip()
    else f"{len(texts):,} comments"
) + (f" about {theme}" if theme else "")
st.caption(
    f"{counted}, in random order, without dates"
    + (f"; the first {min(shown, len(texts)):,} are shown." if len(texts) > shown else ".")
)
# In the page's own flow: one scroll bar, not a box that scrolls inside the scrolling page.
tones = dict(zip(found.texts, found.tones, strict=False))
themes = dict(zip(found.texts, found.themes, strict=False))
for text in texts[:shown]:
    with st.container(border=True):
        st.text(text)
        # Nothing under a comment not analysed yet: the line above the list says how many.
        if themes.get(text, NOT_ANALYSED) != NOT_ANALYSED:
            # Escaped, so that it reads as written whatever a codebook's theme name holds.
            st.caption(escape_all_markdown(f"Theme: {themes[text]} · Tone: {tones[text]}"))
if len(texts) > shown:
    st.button(
        f"Show {min(PAGE_SIZE, len(texts) - shown):,} more",
        on_click=_show_more,
        icon=":material/expand_more:",
        type="tertiary",
    )
filters.download(
    "Download these comments (CSV)" if search.strip() or theme else "Download the comments (CSV)",
    found,
    f"attune-comments-{selection.cycle_name}.csv",
)
