"""CSV output that spreadsheets cannot execute: formula-like cells are neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import pandas as pd

# A spreadsheet treats a cell starting with any of these as a formula (or as a way into one).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix formula-like text with an apostrophe, the convention spreadsheets honour."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def rows_to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


def frame_to_csv(frame: pd.DataFrame) -> str:
    """A DataFrame as safe CSV text (numbers stay numbers; only text is neutralised)."""
    return rows_to_csv([str(column) for column in frame.columns], frame.itertuples(index=False))
