"""The one release path: which figures, counts and comments may be shown.

Small groups are suppressed, and so are enough others that no small group can be recovered by
subtracting one shown figure from another. Only modules of `surveys.reporting` import this
(a test checks); every figure, count and comment anyone sees was added up here.

Every survey cycle's cells (department × staff group) are split, once and whatever anyone
asks for, into *atoms*: disjoint sets of cells with at least the minimum number of responses
each. A cell that is large enough on its own is its own atom. Small cells are pooled with
their siblings, first within their department, then within their division, then across the
organisation; a pool that is still too small takes in the smallest atom beside it (the
classic "suppress the next-smallest sibling too").

A shown figure only ever adds up whole atoms that lie inside what was asked for (`release`).
Any sum, difference or other linear combination of shown figures is then a combination of
whole atoms, and an atom of two or more cells never gives away the cells inside it: a small
cell's own numbers stay out of reach, however the filters are combined. This holds for counts
and for sums alike (responses, favourable answers, score totals and their squares).

Because atoms are fixed before any question is asked, two filters that differ by a small
group cannot both be answered exactly: the larger one leaves out the small group's atom
unless the atom fits entirely inside it, in which case the smaller filter leaves it out too
or differs by at least a whole atom (the minimum or more responses).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from surveys.reporting.reference import Reference

if TYPE_CHECKING:  # scope asks release which cycles have results, so only for annotations
    from surveys.reporting.scope import Selection

Cell = tuple[int, int]
"""(department_id, staff_group_id)."""

CELL_COLUMNS = ["department_id", "staff_group_id"]


def is_small(count: Any, minimum: int) -> Any:
    """Primary suppression: a figure resting on fewer than `minimum` responses is not shown.

    The one statement of the rule; works on a number or elementwise on an array.
    """
    return count < minimum


def fewer_than(minimum: int) -> str:
    """What is shown in place of a figure or count resting on too few responses."""
    return f"fewer than {minimum}"


@dataclass(frozen=True)
class Partition:
    """One cycle's cells split into atoms; only whole atoms are ever added into a figure."""

    minimum: int
    members: Sequence[Sequence[Cell]]
    sizes: Sequence[int]
    atom_of: Mapping[Cell, int] = field(repr=False)

    @property
    def atoms(self) -> tuple[frozenset[Cell], ...]:
        return tuple(frozenset(cells) for cells in self.members)

    def releasable(self, atom: int) -> bool:
        """False only for the one atom left when the whole organisation is below the minimum."""
        return not is_small(self.sizes[atom], self.minimum)

    def covered(self, cells: Collection[Cell]) -> frozenset[Cell]:
        """The cells whose whole atom lies within `cells`: the part of `cells` a figure adds up."""
        wanted = set(cells)
        result: set[Cell] = set()
        for atom in {self.atom_of[cell] for cell in wanted if cell in self.atom_of}:
            if self.releasable(atom) and wanted.issuperset(self.members[atom]):
                result.update(self.members[atom])
        return frozenset(result)


class _Atoms:
    """Atoms being built: members and sizes by number, merged in place."""

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.members: list[list[Cell]] = []
        self.sizes: list[int] = []

    def new(self, cells: list[Cell], size: int) -> int:
        self.members.append(cells)
        self.sizes.append(size)
        return len(self.sizes) - 1

    def settle(
        self, partners: list[int], pooled: list[tuple[list[Cell], int]]
    ) -> tuple[list[Cell], int] | None:
        """Pool the small units of one parent; if the pool is too small, merge it into the
        smallest of `partners` (the parent's atoms). Returns the pool when the parent has no
        atom to give (the parent itself is too small), so it can be carried up a level."""
        cells = [cell for unit, _ in pooled for cell in unit]
        size = sum(unit_size for _, unit_size in pooled)
        if not cells:
            return None
        if is_small(size, self.minimum) and partners:
            # Atoms are disjoint, so their smallest cells tell equal-sized atoms apart.
            partner = min(partners, key=lambda atom: (self.sizes[atom], min(self.members[atom])))
            self.members[partner] += cells
            self.sizes[partner] += size
            return None
        if not is_small(size, self.minimum):
            partners.append(self.new(cells, size))
            return None
        return cells, size


