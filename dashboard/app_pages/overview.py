"""Overview: the headline figures of one cycle, and where things moved most."""

from __future__ import annotations

import functools
from typing import Literal

import streamlit as st

from dashboard import charts, filters, resources
from surveys.reporting import Figure
from surveys.reporting import drivers as reporting_help

st.title("Overview")
selection = filters.filter_bar()
overview = resources.overview(selection)
if overview.shows_nothing:
    filters.nothing_to_show(selection)
hidden = charts.suppressed_label(overview.minimum)
CHANGE_HELP = (
    "“A real change” is larger than chance alone would give: statistically significant at "
    "the 95% level. “No real change” means the difference is within what chance gives."
)


def shown(figure: Figure, *, digits: int = 0, signed: bool = False) -> str:
    if figure.suppressed or figure.value is None:
        return hidden
    return f"{figure.value:+.{digits}f}" if signed else f"{figure.value:.{digits}f}"


def change(figure: Figure) -> str | None:
    if figure.change is None:
        return None
    meaning = "a real change" if figure.significant else "no real change"
    return f"{figure.change:+.1f} vs {overview.previous_cycle} ({meaning})"


def change_colour(figure: Figure) -> Literal["normal", "off"]:
    # Only a change beyond chance earns the favourable or unfavourable colour.
    return "normal" if figure.significant else "off"


with st.container(horizontal=True):
    st.metric(
        "Responses",
        f"{overview.responses:,}" if overview.responses is not None else hidden,
        width="content",
    )
    st.metric(
        "Response rate",
        f"{overview.response_rate:.0%}" if overview.response_rate is not None else "—",
        width="content",
    )
    st.metric(
        "Relationship Health Index",
        shown(overview.index),
        delta=change(overview.index),
        delta_color=change_colour(overview.index),
        help="0-100. Each respondent's average answer on the relationship questions "
        "(1 = 0, 5 = 100), averaged over respondents. " + CHANGE_HELP,
        width="content",
    )
    st.metric(
        "eNPS",
        shown(overview.enps, signed=True),
        delta=change(overview.enps),
        delta_color=change_colour(overview.enps),
        help="% who would recommend working here (9-10) minus % who would not (0-6). "
        + CHANGE_HELP,
        width="content",
    )
# A viewer who sees part of the organisation (a manager, or a chosen department) gets the
# whole organisation's figures beside their own, for the same staff groups.
if selection.scope is not None or selection.selected_departments or selection.divisions:
    whole = resources.organisation_overview(selection)
    if not (whole.index.suppressed and whole.enps.suppressed):
        st.caption(
            f"Whole organisation, for comparison: Relationship Health Index "
            f"{shown(whole.index)}, eNPS {shown(whole.enps, signed=True)}."
        )

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Dimensions, % favourable", anchor=False)
    resources.chart(
        charts.dimension_chart,
        resources.overview_asked(selection),
        alt=f"Percent favourable for each dimension in {overview.cycle}, highest first.",
    )
with right:
    st.subheader("Strongest", anchor=False)
    for dimension in overview.strongest:
        st.text(f"{dimension.label}: {shown(dimension.figure)}%")
    st.subheader("Weakest", anchor=False)
    for dimension in overview.weakest:
        st.text(f"{dimension.label}: {shown(dimension.figure)}%")
    if overview.previous_cycle:
        st.subheader(f"Largest moves since {overview.previous_cycle}", anchor=False)
        for department in overview.declines:
            st.text(f"▼ {department.department}: {department.figure.change:+.1f} index points")
        for department in overview.improvements:
            st.text(f"▲ {department.department}: {department.figure.change:+.1f} index points")
        if not overview.declines and not overview.improvements:
            st.text("No department is large enough in both cycles to compare.")

st.subheader("Key drivers", anchor=False)
OUTCOMES = {"enps": "Would recommend working here", "overall": "Overall rating"}
outcome = (
    st.segmented_control(
        "Outcome",
        list(OUTCOMES),
        format_func=OUTCOMES.__getitem__,
        default="enps",
        key="driver_outcome",
    )
    or "enps"
)
drivers = resources.key_drivers(selection, outcome=outcome)
st.caption(reporting_help.HELP)
if drivers.shows_nothing:
    st.info(drivers.note)
else:
    resources.chart(
        charts.driver_chart,
        resources.key_drivers_asked(selection, outcome=outcome),
        alt=f"Each dimension's correlation with “{drivers.outcome_label}” against its score "
        f"in {drivers.cycle}, numbered as in the table below; strong and low dimensions are "
        "where to focus.",
    )
    legend = drivers.legend()
    # Every row in view: the table is the chart's key.
    st.dataframe(legend, hide_index=True, height=35 * (len(legend) + 1) + 3)
    filters.download(
        "Download key drivers (CSV)",
        drivers,
        f"attune-key-drivers-{selection.cycle_name}.csv",
    )

with st.container(horizontal=True):
    filters.download(
        "Download these figures (CSV)",
        overview,
        f"attune-overview-{selection.cycle_name}.csv",
    )
    st.download_button(
        "Download PDF report",
        # Made on the click, not on every rerun: the report takes seconds to lay out.
        data=functools.partial(resources.board_report_pdf, selection),
        file_name=f"attune-board-report-{selection.cycle_name}.pdf",
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
        type="tertiary",
        on_click="ignore",
        key="board_report_pdf",
        help="The board report of this cycle for the departments chosen above, every staff "
        "group: headline figures, dimensions, heatmap, relationships, trends and method.",
    )
