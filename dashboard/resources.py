"""Shared, cached resources for the pages: one engine per database URL, cached queries."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd
import plotly.graph_objects as go
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


def _frozen(value: object) -> object:
    # Cache keys need hashable, stable values; frozensets travel as sorted tuples.
    return ("frozenset", tuple(sorted(value))) if isinstance(value, frozenset) else value


def _thawed(value: object) -> object:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "frozenset":
        return frozenset(value[1])
    return value


# Reports that are frozen dataclasses all the way down (tuples, named tuples, strings and
# numbers): one cached object can be handed to every session, as nothing can change it.
# Unpickling a fresh copy on every click (st.cache_data) cost 30 ms for a heatmap of 560
# departments. DataFrames are mutable, so they are still copied for each caller.
SHARED_REPORTS = (
    "comments",  # in a random order; the page shows them in another, fresh for each view
    "filter_options",
    "overview",
    "heatmap",
    "relationships",
)
COPIED_REPORTS = ("trends", "relationship_trends", "item_distributions")


def _compute(name: str, url: str, version: int, thresholds: tuple[int, int], key: tuple) -> object:
    del version, thresholds  # part of the cache key only
    if name not in SHARED_REPORTS + COPIED_REPORTS:
        raise ValueError(f"{name} is not a cached report")
    arguments = {argument: _thawed(value) for argument, value in key}
    return getattr(reporting, name)(_engine_for(url), **arguments)


# The same computation behind two caches: one hands out the object, one a copy of it.
_CACHING = {"ttl": 600, "show_spinner": "Calculating...", "max_entries": 512}
_shared_report = st.cache_resource(**_CACHING)(_compute)
_copied_report = st.cache_data(**_CACHING)(_compute)


def _report(name: str, url: str, version: int, thresholds: tuple[int, int], key: tuple) -> object:
    cached = _shared_report if name in SHARED_REPORTS else _copied_report
    return cached(name, url, version, thresholds, key)


def forget_results() -> None:
    """Drop every cached report and chart: after an administrator's change (a department
    renamed, a cycle opened) that adds no response, so the data version stays the same."""
    st.cache_data.clear()
    _shared_report.clear()


def _key(arguments: Mapping[str, object]) -> tuple:
    return tuple(sorted((argument, _frozen(value)) for argument, value in arguments.items()))


def _cached_under() -> tuple[str, int, tuple[int, int]]:
    # What every cached report and chart is keyed on besides its own arguments.
    settings = get_settings()
    url = settings.database_url
    thresholds = (settings.min_group_size, settings.min_comment_group_size)
    return url, data_version(url), thresholds


def report(name: str, **arguments: object):  # type: ignore[no-untyped-def]
    """A reporting function's result, cached until a response arrives (or 10 minutes pass).

    The viewer's department scope is one of the arguments, so one manager's cached result is
    never served to another viewer with a different scope.
    """
    url, version, thresholds = _cached_under()
    return _report(name, url, version, thresholds, _key(arguments))


CHART_CONFIG = {"displayModeBar": False}


# Fewer than reports: a drawn chart holds its figure as JSON, up to a few MB for a large heatmap.
@st.cache_data(ttl=600, show_spinner=False, max_entries=128)
def _chart(
    drawing: str,
    options: tuple,
    name: str,
    url: str,
    version: int,
    thresholds: tuple[int, int],
    key: tuple,
    alt: str,
    _draw: Callable[..., go.Figure],
) -> None:
    # Streamlit records the chart drawn here and, while the entry lives, replays that element
    # instead of running this again: building, checking and serialising a plotly figure was
    # most of the time of a click on a results page. `drawing` names `_draw` in the key.
    del drawing
    result = _report(name, url, version, thresholds, key)
    figure = _draw(result, **{option: _thawed(value) for option, value in options})
    st.plotly_chart(figure, config=CHART_CONFIG, alt=alt)


def chart(
    draw: Callable[..., go.Figure],
    name: str,
    arguments: Mapping[str, object],
    *,
    alt: str,
    **options: object,
) -> None:
    """Show `draw(report(name, **arguments), **options)`, built once per cached report.

    `draw` is a pure function of the report and `options` (plain, hashable values), so the
    figure it made can be shown again for as long as the report it was drawn from is cached.
    `alt` describes the chart to screen readers.
    """
    url, version, thresholds = _cached_under()
    drawing = f"{draw.__module__}.{draw.__qualname__}"
    _chart(drawing, _key(options), name, url, version, thresholds, _key(arguments), alt, draw)