def partition(
    counts: Mapping[Cell, int], *, division_of: Mapping[int, int], minimum: int
) -> Partition:
    """Split one cycle's cells (responses per department × staff group) into atoms.

    A cell given with no responses (invited, nobody answered) is pooled like any small cell,
    so that "nobody answered" and "a few answered" look the same. Every atom has at least
    `minimum` responses, except when the whole organisation has fewer: then everything is one
    atom, never shown.
    """
    if minimum < 1:
        raise ValueError("the minimum group size must be at least 1")
    by_department: dict[int, list[Cell]] = defaultdict(list)
    for cell, count in counts.items():
        if count < 0:
            raise ValueError(f"cell {cell} has a negative count")
        by_department[cell[0]].append(cell)
    departments_by_division: dict[int, list[int]] = defaultdict(list)
    for department in sorted(by_department):
        departments_by_division[division_of[department]].append(department)

    atoms = _Atoms(minimum)
    everywhere: list[int] = []
    division_remainders = []
    for division in sorted(departments_by_division):
        in_division: list[int] = []
        department_remainders = []
        for department in departments_by_division[division]:
            in_department, small = [], []
            for cell in sorted(by_department[department]):
                count = counts[cell]
                if not is_small(count, minimum):  # the common case, kept cheap
                    in_department.append(len(atoms.sizes))
                    atoms.members.append([cell])
                    atoms.sizes.append(count)
                else:
                    small.append(([cell], count))
            if small:
                remainder = atoms.settle(in_department, small)
                if remainder is not None:
                    department_remainders.append(remainder)
            in_division += in_department
        if department_remainders:
            remainder = atoms.settle(in_division, department_remainders)
            if remainder is not None:
                division_remainders.append(remainder)
        everywhere += in_division
    if division_remainders:
        remainder = atoms.settle(everywhere, division_remainders)
        if remainder is not None:  # the whole organisation is below the minimum
            atoms.new(*remainder)

    atom_of = {cell: index for index, cells in enumerate(atoms.members) for cell in cells}
    return Partition(minimum, atoms.members, atoms.sizes, atom_of)


# Cells are found by one integer key; ids stay well below 2**21 in any real organisation.
_ID_LIMIT = 2**21


def cell_keys(
    cycle_ids: np.ndarray, department_ids: np.ndarray, group_ids: np.ndarray
) -> np.ndarray:
    cycle_ids, department_ids, group_ids = (
        np.asarray(values, dtype=np.int64) for values in (cycle_ids, department_ids, group_ids)
    )
    for values in (cycle_ids, department_ids, group_ids):
        if values.size and (values.min() < 0 or values.max() >= _ID_LIMIT):
            raise ValueError("ids must lie between 0 and 2**21")
    return (cycle_ids * _ID_LIMIT + department_ids) * _ID_LIMIT + group_ids


def _first_per_group(groups: np.ndarray, *order_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each distinct value of `groups`, the position of its first element when ordered by
    `order_keys` (most significant first): (group values, positions)."""
    order = np.lexsort((*reversed(order_keys), groups))
    sorted_groups = groups[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_groups[1:] != sorted_groups[:-1]
    return sorted_groups[first], order[first]


def _pool_level(
    label: np.ndarray,
    size: np.ndarray,
    finished: np.ndarray,
    parent_of_atom: np.ndarray,
    minimum: int,
) -> None:
    """One level of `partition`, for every parent at once, in place.

    Atoms are named by a representative cell (`label` holds each cell's atom; `size` and
    `finished` are indexed by representative). Unfinished atoms under a parent are pooled;
    a pool below the minimum merges into the parent's smallest finished atom (ties: the
    smallest cell), or stays unfinished when the parent has none.
    """
    roots = np.flatnonzero(label == np.arange(len(label)))
    open_roots = roots[~finished[roots]]
    if not len(open_roots):
        return
    parents, pool_root = _first_per_group(parent_of_atom[open_roots], open_roots)
    pool_root = open_roots[pool_root]
    pool_of_parent = dict(zip(parents.tolist(), pool_root.tolist(), strict=True))
    pool_size = dict.fromkeys(parents.tolist(), 0)
    for root, parent in zip(open_roots.tolist(), parent_of_atom[open_roots].tolist(), strict=True):
        pool_size[parent] += int(size[root])
    done = roots[finished[roots]]
    if len(done):
        # Ties go to the atom with the smallest cell, which need not be its representative.
        smallest_cell = np.full(len(label), len(label))
        np.minimum.at(smallest_cell, label, np.arange(len(label)))
        partner_parents, partner = _first_per_group(
            parent_of_atom[done], size[done], smallest_cell[done]
        )
        partner_of_parent = dict(zip(partner_parents.tolist(), done[partner].tolist(), strict=True))
    else:
        partner_of_parent = {}
    target = {}
    for parent, root in pool_of_parent.items():
        if is_small(pool_size[parent], minimum) and parent in partner_of_parent:
            target[parent] = partner_of_parent[parent]
            size[target[parent]] += pool_size[parent]
        else:
            target[parent] = root
            size[root] = pool_size[parent]
            finished[root] = not is_small(pool_size[parent], minimum)
    open_atom = np.isin(label, open_roots)
    cells = np.flatnonzero(open_atom)
    label[cells] = [target[p] for p in parent_of_atom[label[cells]].tolist()]


def label_atoms(
    cycle_ids: np.ndarray,
    department_ids: np.ndarray,
    group_ids: np.ndarray,
    division_ids: np.ndarray,
    counts: np.ndarray,
    *,
    minimum: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`partition` for many cycles' cells at once, vectorised: the atom of each cell (named
    by one of its cells' positions) and whether the atom may be shown.

    Gives exactly the atoms `partition` gives (a test checks); `partition` stays the plain
    statement of the rule. Cells must be sorted by cycle, department, group.
    """
    if minimum < 1:
        raise ValueError("the minimum group size must be at least 1")
    counts = np.asarray(counts, dtype=np.int64)
    cells = len(counts)
    label = np.arange(cells)
    size = counts.copy()
    finished = ~is_small(counts, minimum)
    department_key = cell_keys(cycle_ids, department_ids, np.zeros(cells, dtype=np.int64))
    division_key = cell_keys(cycle_ids, division_ids, np.zeros(cells, dtype=np.int64))
    cycle_key = np.asarray(cycle_ids, dtype=np.int64)
    for parent in (department_key, division_key, cycle_key):
        # Parents are the same for every cell of an atom below this level.
        _pool_level(label, size, finished, parent, minimum)
    return label, ~is_small(size[label], minimum)


