"""Shared, cached resources for the pages: one engine per database URL, cached queries."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pydantic import ValidationError
from sqlalchemy import Engine

from surveys import reporting
from surveys.config import get_settings
from surveys.storage import DatabaseUnavailable, check_connection, make_engine, schema_is_current

# How long a query result may be reused before the data version is checked again; a new
# response therefore shows within this many seconds.
DATA_VERSION_TTL_SECONDS = 30


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    return _engine_for(get_settings().database_url)


def database_problem() -> str | None:
    """A plain explanation of why the app cannot show data, or None when all is well."""
    try:
        current = engine()
        check_connection(current)
    except ValidationError as error:
        first = error.errors()[0]
        return f"The configuration is invalid: {'.'.join(map(str, first['loc']))}: {first['msg']}"
    except DatabaseUnavailable as error:
        return f"{error}. Check DATABASE_URL and that the database server is running."
    if not schema_is_current(current):
        return "The database schema is not up to date. Run `attune db upgrade` (or `make run`)."
    return None


@st.cache_data(ttl=DATA_VERSION_TTL_SECONDS, show_spinner=False)
def data_version(url: str) -> int:
    return reporting.data_version(_engine_for(url))


@st.cache_data(ttl=600, show_spinner=False)
def _cycle_table(url: str, version: int, minimum: int) -> pd.DataFrame:
    del version, minimum  # part of the cache key only
    rows = reporting.cycle_summaries(_engine_for(url))
    return pd.DataFrame([row.__dict__ for row in rows])


def cycle_table() -> pd.DataFrame:
    settings = get_settings()
    url = settings.database_url
    return _cycle_table(url, data_version(url), settings.min_group_size)
