"""The filter bar every results page shares; its choices follow the viewer across pages."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, NoReturn

import streamlit as st

from dashboard import auth, resources
from surveys import reporting
from surveys.access.accounts import AccountInfo, department_scope
from surveys.records import CycleState
from surveys.reporting import FilterOptions


@dataclass(frozen=True)
class Selection:
    scope: frozenset[int] | None  # what the viewer may see, enforced again in surveys/
    cycle_id: int
    cycle_name: str
    cycle_range: tuple[int, int]
    divisions: frozenset[int] | None
    selected_departments: frozenset[int] | None
    staff_groups: frozenset[int] | None
    options: FilterOptions
    phone: bool  # the browser says it is a phone: wide charts are drawn compact

    @property
    def cycle_ids(self) -> list[int]:
        """The cycles shown: the one chosen, or every cycle of the range chosen."""
        first, last = self.cycle_range
        ids = [cycle.id for cycle in self.options.cycles]  # newest first
        return ids[ids.index(last) : ids.index(first) + 1]

    @property
    def narrowed(self) -> bool:
        """Whether the viewer chose departments, divisions or staff groups."""
        return any(
            chosen is not None
            for chosen in (self.divisions, self.selected_departments, self.staff_groups)
        )

    def arguments(self, *, cycle: bool = True, groups: bool = True) -> dict[str, object]:
        """The selection as a reporting function's keyword arguments (the scope included)."""
        arguments: dict[str, object] = {
            "departments": self.scope,
            "divisions": self.divisions,
            "selected_departments": self.selected_departments,
        }
        if cycle:
            arguments["cycle_id"] = self.cycle_id
        if groups:
            arguments["staff_groups"] = self.staff_groups
        return arguments


def signed_in_account() -> AccountInfo:
    account = auth.current_account()
    if account is None:  # the router shows only the sign-in page then; this is a second lock
        st.stop()
    return account


def filter_bar(*, groups: bool = True, cycle_range: bool = False) -> Selection:
    """Draw the filters and return what was chosen, limited to the viewer's scope."""
    account = signed_in_account()
    scope = department_scope(account)
    options = resources.filter_options(scope)
    if not options.cycles:
        st.info("No survey cycles yet.", icon=":material/info:")
        st.stop()
    cycles = {cycle.id: cycle.name for cycle in options.cycles}  # newest first
    labels = {cycle.id: reporting.cycle_label(cycle) for cycle in options.cycles}
    default = options.default_cycle
    assert default is not None  # there are cycles
    division_names = {division.id: division.name for division in options.divisions}
    group_names = {group.id: group.name for group in options.staff_groups}
    phone = on_a_phone()

    def width(pixels: int) -> int | Literal["stretch"]:
        return "stretch" if phone else pixels

    # On a phone four filters, one under another, would push the results out of sight: they
    # fold away, and one line says what is chosen.
    bar = (
        st.expander("Filters")
        if phone
        else st.container(horizontal=True, vertical_alignment="bottom")
    )
    with bar:
        if cycle_range:
            ordered = list(reversed(cycles))
            _forget_unknown_range("filter_cycle_range", ordered)
            first, last = st.select_slider(
                "Cycles",
                options=ordered,
                value=(ordered[0], default.id),
                format_func=labels.__getitem__,
                key="filter_cycle_range",
                persist_state="session",
                width=width(360),
            )
            cycle_id = last
        else:
            _forget_unknown_choice("filter_cycle", list(cycles))
            cycle_id = st.selectbox(
                "Cycle",
                options=list(cycles),
                index=list(cycles).index(default.id),
                format_func=labels.__getitem__,
                key="filter_cycle",
                persist_state="session",
                width=width(200),
            )
            first = last = cycle_id
        chosen_divisions: list[int] = []
        if len(division_names) > 1:
            chosen_divisions = _pick("Divisions", division_names, "divisions", width(180))
        departments = {
            department.id: department.name
            for department in options.departments
            if not chosen_divisions or department.division_id in chosen_divisions
        }
        chosen_departments = _pick("Departments", departments, "departments", width(230))
        chosen_groups: list[int] = []
        if groups:
            chosen_groups = _pick("Staff groups", group_names, "groups", width(180))
    if phone:
        st.caption(
            " · ".join(
                [
                    cycles[cycle_id] if first == last else f"{cycles[first]} to {cycles[last]}",
                    _chosen(chosen_departments, departments, "departments")
                    if chosen_departments or not chosen_divisions
                    else _chosen(chosen_divisions, division_names, "divisions"),
                    *([_chosen(chosen_groups, group_names, "staff groups")] if groups else []),
                ]
            )
        )
    selection = Selection(
        scope=scope,
        cycle_id=cycle_id,
        cycle_name=cycles[cycle_id],
        cycle_range=(first, last),
        divisions=frozenset(chosen_divisions) or None,
        selected_departments=frozenset(chosen_departments) or None,
        staff_groups=frozenset(chosen_groups) or None,
        options=options,
        phone=phone,
    )
    shown = selection.cycle_ids
    if any(cycle.state == CycleState.open for cycle in options.cycles if cycle.id in shown):
        st.caption(reporting.open_cycle_notice())
    return selection


