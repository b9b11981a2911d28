"""Administration: the comment codebook's example phrases, shipped and added."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, resources
from surveys import codebook
from surveys.reporting.themes import CODEBOOK

account = auth.require_admin()
actor = account.username

st.title("Comment themes")
st.caption(
    "Each comment gets the theme of the codebook it fits best. A model learns each theme from "
    "labelled staff comments and from these example phrases. Add phrases in the words your "
    "staff use; they count once comments are analysed again (`attune comments analyse --all`)."
)
auth.show_flash()

engine = resources.engine()
added = codebook.list_added_phrases(engine=engine)
st.dataframe(
    pd.DataFrame(
        {
            "Theme": [code for code in CODEBOOK for _ in CODEBOOK[code]]
            + [row.code for row in added],
            "Phrase": [phrase for code in CODEBOOK for phrase in CODEBOOK[code]]
            + [row.phrase for row in added],
            "From": ["Shipped"] * sum(len(phrases) for phrases in CODEBOOK.values())
            + ["Added"] * len(added),
        }
    ),
    hide_index=True,
    width="stretch",
)

add, remove = st.columns(2, gap="large")
add.subheader("Add a phrase")
with add, st.form("new_phrase_form", clear_on_submit=True):
    code = st.selectbox("Theme", options=list(CODEBOOK), key="new_phrase_code")
    phrase = st.text_input(
        "Phrase",
        key="new_phrase_text",
        max_chars=codebook.PHRASE_MAX_LENGTH,
        placeholder="e.g. the bed managers never ring back",
    )
    if st.form_submit_button("Add phrase", key="new_phrase_submit", type="primary"):
        auth.apply(
            lambda: codebook.add_codebook_phrase(
                engine=engine, code=code, phrase=phrase, actor=actor
            ),
            success="Phrase added. Run `attune comments analyse --all` to apply it.",
        )

with remove:
    st.subheader("Remove an added phrase")
    if not added:
        st.caption("No phrases added yet; the shipped ones cannot be removed.")
    else:
        by_id = {row.id: row for row in added}
        chosen = st.selectbox(
            "Phrase",
            options=list(by_id),
            format_func=lambda phrase_id: f"{by_id[phrase_id].code}: {by_id[phrase_id].phrase}",
            key="remove_phrase",
        )
        if st.button("Remove phrase", key="remove_phrase_submit"):
            auth.apply(
                lambda: codebook.remove_codebook_phrase(
                    engine=engine, phrase_id=chosen, actor=actor
                ),
                success="Phrase removed. Run `attune comments analyse --all` to apply it.",
            )
