"""Complementary suppression: atoms of at least k responses, and no way to difference past them."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.reporting.drivers import PAIR_SUMS, release_driver_sums
from surveys.reporting.release import AtomTable, Partition, is_small, partition
from surveys.reporting.scope import Selection

K = 5
# Two divisions: departments 1 and 2 in division 10, department 3 in division 20.
DIVISION_OF = {1: 10, 2: 10, 3: 20}
GROUPS = (1, 2, 3, 4)


def atoms_of(part: Partition) -> set[frozenset[tuple[int, int]]]:
    return set(part.atoms)


def determined(rows: np.ndarray) -> np.ndarray:
    """Which unknowns the rows pin down: the unit vector lies in the row space."""
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    unknowns = rows.shape[1]
    if rows.shape[0] == 0:
        return np.zeros(unknowns, dtype=bool)
    rank = np.linalg.matrix_rank(rows)
    return np.array(
        [
            np.linalg.matrix_rank(np.vstack([rows, np.eye(unknowns)[j]])) == rank
            for j in range(unknowns)
        ]
    )


# --- Primary suppression ------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "small"), [(0, True), (4, True), (5, False), (50, False)])
def test_a_count_below_the_minimum_is_small(count: int, small: bool) -> None:
    assert is_small(count, 5) is small


# --- How cells are pooled -----------------------------------------------------------------------


def test_cells_large_enough_on_their_own_are_their_own_atoms() -> None:
    part = partition({(1, 1): 40, (1, 2): 12, (2, 1): 5}, division_of=DIVISION_OF, minimum=K)
    assert atoms_of(part) == {frozenset({(1, 1)}), frozenset({(1, 2)}), frozenset({(2, 1)})}


def test_a_lone_small_group_takes_the_next_smallest_sibling_with_it() -> None:
    counts = {(1, 1): 40, (1, 2): 12, (1, 3): 9, (1, 4): 2}
    part = partition(counts, division_of=DIVISION_OF, minimum=K)
    assert atoms_of(part) == {
        frozenset({(1, 1)}),
        frozenset({(1, 2)}),
        frozenset({(1, 3), (1, 4)}),  # 9 is the smallest sibling that can be shown
    }


def test_small_groups_that_together_reach_the_minimum_are_pooled_with_nothing_else() -> None:
    counts = {(1, 1): 40, (1, 2): 3, (1, 3): 2}
    part = partition(counts, division_of=DIVISION_OF, minimum=K)
    assert atoms_of(part) == {frozenset({(1, 1)}), frozenset({(1, 2), (1, 3)})}


def test_small_groups_still_too_small_together_take_the_smallest_sibling() -> None:
    counts = {(1, 1): 40, (1, 2): 7, (1, 3): 1, (1, 4): 2}
    part = partition(counts, division_of=DIVISION_OF, minimum=K)
    assert atoms_of(part) == {frozenset({(1, 1)}), frozenset({(1, 2), (1, 3), (1, 4)})}


def test_a_department_below_the_minimum_joins_the_smallest_atom_of_its_division() -> None:
    counts = {(1, 1): 40, (1, 2): 9, (2, 3): 2, (2, 4): 1, (3, 1): 6}
    part = partition(counts, division_of=DIVISION_OF, minimum=K)
    assert atoms_of(part) == {
        frozenset({(1, 1)}),
        frozenset({(1, 2), (2, 3), (2, 4)}),  # stays inside division 10
        frozenset({(3, 1)}),
    }


def test_a_division_below_the_minimum_joins_the_smallest_atom_anywhere() -> None:
    counts = {(1, 1): 40, (2, 1): 30, (3, 2): 2}
    part = partition(counts, division_of=DIVISION_OF, minimum=K)
    assert atoms_of(part) == {frozenset({(1, 1)}), frozenset({(2, 1), (3, 2)})}


def test_an_organisation_below_the_minimum_is_one_atom_that_is_never_shown() -> None:
    part = partition({(1, 1): 2, (3, 2): 1}, division_of=DIVISION_OF, minimum=K)
    assert atoms_of(part) == {frozenset({(1, 1), (3, 2)})}
    assert not part.releasable(0)
    assert part.covered({(1, 1), (3, 2)}) == frozenset()


def test_an_invited_cell_nobody_answered_is_pooled_like_a_small_one() -> None:
    # Whether the small group answered at all must not show: 0 and 1 give the same atoms.
    for count in (0, 1):
        part = partition({(1, 1): count, (1, 2): 8}, division_of=DIVISION_OF, minimum=K)
        assert atoms_of(part) == {frozenset({(1, 1), (1, 2)})}
        assert part.covered({(1, 2)}) == frozenset()


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        partition({(1, 1): -1}, division_of=DIVISION_OF, minimum=K)


def test_covered_keeps_only_atoms_wholly_inside_the_question() -> None:
    counts = {(1, 1): 40, (1, 2): 12, (1, 3): 9, (1, 4): 2}
    part = partition(counts, division_of=DIVISION_OF, minimum=K)
    # Everything but group 4: the atom {(1,3), (1,4)} is cut, so (1,3) drops out too.
    assert part.covered({(1, 1), (1, 2), (1, 3)}) == {(1, 1), (1, 2)}
    assert part.covered(set(counts)) == set(counts)


# --- Properties over random organisations -------------------------------------------------------

organisations = st.dictionaries(
    keys=st.tuples(st.sampled_from(sorted(DIVISION_OF)), st.sampled_from(GROUPS)),
    values=st.integers(min_value=0, max_value=30),
    min_size=1,
)


@settings(max_examples=300, deadline=None)
@given(counts=organisations, minimum=st.integers(min_value=3, max_value=12))
def test_atoms_partition_the_cells_and_each_reaches_the_minimum(
    counts: dict[tuple[int, int], int], minimum: int
) -> None:
    part = partition(counts, division_of=DIVISION_OF, minimum=minimum)
    cells = [cell for atom in part.atoms for cell in atom]
    # Every cell given belongs to an atom, a cell nobody answered too (pooled like a small one).
    assert sorted(cells) == sorted(counts)
    total = sum(counts.values())
    for index, atom in enumerate(part.atoms):
        assert part.sizes[index] == sum(counts[cell] for cell in atom)
        if part.releasable(index):
            assert part.sizes[index] >= minimum
        else:
            assert total < minimum and len(part.atoms) == 1


@settings(max_examples=300, deadline=None)
@given(counts=organisations, minimum=st.integers(min_value=3, max_value=12))
def test_a_small_cell_never_stands_alone_in_an_atom_that_is_shown(
    counts: dict[tuple[int, int], int], minimum: int
) -> None:
    part = partition(counts, division_of=DIVISION_OF, minimum=minimum)
    for cell, count in counts.items():
        if count < minimum:
            atom = part.atom_of[cell]
            assert len(part.atoms[atom]) >= 2 or not part.releasable(atom)


@settings(max_examples=200, deadline=None)
@given(counts=organisations, minimum=st.integers(min_value=3, max_value=12))
def test_atoms_cross_a_department_or_division_only_when_it_is_too_small(
    counts: dict[tuple[int, int], int], minimum: int
) -> None:
    part = partition(counts, division_of=DIVISION_OF, minimum=minimum)
    department_total = {d: sum(c for (dd, _), c in counts.items() if dd == d) for d in DIVISION_OF}
    for atom in part.atoms:
        departments = {department for department, _ in atom}
        if len(departments) > 1:
            assert any(department_total[d] < minimum for d in departments)


def grouping(table: AtomTable) -> set[frozenset[tuple[int, int, int]]]:
    cells = zip(
        table.columns["cycle_id"].tolist(),
        table.columns["department_id"].tolist(),
        table.columns["staff_group_id"].tolist(),
        table.atom.tolist(),
        table.releasable.tolist(),
        strict=True,
    )
    atoms: dict[int, set] = {}
    for cycle, department, group, atom, releasable in cells:
        atoms.setdefault(atom, set()).add((cycle, department, group, releasable))
    return {frozenset(atom) for atom in atoms.values()}


@settings(max_examples=300, deadline=None)
@given(
    cycles=st.lists(organisations, min_size=1, max_size=3),
    minimum=st.integers(min_value=1, max_value=12),
)
def test_the_vectorised_atoms_are_exactly_the_partition(
    cycles: list[dict[tuple[int, int], int]], minimum: int
) -> None:
    partitions = {
        number: partition(counts, division_of=DIVISION_OF, minimum=minimum)
        for number, counts in enumerate(cycles, start=1)
    }
    rows = [
        (number, department, group, count)
        for number, counts in enumerate(cycles, start=1)
        for (department, group), count in counts.items()
    ]
    cycle, department, group, count = (np.asarray(column) for column in zip(*rows, strict=True))
    fast = AtomTable.from_cells(
        cycle, department, group, count, division_of=DIVISION_OF, minimum=minimum
    )
    assert grouping(fast) == grouping(
        AtomTable.from_partitions(partitions, division_of=DIVISION_OF)
    )


def test_the_partition_is_the_same_whatever_order_the_cells_come_in() -> None:
    counts = {(1, 1): 40, (1, 2): 3, (2, 3): 2, (2, 4): 1, (3, 1): 6, (3, 2): 4}
    shuffled = dict(reversed(list(counts.items())))
    first = partition(counts, division_of=DIVISION_OF, minimum=K)
    second = partition(shuffled, division_of=DIVISION_OF, minimum=K)
    assert atoms_of(first) == atoms_of(second)


# --- Adding up figures --------------------------------------------------------------------------


def table_for(counts: dict[tuple[int, int], int], minimum: int = K, cycle: int = 1) -> AtomTable:
    part = partition(counts, division_of=DIVISION_OF, minimum=minimum)
    return AtomTable.from_partitions({cycle: part}, division_of=DIVISION_OF)


def cell_frame(counts: dict[tuple[int, int], int], cycle: int = 1, **columns) -> pd.DataFrame:
    cells = sorted(counts)
    frame = pd.DataFrame(
        {
            "cycle_id": cycle,
            "department_id": [d for d, _ in cells],
            "staff_group_id": [g for _, g in cells],
            "measure": 0,
            "n": [counts[cell] for cell in cells],
        }
    )
    for name, values in columns.items():
        frame[name] = [values[cell] for cell in cells]
    return frame


def test_release_adds_up_only_whole_atoms_within_each_key() -> None:
    counts = {(1, 1): 40, (1, 2): 12, (1, 3): 9, (1, 4): 2, (2, 1): 7}
    table = table_for(counts)
    data = cell_frame(counts, favourable={cell: count // 2 for cell, count in counts.items()})
    everything = table.selected({1, 2}, set(GROUPS))
    by_group = table.release(
        data, selected=everything, keys=["staff_group_id"], n="n", sums=["favourable"], minimum=K
    )
    # Group 3's cell (9) shares an atom with group 4's (2), so neither group row adds it up.
    assert dict(zip(by_group["staff_group_id"], by_group["n"], strict=True)) == {1: 47, 2: 12}
    by_department = table.release(
        data, selected=everything, keys=["department_id"], n="n", sums=["favourable"], minimum=K
    )
    assert dict(zip(by_department["department_id"], by_department["n"], strict=True)) == {
        1: 63,
        2: 7,
    }


def test_release_drops_atoms_with_too_few_answers_to_the_measure() -> None:
    counts = {(1, 1): 40, (1, 2): 12}
    table = table_for(counts)
    # Only 3 of group 2's 12 respondents answered this question; the rest said "does not apply".
    data = cell_frame(counts, favourable={(1, 1): 30, (1, 2): 1}).assign(n=[38, 3])
    released = table.release(
        data, selected=table.selected({1}, set(GROUPS)), keys=[], n="n", sums=["favourable"],
        minimum=K,
    )  # fmt: skip
    assert released[["n", "favourable"]].to_numpy().tolist() == [[38, 30]]


def test_release_ignores_cells_outside_the_selection_entirely() -> None:
    counts = {(1, 1): 40, (2, 1): 12}
    table = table_for(counts)
    data = cell_frame(counts)
    released = table.release(
        data, selected=table.selected({2}, set(GROUPS)), keys=[], n="n", sums=[], minimum=K
    )
    assert released["n"].tolist() == [12]
    nothing = table.release(
        data, selected=table.selected(set(), set(GROUPS)), keys=[], n="n", sums=[], minimum=K
    )
    assert nothing.empty


# --- The attacker's view: no combination of shown figures recovers a small cell -----------------


def every_released_row(
    counts: dict[tuple[int, int], int], table: AtomTable, groups: tuple[int, ...] = GROUPS
) -> np.ndarray:
    """Coefficient rows of every figure released for every filter combination.

    Each cell carries a unit quantity of its own, so a released sum of that quantity *is* the
    coefficient the figure gives the cell: the rows are read off the output, not assumed.
    """
    cells = sorted(cell for cell, count in counts.items() if count)
    units = {
        f"unit_{i}": {other: int(other == cell) for other in cells} for i, cell in enumerate(cells)
    }
    data = cell_frame({cell: counts[cell] for cell in cells}, **units)
    departments = sorted({d for d, _ in cells})
    rows = []
    for department_count in range(1, len(departments) + 1):
        for chosen_departments in itertools.combinations(departments, department_count):
            for group_count in range(1, len(groups) + 1):
                for chosen_groups in itertools.combinations(groups, group_count):
                    selected = table.selected(chosen_departments, chosen_groups)
                    for keys in ([], ["department_id"], ["staff_group_id"], ["division_id"],
                                 ["department_id", "staff_group_id"]):  # fmt: skip
                        released = table.release(
                            data, selected=selected, keys=keys, n="n", sums=list(units),
                            minimum=K,
                        )  # fmt: skip
                        rows += released[list(units)].to_numpy().tolist()
    return np.asarray(rows, dtype=float).reshape(-1, len(cells))


ADVERSARIAL_ORGANISATIONS = [
    pytest.param(
        {
            (1, 1): 40,
            (1, 2): 12,
            (1, 3): 9,
            (1, 4): 2,
            (2, 1): 30,
            (2, 2): 1,
            (2, 3): 3,
            (3, 1): 8,
            (3, 4): 2,
        },
        id="small-siblings",
    ),  # fmt: skip
    pytest.param(
        {(1, 1): 40, (1, 2): 20, (2, 3): 2, (2, 4): 2, (3, 1): 3, (3, 2): 1},
        id="small-department-and-division",
    ),
    pytest.param({(1, 1): 6, (1, 2): 6, (1, 3): 4, (2, 1): 9, (3, 3): 7}, id="near-threshold"),
]


@pytest.mark.parametrize("counts", ADVERSARIAL_ORGANISATIONS)
def test_no_linear_combination_of_released_figures_isolates_a_small_cell(
    counts: dict[tuple[int, int], int],
) -> None:
    table = table_for(counts)
    rows = every_released_row(counts, table)
    cells = sorted(cell for cell, count in counts.items() if count)
    pinned = determined(rows)
    small = [i for i, cell in enumerate(cells) if is_small(counts[cell], K)]
    assert small, "the fixture must contain small cells"
    assert not pinned[small].any(), [cells[i] for i in small if pinned[i]]
    # Not vacuous: large cells standing alone are released, so the solve does pin those down.
    assert pinned.any()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=st.dictionaries(
        keys=st.tuples(st.sampled_from(sorted(DIVISION_OF)), st.sampled_from(GROUPS[:3])),
        values=st.integers(min_value=1, max_value=20),
        min_size=2,
        max_size=7,
    )
)
def test_no_random_organisation_lets_a_small_cell_be_solved_for(
    counts: dict[tuple[int, int], int],
) -> None:
    table = table_for(counts)
    rows = every_released_row(counts, table, groups=GROUPS[:3])
    cells = sorted(counts)
    pinned = determined(rows)
    assert not any(pinned[i] and is_small(counts[cell], K) for i, cell in enumerate(cells))


def test_primary_suppression_alone_would_leak_which_is_why_atoms_exist() -> None:
    """A control: showing every group of at least k on its own, without complementary
    suppression, lets the department total minus the shown groups give away the small one."""
    counts = {(1, 1): 40, (1, 2): 12, (1, 3): 2}
    every_cell_alone = {1: partition(counts, division_of=DIVISION_OF, minimum=1)}
    naive = AtomTable.from_partitions(every_cell_alone, division_of=DIVISION_OF)
    cells = sorted(counts)
    units = {
        f"unit_{i}": {other: int(other == cell) for other in cells} for i, cell in enumerate(cells)
    }
    data = cell_frame(counts, **units)
    rows = []
    for keys in ([], ["staff_group_id"]):
        released = naive.release(
            data, selected=naive.selected({1}, set(GROUPS)), keys=keys, n="n",
            sums=list(units), minimum=1,
        )  # fmt: skip
        shown = released[released["n"] >= K]  # primary suppression of each figure only
        rows += shown[list(units)].to_numpy().tolist()
    assert determined(np.asarray(rows))[cells.index((1, 3))]


@pytest.mark.parametrize("counts", ADVERSARIAL_ORGANISATIONS)
def test_every_key_driver_figure_too_leaves_every_small_cell_unsolved(
    counts: dict[tuple[int, int], int],
) -> None:
    """The attacker also learns every key-driver sum (n, x, y, x², y², xy each carry their
    cell's unit here) for every filter: still no small cell can be solved for."""
    table = table_for(counts)
    cells = sorted(cell for cell, count in counts.items() if count)
    units = {
        f"unit_{i}": {other: int(other == cell) for other in cells} for i, cell in enumerate(cells)
    }
    data = cell_frame({cell: counts[cell] for cell in cells}, **units)
    data = data.assign(**{column: data[column].astype(float) for column in units})
    rows = every_released_row(counts, table).tolist()
    learned = 0
    departments = sorted({d for d, _ in cells})
    for department_count in range(1, len(departments) + 1):
        for chosen_departments in itertools.combinations(departments, department_count):
            for group_count in range(1, len(GROUPS) + 1):
                for chosen_groups in itertools.combinations(GROUPS, group_count):
                    selection = Selection(frozenset(chosen_departments), frozenset(chosen_groups))
                    for keys in ([], ["department_id"]):
                        # Each unit in turn as x: the released x of a figure is then the
                        # coefficient the figure gives that cell, read off the output.
                        columns = [
                            release_driver_sums(
                                table,
                                data.assign(**{**dict.fromkeys(PAIR_SUMS, 0.0), "x": data[unit]}),
                                selection,
                                keys=keys,
                                minimum=K,
                                driver_minimum=2 * K,
                            )["x"].to_numpy()
                            for unit in units
                        ]
                        rows += np.column_stack(columns).tolist()
                        learned += len(columns[0])
    assert learned  # drivers were released at all: the test is not vacuous
    pinned = determined(np.asarray(rows, dtype=float).reshape(-1, len(cells)))
    small = [i for i, cell in enumerate(cells) if is_small(counts[cell], K)]
    assert not pinned[small].any(), [cells[i] for i in small if pinned[i]]
