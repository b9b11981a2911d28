"""Entry point: page config and routing only."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="Attune", page_icon=":material/diversity_3:", layout="wide")

navigation = st.navigation(
    [
        st.Page(
            PAGES / "cycles.py",
            title="Survey cycles",
            icon=":material/event_note:",
            url_path="cycles",
            default=True,
        ),
    ]
)
navigation.run()
