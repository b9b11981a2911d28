"""Comments: free text, only from groups of at least the comment minimum, shuffled here."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, replace

import pandas as pd
from sqlalchemy import Engine

from surveys.config import get_settings
from surveys.reporting.release import atoms_of, covered_cells
from surveys.reporting.scope import Filters
from surveys.reporting.source import ReportSource, open_source


@dataclass(frozen=True)
class Comments:
    """Comment texts in a fresh random order, or none when the group is too small."""

    texts: tuple[str, ...]
    suppressed: bool
    minimum: int
    note: str = ""

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"comment": list(self.texts)})

    def matching(self, search: str) -> Comments:
        """The comments that hold every word of `search`, in the same order, ignoring case
        and accents. An empty search keeps them all; nothing is released that `texts` did not
        already hold."""
        words = _folded(search).split()
        if not words:
            return self
        texts = tuple(text for text in self.texts if all(w in _folded(text) for w in words))
        return replace(self, texts=texts)


def _folded(text: str) -> str:
    """Lower case without accents, so that "cafe" finds "Café"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def comments(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
    limit: int | None = None,
) -> Comments:
    """Comments of the selection, only from groups of at least the comment minimum.

    Plain strings, shuffled on every call, with no date, department or group attached: the
    page must show them as text (st.text), never as markdown or HTML.
    """
    minimum = get_settings().min_comment_group_size
    with open_source(data) as source:
        reference = source.reference()
        reference.cycle(cycle_id)
        selection = Filters(departments, selected_departments, divisions, staff_groups).within(
            reference
        )
        cells = source.cells([cycle_id])
        atoms = atoms_of(cells, reference, [cycle_id], minimum)
        covered = covered_cells(atoms, selection, cycle_id)
        texts = source.comments(cycle_id, covered)
    random.SystemRandom().shuffle(texts)
    if limit is not None:
        texts = texts[:limit]
    # Also when nobody in the selection answered: "none" and "too few" must look the same.
    is_suppressed = not covered
    return Comments(
        tuple(texts),
        is_suppressed,
        minimum,
        note=f"comments are shown for groups of {minimum} or more responses"
        if is_suppressed
        else "",
    )