class AtomTable:
    """Every cell of some cycles with its atom, as arrays, for adding up figures quickly.

    `atom` numbers run over all cycles together.
    """

    def __init__(
        self,
        *,
        cycle_ids: np.ndarray,
        department_ids: np.ndarray,
        staff_group_ids: np.ndarray,
        division_ids: np.ndarray,
        atom: np.ndarray,
        releasable: np.ndarray,
    ) -> None:
        self.columns: dict[str, np.ndarray] = {
            "cycle_id": np.asarray(cycle_ids, dtype=np.int64),
            "department_id": np.asarray(department_ids, dtype=np.int64),
            "staff_group_id": np.asarray(staff_group_ids, dtype=np.int64),
            "division_id": np.asarray(division_ids, dtype=np.int64),
        }
        _, self.atom = np.unique(np.asarray(atom, dtype=np.int64), return_inverse=True)
        self.atom = self.atom.reshape(-1)
        self.atoms = int(self.atom.max(initial=-1)) + 1
        self.releasable = np.asarray(releasable, dtype=bool)
        keys = cell_keys(
            self.columns["cycle_id"], self.columns["department_id"], self.columns["staff_group_id"]
        )
        self._order = np.argsort(keys, kind="stable")
        self._sorted_keys = keys[self._order]

    @classmethod
    def from_cells(
        cls,
        cycle_ids: np.ndarray,
        department_ids: np.ndarray,
        staff_group_ids: np.ndarray,
        counts: np.ndarray,
        *,
        division_of: Mapping[int, int],
        minimum: int,
    ) -> AtomTable:
        """Cells with their responses (any order; a cell with none is pooled like a small one)."""
        cycle_ids, department_ids, staff_group_ids, counts = (
            np.asarray(values, dtype=np.int64)
            for values in (cycle_ids, department_ids, staff_group_ids, counts)
        )
        keep = np.ones(len(counts), dtype=bool)
        if (counts < 0).any():
            raise ValueError("a cell has a negative count")
        order = np.lexsort((staff_group_ids[keep], department_ids[keep], cycle_ids[keep]))
        cycle, department, group, count = (
            values[keep][order] for values in (cycle_ids, department_ids, staff_group_ids, counts)
        )
        divisions = {d: division_of[d] for d in np.unique(department).tolist()}
        division = np.asarray([divisions[d] for d in department.tolist()], dtype=np.int64)
        atom, releasable = label_atoms(cycle, department, group, division, count, minimum=minimum)
        return cls(
            cycle_ids=cycle,
            department_ids=department,
            staff_group_ids=group,
            division_ids=division,
            atom=atom,
            releasable=releasable,
        )

    @classmethod
    def from_partitions(
        cls, partitions: Mapping[int, Partition], *, division_of: Mapping[int, int]
    ) -> AtomTable:
        """The atoms of `partition`, cycle by cycle."""
        cycles, cells, atoms, releasable = [], [], [], []
        offset = 0
        for cycle_id in sorted(partitions):
            part = partitions[cycle_id]
            count = len(part.atom_of)
            cycles.append(np.full(count, cycle_id, dtype=np.int64))
            cells.append(
                np.fromiter(
                    itertools.chain.from_iterable(part.atom_of), dtype=np.int64, count=2 * count
                ).reshape(count, 2)
            )
            local = np.fromiter(part.atom_of.values(), dtype=np.int64, count=count)
            atoms.append(local + offset)
            sizes = np.asarray(part.sizes, dtype=np.int64)
            releasable.append(~is_small(sizes, part.minimum)[local])
            offset += len(part.sizes)
        cell_array = np.concatenate(cells) if cells else np.zeros((0, 2), dtype=np.int64)
        department = cell_array[:, 0]
        return cls(
            cycle_ids=np.concatenate(cycles) if cycles else np.zeros(0, dtype=np.int64),
            department_ids=department,
            staff_group_ids=cell_array[:, 1],
            division_ids=np.asarray([division_of[d] for d in department.tolist()], dtype=np.int64),
            atom=np.concatenate(atoms) if atoms else np.zeros(0, dtype=np.int64),
            releasable=np.concatenate(releasable) if releasable else np.zeros(0, dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.atom)

    def selected(self, departments: Collection[int], groups: Collection[int]) -> np.ndarray:
        return np.isin(self.columns["department_id"], list(departments)) & np.isin(
            self.columns["staff_group_id"], list(groups)
        )

    def covered(self, selected: np.ndarray, keys: Sequence[str] = ()) -> np.ndarray:
        """Which rows a figure may add up: those whose whole atom is selected, may be shown
        at all, and lies within one value of each of `keys` (e.g. a single department)."""
        outside = np.bincount(self.atom, weights=~selected, minlength=self.atoms)
        whole = outside == 0
        for key in keys:
            values = self.columns[key]
            low = np.full(self.atoms, np.iinfo(np.int64).max)
            high = np.full(self.atoms, np.iinfo(np.int64).min)
            np.minimum.at(low, self.atom, values)
            np.maximum.at(high, self.atom, values)
            whole &= low == high
        return whole[self.atom] & self.releasable

    def locate(self, frame: pd.DataFrame) -> np.ndarray:
        """The row of each of `frame`'s cells (cycle_id, department_id, staff_group_id),
        or -1 for a cell with no responses."""
        keys = cell_keys(
            frame["cycle_id"].to_numpy(),
            frame["department_id"].to_numpy(),
            frame["staff_group_id"].to_numpy(),
        )
        if not len(self._sorted_keys):
            return np.full(len(keys), -1, dtype=np.int64)
        position = np.minimum(np.searchsorted(self._sorted_keys, keys), len(self._sorted_keys) - 1)
        return np.where(self._sorted_keys[position] == keys, self._order[position], -1)

    def release(
        self,
        data: pd.DataFrame,
        *,
        selected: np.ndarray,
        keys: Sequence[str],
        n: str,
        sums: Sequence[str],
        minimum: int,
    ) -> pd.DataFrame:
        """Add up cell-level data into shown figures, one per (cycle_id, measure, *keys).

        `data` has one row per cycle, cell and measure, with the cell's respondent count `n`
        and the quantities to add up (`sums`); `selected` flags this table's rows that the
        question asks about.

        A figure adds up only atoms that lie wholly inside the question and inside one value
        of the keys (an atom spanning two departments counts toward neither department's
        row), and only atoms with at least `minimum` respondents for this measure (answers of
        "does not apply" can leave fewer than the responses). A row absent from the result is
        suppressed.
        """
        keys = list(keys)
        columns = ["cycle_id", "measure", *keys, n, *sums]
        if data.empty or not len(self):
            return pd.DataFrame({column: [] for column in columns})
        rows = self.locate(data)
        usable = self.covered(selected, keys)
        keep = rows >= 0
        keep[keep] = usable[rows[keep]]
        rows = rows[keep]
        measure = data["measure"].to_numpy()[keep].astype(np.int64)
        # Measures with "does not apply" answers: an atom counts only if enough people answered.
        counts = data[n].to_numpy()[keep].astype(np.float64)
        _, group_of_row = np.unique(measure * self.atoms + self.atom[rows], return_inverse=True)
        per_atom = np.bincount(group_of_row, weights=counts)
        alive = ~is_small(per_atom[group_of_row], minimum)
        rows, measure = rows[alive], measure[alive]
        # One figure per (cycle, measure, *keys): number each column's values, then combine
        # the numbers into one code (far quicker than finding unique rows).
        identity = [self.columns["cycle_id"][rows], measure, *(self.columns[k][rows] for k in keys)]
        code = np.zeros(len(rows), dtype=np.int64)
        uniques, combinations = [], 1
        for values in identity:
            unique, position = np.unique(values, return_inverse=True)
            uniques.append(unique)
            combinations *= max(1, len(unique))
            if combinations >= 2**62:
                raise OverflowError("too many distinct figures to number in 64 bits")
            code = code * len(unique) + position.reshape(-1)
        figures, figure_of_row = np.unique(code, return_inverse=True)
        figure_of_row = figure_of_row.reshape(-1)
        result: dict[str, np.ndarray] = {}
        remaining = figures
        for column, unique in reversed(
            list(zip(["cycle_id", "measure", *keys], uniques, strict=True))
        ):
            result[column] = unique[remaining % len(unique)]
            remaining = remaining // len(unique)
        result = {column: result[column] for column in ["cycle_id", "measure", *keys]}
        for column in [n, *sums]:
            values = data[column].to_numpy()[keep][alive]
            added = np.bincount(
                figure_of_row, weights=values.astype(np.float64), minlength=len(figures)
            )
            # Counts stay whole numbers (exact: float64 holds integers up to 2**53).
            result[column] = (
                np.rint(added).astype(np.int64)
                if np.issubdtype(values.dtype, np.integer)
                else added
            )
        return pd.DataFrame(result)


# --- What reports add up ------------------------------------------------------------------------


def atoms_of(
    cells: pd.DataFrame, reference: Reference, cycle_ids: Collection[int], minimum: int
) -> AtomTable:
    """Each cycle's cells (cycle_id, department_id, staff_group_id, responses) split into atoms."""
    wanted = cells[cells["cycle_id"].isin(list(cycle_ids))]
    return AtomTable.from_cells(
        wanted["cycle_id"].to_numpy(),
        wanted["department_id"].to_numpy(),
        wanted["staff_group_id"].to_numpy(),
        wanted["responses"].to_numpy(),
        division_of=reference.division_of,
        minimum=minimum,
    )


def release(
    atoms: AtomTable,
    data: pd.DataFrame,
    selection: Selection,
    *,
    keys: Sequence[str],
    n: str,
    sums: Sequence[str],
    minimum: int,
) -> pd.DataFrame:
    """`AtomTable.release` of what `selection` asks for."""
    return atoms.release(
        data,
        selected=atoms.selected(selection.departments, selection.groups),
        keys=keys,
        n=n,
        sums=sums,
        minimum=minimum,
    )


def scores_by_department(
    atoms: AtomTable,
    scores: pd.DataFrame,
    selection: Selection,
    minimum: int,
    *,
    key: str = "department_id",
) -> pd.DataFrame:
    """Released score sums for all selected departments together (`key` -1), then for each
    department (or, with `key` "division_id", each division: whole atoms never span two)."""
    overall = scores_overall(atoms, scores, selection, minimum).assign(**{key: -1})
    each = release(atoms, scores, selection, keys=[key], n="n", sums=_SCORE_SUMS, minimum=minimum)
    return pd.concat([overall, each], ignore_index=True)


_SCORE_SUMS = ["total", "total_sq"]


def scores_overall(
    atoms: AtomTable, scores: pd.DataFrame, selection: Selection, minimum: int
) -> pd.DataFrame:
    """Released score sums for the whole selection together, per cycle and measure."""
    return release(atoms, scores, selection, keys=[], n="n", sums=_SCORE_SUMS, minimum=minimum)


def covered_cells(atoms: AtomTable, selection: Selection, cycle_id: int) -> set[Cell]:
    """The cells of one cycle that a figure over the whole selection adds up."""
    mask = atoms.covered(atoms.selected(selection.departments, selection.groups))
    mask &= atoms.columns["cycle_id"] == cycle_id
    return set(
        zip(
            atoms.columns["department_id"][mask].tolist(),
            atoms.columns["staff_group_id"][mask].tolist(),
            strict=True,
        )
    )
