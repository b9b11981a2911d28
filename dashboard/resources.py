"""Shared, cached resources for the pages: one engine per database URL, cached queries."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from pydantic import ValidationError
from sqlalchemy import Engine

from surveys import reporting
from surveys.actions import sharing
from surveys.config import get_settings
from surveys.reporting.heatmap import HeatmapRows
from surveys.reporting.shared_summary import SharedSummary, shared_figures
from surveys.storage import DatabaseUnavailable, check_connection, make_engine, schema_is_current

if TYPE_CHECKING:
    from dashboard.filters import Selection
    from surveys.actions.plans import PlanRecord


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


@st.cache_data(show_spinner=False, max_entries=16)
def _data_version(url: str, period: int) -> int:
    del period  # part of the cache key only: a new period reads the version again
    return reporting.data_version(_engine_for(url))


def data_version(url: str) -> int:
    """The database's data version, read again at most once per ATTUNE_DATA_VERSION_TTL_SECONDS
    (the setting is read at each call, so a test or an operator can shorten it)."""
    ttl = get_settings().data_version_ttl_seconds
    return _data_version(url, int(time.time() // ttl))


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
_REPORTS: dict[str, Callable[..., object]] = {
    "comments": reporting.comments,  # shuffled once, in surveys.reporting
    "filter_options": reporting.filter_options,
    "overview": reporting.overview,
    "heatmap": reporting.heatmap,
    "relationships": reporting.relationships,
    "trends": reporting.trends,
    "relationship_trends": reporting.relationship_trends,
    "item_distributions": reporting.item_distributions,
    "theme_trends": reporting.theme_trends,
    "key_drivers": reporting.key_drivers,
    "focus_areas": reporting.focus_areas,
    "plan_progress": reporting.plan_progress,
}
COPIED_REPORTS = ("trends", "relationship_trends", "item_distributions", "theme_trends")


def _compute(name: str, url: str, version: int, thresholds: tuple[int, ...], key: tuple) -> object:
    del version, thresholds  # part of the cache key only
    arguments = {argument: _thawed(value) for argument, value in key}
    return _REPORTS[name](_engine_for(url), **arguments)


# The same computation behind two caches: one hands out the object, one a copy of it.
_CACHING: dict[str, Any] = {"ttl": 600, "show_spinner": "Calculating...", "max_entries": 512}
_shared_report = st.cache_resource(**_CACHING)(_compute)
_copied_report = st.cache_data(**_CACHING)(_compute)


def _report(name: str, url: str, version: int, thresholds: tuple[int, ...], key: tuple) -> object:
    cached = _copied_report if name in COPIED_REPORTS else _shared_report
    return cached(name, url, version, thresholds, key)


def forget_results() -> None:
    """Drop every cached report and chart: after an administrator's change (a department
    renamed, a cycle opened) that adds no response, so the data version stays the same."""
    st.cache_data.clear()
    _shared_report.clear()
    _shared_figures.clear()


def _key(arguments: Mapping[str, object]) -> tuple:
    return tuple(sorted((argument, _frozen(value)) for argument, value in arguments.items()))


def _cached_under() -> tuple[str, int, tuple[int, int, int]]:
    # What every cached report and chart is keyed on besides its own arguments.
    settings = get_settings()
    url = settings.database_url
    thresholds = (
        settings.min_group_size,
        settings.min_comment_group_size,
        settings.min_driver_group_size,
    )
    return url, data_version(url), thresholds


@dataclass(frozen=True)
class Asked:
    """One report as a page asks for it: which report, and its arguments (the viewer's scope
    among them, so one manager's cached result is never served to a viewer with another)."""

    name: str
    arguments: tuple


def _asked(name: str, arguments: Mapping[str, object]) -> Asked:
    return Asked(name, _key(arguments))


def _cached(asked: Asked) -> object:
    """A report, cached until a response arrives (or 10 minutes pass)."""
    url, version, thresholds = _cached_under()
    return _report(asked.name, url, version, thresholds, asked.arguments)


# --- One typed function per report: what a page asks for, and what it gets ---------------------


def filter_options_asked(scope: frozenset[int] | None) -> Asked:
    return _asked("filter_options", {"departments": scope})


def filter_options(scope: frozenset[int] | None) -> reporting.FilterOptions:
    return cast(reporting.FilterOptions, _cached(filter_options_asked(scope)))


def overview_asked(selection: Selection) -> Asked:
    return _asked("overview", selection.arguments())


def overview(selection: Selection) -> reporting.Overview:
    return cast(reporting.Overview, _cached(overview_asked(selection)))


def organisation_overview(selection: Selection) -> reporting.Overview:
    """The same cycle and staff groups across the whole organisation: the benchmark a manager
    asks for first. Released like every figure; it names no department."""
    arguments = {"cycle_id": selection.cycle_id, "staff_groups": selection.staff_groups}
    return cast(reporting.Overview, _cached(_asked("overview", arguments | {"departments": None})))


def key_drivers_asked(selection: Selection, *, outcome: str) -> Asked:
    return _asked("key_drivers", selection.arguments() | {"outcome": outcome})


def key_drivers(selection: Selection, *, outcome: str) -> reporting.KeyDrivers:
    return cast(reporting.KeyDrivers, _cached(key_drivers_asked(selection, outcome=outcome)))


def focus_areas(selection: Selection) -> reporting.FocusAreas:
    return cast(reporting.FocusAreas, _cached(_asked("focus_areas", selection.arguments())))


def heatmap_asked(selection: Selection, *, by: HeatmapRows) -> Asked:
    return _asked("heatmap", selection.arguments() | {"by": by})


def heatmap(selection: Selection, *, by: HeatmapRows) -> reporting.Heatmap:
    return cast(reporting.Heatmap, _cached(heatmap_asked(selection, by=by)))


def trends_asked(selection: Selection, *, measure: str) -> Asked:
    arguments = selection.arguments(cycle=False)
    return _asked("trends", arguments | {"measure": measure, "cycle_range": selection.cycle_range})


def trends(selection: Selection, *, measure: str) -> pd.DataFrame:
    return cast(pd.DataFrame, _cached(trends_asked(selection, measure=measure)))


def relationships_asked(selection: Selection) -> Asked:
    return _asked("relationships", selection.arguments(groups=False))


def relationships(selection: Selection) -> reporting.Relationships:
    return cast(reporting.Relationships, _cached(relationships_asked(selection)))


def relationship_trends_asked(selection: Selection) -> Asked:
    return _asked("relationship_trends", selection.arguments(cycle=False, groups=False))


def relationship_trends(selection: Selection) -> pd.DataFrame:
    return cast(pd.DataFrame, _cached(relationship_trends_asked(selection)))


def item_distributions_asked(selection: Selection, *, dimension: str) -> Asked:
    return _asked("item_distributions", selection.arguments() | {"dimension": dimension})


def item_distributions(selection: Selection, *, dimension: str) -> pd.DataFrame:
    asked = item_distributions_asked(selection, dimension=dimension)
    return cast(pd.DataFrame, _cached(asked))


def comments(selection: Selection) -> reporting.Comments:
    return cast(reporting.Comments, _cached(_asked("comments", selection.arguments())))


def theme_trends_asked(selection: Selection) -> Asked:
    return _asked("theme_trends", selection.arguments())


def theme_trends(selection: Selection) -> pd.DataFrame:
    return cast(pd.DataFrame, _cached(theme_trends_asked(selection)))


def plan_progress_asked(scope: frozenset[int] | None, plan: PlanRecord) -> Asked:
    """A plan's figures since it began, within the viewer's scope."""
    return _asked(
        "plan_progress",
        {
            "departments": scope,
            "department_id": plan.department_id,
            "since_cycle_id": plan.started_cycle_id,
            "dimension_key": plan.dimension_key,
            "from_group_id": plan.from_group_id,
            "to_group_id": plan.to_group_id,
        },
    )


def plan_progress(scope: frozenset[int] | None, plan: PlanRecord) -> reporting.PlanProgress | None:
    return cast("reporting.PlanProgress | None", _cached(plan_progress_asked(scope, plan)))


def board_report_pdf(selection: Selection) -> bytes:
    """The board report of the selection's cycle, departments and divisions (every staff
    group), as PDF. Made only when asked for (a download button calls it on the click), never
    on a page's rerun: it takes seconds, and the overview must not."""
    from surveys.printing.board import render_board_report
    from surveys.reporting.board import board_report
    from surveys.reporting.named import chosen_selection

    named = chosen_selection(
        selection.options,
        scope=selection.scope,
        cycle_id=selection.cycle_id,
        selected_departments=selection.selected_departments,
        divisions=selection.divisions,
    )
    return render_board_report(board_report(engine(), selection=named))


CHART_CONFIG = {"displayModeBar": False}


# Fewer than reports: a drawn chart holds its figure as JSON, up to a few MB for a large heatmap.
@st.cache_data(ttl=600, show_spinner=False, max_entries=128)
def _chart(
    drawing: str,
    options: tuple,
    name: str,
    url: str,
    version: int,
    thresholds: tuple[int, ...],
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


def chart(draw: Callable[..., go.Figure], asked: Asked, *, alt: str, **options: object) -> None:
    """Show `draw(report, **options)` for the report `asked` names (e.g.
    `heatmap_asked(selection, by=by)`), built once per cached report.

    `draw` is a pure function of the report and `options` (plain, hashable values), so the
    figure it made can be shown again for as long as the report it was drawn from is cached.
    `alt` describes the chart to screen readers.
    """
    url, version, thresholds = _cached_under()
    drawing = f"{draw.__module__}.{draw.__qualname__}"
    _chart(drawing, _key(options), asked.name, url, version, thresholds, asked.arguments, alt, draw)


# --- Results shared with staff ---------------------------------------------------------------


@st.cache_resource(ttl=600, show_spinner=False, max_entries=16)
def _shared_figures(
    url: str, cycle_id: int, version: int, thresholds: tuple[int, int, int]
) -> SharedSummary:
    # The costly part (an overview per department), kept until a response arrives; the plans
    # change without one and are read on every call.
    del version, thresholds  # part of the cache key only
    return shared_figures(_engine_for(url), cycle_id=cycle_id)


def _summary_of(cycle_id: int) -> SharedSummary:
    url, version, thresholds = _cached_under()
    figures = _shared_figures(url, cycle_id, version, thresholds)
    return sharing.summary_with_plans(engine=engine(), figures=figures)


def shared_summary(token: str) -> SharedSummary | None:
    """The staff summary a share link opens, or None for a wrong or revoked link. The link is
    checked and the plans read on every call (a revoked link stops, a changed plan shows, at
    once); only the figures are cached, until a response arrives."""
    cycle_id = sharing.cycle_for_token(engine=engine(), token=token)
    if cycle_id is None:
        return None
    return _summary_of(cycle_id)


def previous_summary(cycle_id: int) -> sharing.SharedLink | None:
    """The published summary of the cycle before this one, if there is one."""
    return sharing.previous_summary(engine=engine(), cycle_id=cycle_id)


def summary_of_cycle(cycle_id: int) -> SharedSummary:
    """A published cycle's staff summary (the thank-you page shows it when its link cannot
    be given out)."""
    return _summary_of(cycle_id)
