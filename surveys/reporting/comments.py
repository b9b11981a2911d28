"""Comments: free text, only from groups of at least the comment minimum, shuffled here, with
their themes and tones (surveys/reporting/themes.py) released from the same comments."""

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
from surveys.reporting.themes import Analysis, ThemeCount, shown_theme, theme_counts

NOT_ANALYSED = "not analysed yet"


@dataclass(frozen=True)
class Comments:
    """Comment texts in a fresh random order, or none when the group is too small.

    `themes` and `tones` go with `texts`, one each: the theme a comment shows ("other" when its
    own theme is too small to be counted) and its tone, or "not analysed yet". `themes_counted`
    are the selection's themes, each of at least the comment minimum, from the same comments.
    """

    texts: tuple[str, ...]
    suppressed: bool
    minimum: int
    note: str = ""
    themes: tuple[str, ...] = ()
    tones: tuple[str, ...] = ()
    themes_counted: tuple[ThemeCount, ...] = ()
    not_analysed: int = 0

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame({"comment": list(self.texts)})
        if self.themes:
            frame["theme"] = list(self.themes)
            frame["sentiment"] = list(self.tones)
        return frame

    def _keeping(self, keep: list[bool]) -> Comments:
        return replace(
            self,
            texts=tuple(text for text, kept in zip(self.texts, keep, strict=True) if kept),
            themes=tuple(theme for theme, kept in zip(self.themes, keep, strict=False) if kept),
            tones=tuple(tone for tone, kept in zip(self.tones, keep, strict=False) if kept),
        )

    def matching(self, search: str) -> Comments:
        """The comments that hold every word of `search`, in the same order, ignoring case
        and accents. An empty search keeps them all; nothing is released that `texts` did not
        already hold."""
        words = _folded(search).split()
        if not words:
            return self
        return self._keeping([all(w in _folded(text) for w in words) for text in self.texts])

    def about(self, theme: str | None) -> Comments:
        """The comments that show `theme`, in the same order; None keeps them all."""
        if theme is None:
            return self
        return self._keeping([shown == theme for shown in self.themes])


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
        analysed = getattr(source, "analysed_comments", None)
        rows = (
            analysed(cycle_id, covered)
            if analysed is not None
            # A source without analyses (bench's) gives texts only.
            else [(text, None, None) for text in source.comments(cycle_id, covered)]
        )
    random.SystemRandom().shuffle(rows)
    # Counted over every released comment of the selection, before any limit.
    done = [Analysis(theme, tone) for _, theme, tone in rows if theme is not None and tone]
    counted = theme_counts(done, minimum)
    not_analysed = len(rows) - len(done)
    if limit is not None:
        rows = rows[:limit]
    # Also when nobody in the selection answered: "none" and "too few" must look the same.
    is_suppressed = not covered
    return Comments(
        tuple(text for text, _, _ in rows),
        is_suppressed,
        minimum,
        note=f"comments are shown for groups of {minimum} or more responses"
        if is_suppressed
        else "",
        themes=tuple(
            NOT_ANALYSED if theme is None else shown_theme(theme, counted) for _, theme, _ in rows
        ),
        tones=tuple(tone or NOT_ANALYSED for _, _, tone in rows),
        themes_counted=counted,
        not_analysed=not_analysed,
    )


THEME_TREND_COLUMNS = ["cycle_id", "cycle", "theme", "comments", "negative", "share_negative"]


def theme_trends(
    data: Engine | ReportSource,
    *,
    cycle_id: int,
    departments: frozenset[int] | None,
    selected_departments: frozenset[int] | None = None,
    divisions: frozenset[int] | None = None,
    staff_groups: frozenset[int] | None = None,
) -> pd.DataFrame:
    """The selection's counted themes in each cycle that opened no later than `cycle_id`, oldest
    first, one row per cycle and theme; empty unless every one of those cycles passes the
    comment minimum and has counted themes, so a chart never sets a shown cycle beside a
    hidden one."""
    rows: list[dict[str, object]] = []
    with open_source(data) as source:
        reference = source.reference()
        last = reference.cycle(cycle_id)
        cycles = [cycle for cycle in reference.cycles if cycle.opens <= last.opens]
        for cycle in cycles:
            result = comments(
                source,
                cycle_id=cycle.id,
                departments=departments,
                selected_departments=selected_departments,
                divisions=divisions,
                staff_groups=staff_groups,
            )
            if result.suppressed or not result.themes_counted:
                return pd.DataFrame(columns=THEME_TREND_COLUMNS)
            rows += [
                {
                    "cycle_id": cycle.id,
                    "cycle": cycle.name,
                    "theme": count.theme,
                    "comments": count.count,
                    "negative": count.negative,
                    "share_negative": count.share_negative,
                }
                for count in result.themes_counted
            ]
    return pd.DataFrame(rows, columns=THEME_TREND_COLUMNS)
