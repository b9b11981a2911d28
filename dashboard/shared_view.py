"""The staff summary's widgets ("you said, we did"): the shared page and nothing else use them.

Everything shown comes from a `SharedSummary` (surveys/reporting/shared_summary.py); numbers
are only formatted here. Names and plan text are shown as plain text: plan text through
`st.text` (Markdown, even escaped, links a bare web address); department and division names
inside Markdown with every punctuation character escaped, as the survey page shows them.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

from surveys.reporting import Figure
from surveys.reporting.overview import DimensionFigure
from surveys.reporting.shared_summary import DepartmentSummary, PlanForStaff, SharedSummary
from surveys.text import escape_all_markdown

PRINT_HINT = (
    "To print this page or keep it as a PDF, use your browser's Print command "
    "(Ctrl+P, or ⌘P on a Mac)."
)


def quiet(text: str) -> None:
    """Secondary text in the palette's gray (st.caption's colour falls short of WCAG AA)."""
    st.markdown(f":small[:gray[{escape_all_markdown(text)}]]")


def hidden(minimum: int) -> str:
    return f"fewer than {minimum}"


def number(figure: Figure, minimum: int, *, signed: bool = False) -> str:
    """A figure as the results pages write it: whole numbers, or "fewer than k"."""
    if figure.suppressed or figure.value is None:
        return hidden(minimum)
    return f"{figure.value:+.0f}" if signed else f"{figure.value:.0f}"


def change(figure: Figure, previous_cycle: str | None) -> str | None:
    """The change since the previous cycle in words, or None when there is nothing to compare."""
    if figure.change is None or previous_cycle is None:
        return None
    meaning = "a real change" if figure.significant else "no real change"
    return f"{figure.change:+.1f} since {previous_cycle} ({meaning})"


def _colour(figure: Figure) -> Literal["normal", "off"]:
    # Only a change beyond chance earns the favourable or unfavourable colour.
    return "normal" if figure.significant else "off"


def _dimension_line(dimension: DimensionFigure, minimum: int) -> str:
    return f"{dimension.label}: {number(dimension.figure, minimum)}% favourable"


def _plan(plan: PlanForStaff) -> None:
    # Plan text only through st.text: Markdown, even escaped, turns a bare web address in a
    # title into a link.
    with st.container(border=True, gap="small"):
        with st.container(horizontal=True, horizontal_alignment="distribute", gap="small"):
            st.text(plan.title)
            st.badge(plan.status, color="gray" if plan.status != "Done" else "blue")
        if plan.addresses:
            st.text(f"About: {plan.addresses}")
        st.text(plan.actions)
        if plan.owner:
            st.text(f"Led by {plan.owner}")


def _plans(plans: tuple[PlanForStaff, ...]) -> None:
    for plan in plans:
        _plan(plan)


def _organisation(summary: SharedSummary) -> None:
    whole = summary.overview
    minimum = summary.minimum
    st.header("Across the organisation", anchor=False)
    with st.container(horizontal=True):
        st.metric(
            "Responses",
            f"{whole.responses:,}" if whole.responses is not None else hidden(minimum),
            width="content",
        )
        if whole.response_rate is not None:
            st.metric("Response rate", f"{whole.response_rate:.0%}", width="content")
        st.metric(
            "Relationship Health Index",
            number(whole.index, minimum),
            delta=change(whole.index, whole.previous_cycle),
            delta_color=_colour(whole.index),
            help="0 to 100: how people rate working relationships, averaged over everyone "
            "who answered.",
            width="content",
        )
        st.metric(
            "eNPS",
            number(whole.enps, minimum, signed=True),
            delta=change(whole.enps, whole.previous_cycle),
            delta_color=_colour(whole.enps),
            help="Would you recommend working here? The % who would (9-10) minus the % who "
            "would not (0-6).",
            width="content",
        )
    going_well, to_work_on = st.columns(2, gap="medium")
    with going_well:
        st.subheader("Going well", anchor=False)
        for dimension in summary.strongest:
            st.text(_dimension_line(dimension, minimum))
    with to_work_on:
        st.subheader("To work on", anchor=False)
        for dimension in summary.weakest:
            st.text(_dimension_line(dimension, minimum))
    if summary.organisation_plans:
        st.subheader("What we are doing across the organisation", anchor=False)
        _plans(summary.organisation_plans)


def _department(department: DepartmentSummary, summary: SharedSummary) -> None:
    minimum = summary.minimum
    with st.container(border=True):
        st.markdown(f"**{escape_all_markdown(department.department)}**")
        if department.shows_figures:
            lines = [
                f"{department.responses:,} responses · Relationship Health Index "
                f"{number(department.index, minimum)}"
            ]
            moved = change(department.index, summary.previous_cycle)
            if moved:
                lines.append(f"Index {moved}")
            for words, dimension in (
                ("Going well", department.strongest),
                ("To work on", department.weakest),
            ):
                if dimension is not None:
                    lines.append(
                        f"{words}: {dimension.label} "
                        f"({number(dimension.figure, minimum)}% favourable)"
                    )
            st.text("\n".join(lines))
        else:
            quiet(
                f"Fewer than {minimum} people answered here, so this department's figures are "
                "not shown on their own: they count in the organisation's."
            )
        if department.plans:
            st.markdown("**What we are doing**")
            _plans(department.plans)
        else:
            quiet("No action plan yet.")


def render(summary: SharedSummary) -> None:
    """The whole summary: the organisation's figures, then department by department."""
    st.title("You said, we did", anchor=False)
    quiet(
        " · ".join(
            part
            for part in (summary.organisation, f"Results of the {summary.cycle} staff survey")
            if part
        )
    )
    st.markdown(
        f"Thank you to everyone who answered the {escape_all_markdown(summary.cycle)} staff "
        "survey. Here is what you told us, and what is being done about it."
    )
    quiet(
        f"Figures are shown only for groups of at least {summary.minimum} people, so that no "
        "one can be picked out. % favourable is the share who agreed or strongly agreed."
    )
    _organisation(summary)
    st.header("Department by department", anchor=False)
    if not summary.departments:
        quiet("No department had enough answers to show its own figures.")
    division = None
    for department in summary.departments:
        if department.division != division:
            division = department.division
            st.subheader(escape_all_markdown(division), anchor=False)
        _department(department, summary)
    st.divider()
    quiet(PRINT_HINT)