def explain_nothing_to_show(selection: Selection, *, comments: bool = False) -> None:
    """Say in one sentence why this view is empty and what would change that, in place of
    an empty axis or a chart of hidden cells."""
    st.info(
        reporting.nothing_to_show(
            selection.options, selection.cycle_ids, narrowed=selection.narrowed, comments=comments
        ),
        icon=":material/info:",
    )


def nothing_to_show(selection: Selection, *, comments: bool = False) -> NoReturn:
    """`explain_nothing_to_show`, and the page ends there."""
    explain_nothing_to_show(selection, comments=comments)
    st.stop()


def _pick(
    label: str, names: dict[int, str], key: str, width: int | Literal["stretch"]
) -> list[int]:
    """A multiselect of ids shown by name; none chosen means all of them."""
    _forget_unknown_choices(f"filter_{key}", list(names))
    return st.multiselect(
        label,
        options=list(names),
        format_func=names.__getitem__,
        placeholder=f"All {label.lower()}",
        key=f"filter_{key}",
        persist_state="session",
        width=width,
    )


# A value the browser sends that is not an option (rewritten by hand, or left from a scope the
# viewer no longer has) is dropped before the widget is drawn, and the rest of the page is
# drawn as if it had never been chosen. Streamlit drops unknown options itself, but a value
# of the wrong shape (one id where a list belongs) ended in its error page.


def _forget_unknown_choice(key: str, options: list[int]) -> None:
    if key in st.session_state and not _known(st.session_state[key], options):
        del st.session_state[key]


def _forget_unknown_choices(key: str, options: list[int]) -> None:
    if key not in st.session_state:
        return
    value = st.session_state[key]
    values = value if isinstance(value, list | tuple) else [value]
    known = [v for v in values if _known(v, options)]
    if known != value:
        st.session_state[key] = known


def _forget_unknown_range(key: str, options: list[int]) -> None:
    if key not in st.session_state:
        return
    value = st.session_state[key]
    if not (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(_known(v, options) for v in value)
    ):
        del st.session_state[key]


def _known(value: object, options: list[int]) -> bool:
    # Exact ints only: True and 8.0 equal an id too, but no widget of ours sends them.
    return type(value) is int and value in options


def _chosen(chosen: list[int], names: dict[int, str], everything: str) -> str:
    if not chosen:
        return f"all {everything}"
    if len(chosen) > 2:
        return f"{len(chosen)} {everything}"
    return ", ".join(names[choice] for choice in chosen)


def on_a_phone() -> bool:
    """Whether the browser says it is a phone ("Mobi" in its user agent, as browsers do), so
    that wide charts can be drawn compact. Only read to lay out the page; never stored."""
    return "Mobi" in (st.context.headers.get("User-Agent") or "")


def download(label: str, result: object, file_name: str) -> None:
    """Offer the aggregates behind a chart (never raw responses) as formula-safe CSV, made
    when the button is pressed rather than on every rerun of the page."""
    st.download_button(
        label,
        data=functools.partial(reporting.to_csv, result),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        type="tertiary",
        on_click="ignore",
    )
