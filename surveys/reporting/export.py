"""Downloads: the aggregates behind a chart as CSV that spreadsheets will not execute."""

from __future__ import annotations

from typing import Any

import pandas as pd

from surveys.csvsafe import frame_to_csv


def to_csv(result: pd.DataFrame | Any) -> str:
    """The aggregates behind a chart as CSV that spreadsheets will not execute.

    Accepts any report result (its `table()`) or a DataFrame a report returned.
    """
    frame = result if isinstance(result, pd.DataFrame) else result.table()
    return frame_to_csv(frame)
