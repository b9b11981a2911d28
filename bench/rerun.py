"""What a click on a results page costs once its figures are cached: each page run through
Streamlit's AppTest, signed in as the demo administrator, first cold and then again warm.

The warm rerun includes everything Streamlit does for the page (the script, the session
check, the cache lookups and sending again the charts drawn on the first run), but not the
network. The heatmap is measured twice: as it opens, and with a row for every department
(560 at system scale, where it opens with a row per division).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from dashboard import auth
from surveys.access.tickets import issue_ticket
from surveys.config import get_settings
from surveys.models import Account
from surveys.storage import make_engine, read_session

PAGES = Path(__file__).resolve().parent.parent / "dashboard" / "app_pages"
# name -> (page file, widget state set before the first run)
RESULTS_PAGES: dict[str, tuple[str, dict[str, object]]] = {
    "overview": ("overview", {}),
    "trends": ("trends", {}),
    "heatmap": ("heatmap", {}),
    "heatmap, every department": ("heatmap", {"heatmap_rows": "department"}),
    "relationships": ("relationships", {}),
    "items": ("items", {}),
    "comments": ("comments", {}),
}
ADMIN = "admin"  # made by `attune demo`


def page_reruns(url: str, *, repeats: int = 5) -> dict[str, float]:
    """Median seconds of a warm rerun of each results page on the database at `url`."""
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    engine = make_engine(url)
    try:
        with read_session(engine) as session:
            account = session.scalars(select(Account.id).where(Account.username == ADMIN)).one()
            ticket = issue_ticket(account)
        seconds = {}
        for page, (script, state) in RESULTS_PAGES.items():
            at = AppTest.from_file(str(PAGES / f"{script}.py"), default_timeout=900)
            at.session_state[auth.SESSION_KEY] = ticket
            for key, value in state.items():
                at.session_state[key] = value
            at.run()  # cold: computes and caches the figures
            if at.exception:
                raise RuntimeError(f"{page}: {at.exception[0].message}")
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                at.run()
                times.append(time.perf_counter() - started)
                if at.exception:
                    raise RuntimeError(f"{page}: {at.exception[0].message}")
            seconds[page] = statistics.median(times)
        return seconds
    finally:
        engine.dispose()
        st.cache_data.clear()
        st.cache_resource.clear()
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        get_settings.cache_clear()
