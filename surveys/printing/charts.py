"""Charts for paper, drawn with matplotlib in the app's palette: PNG bytes in, nothing shown.

Uses matplotlib's object API (no pyplot), so nothing global is touched and a page may draw
while another draws. Each chart only draws figures it is handed: suppressed ones are left out
of the marks and named "fewer than k" in the labels, never coloured as data.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure as Canvas

from surveys.palette import FAVOURABLE, GRID, MUTED_TEXT, NEUTRAL, TEXT
from surveys.reporting.overview import DimensionFigure

DPI = 200
FONT = "DejaVu Sans"  # shipped with matplotlib: the same letters as the PDF's text


def _png(canvas: Canvas) -> bytes:
    buffer = io.BytesIO()
    canvas.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _calm(axes: object) -> None:
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)  # type: ignore[attr-defined]  # matplotlib Axes
    axes.spines["bottom"].set_color(NEUTRAL)  # type: ignore[attr-defined]  # matplotlib Axes
    axes.tick_params(colors=TEXT, labelsize=7, length=0)  # type: ignore[attr-defined]


def dimension_bars(
    dimensions: Sequence[DimensionFigure], *, minimum: int, width_mm: float
) -> bytes:
    """Percent favourable per dimension, highest first, with 95% whiskers."""
    rows = list(dimensions)
    height_mm = 8 + 6.2 * len(rows)
    canvas = Canvas(figsize=(width_mm / 25.4, height_mm / 25.4))
    axes = canvas.add_axes((0.34, 0.1, 0.6, 0.86))
    labels = []
    for position, dimension in enumerate(rows):
        figure = dimension.figure
        labels.append(_short(dimension.label))
        if figure.suppressed or figure.value is None:
            axes.text(1, position, f"fewer than {minimum}", va="center", fontsize=6.5,
                      color=MUTED_TEXT, family=FONT)  # fmt: skip
            continue
        axes.barh(position, figure.value, color=FAVOURABLE, height=0.62)
        if figure.low is not None and figure.high is not None:
            axes.plot([figure.low, figure.high], [position, position], color=TEXT, lw=0.7)
        axes.text(min(figure.value + 1.5, 96), position, f"{figure.value:.0f}%", va="center",
                  fontsize=6.5, color=TEXT, family=FONT)  # fmt: skip
    axes.set_yticks(range(len(rows)), labels, fontsize=7, family=FONT)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
    axes.xaxis.grid(True, color=GRID, lw=0.5)
    axes.set_axisbelow(True)
    _calm(axes)
    return _png(canvas)


def index_trend(frame: pd.DataFrame, *, width_mm: float, height_mm: float = 62) -> bytes:
    """The index of all selected departments across cycles, with its 95% band; gaps where a
    cycle's figure is suppressed."""
    total = frame[frame["department_id"].isna()]
    canvas = Canvas(figsize=(width_mm / 25.4, height_mm / 25.4))
    axes = canvas.add_axes((0.08, 0.16, 0.9, 0.78))
    positions = list(range(len(total)))
    values = pd.to_numeric(total["value"], errors="coerce").to_numpy(dtype=float)
    low = pd.to_numeric(total["low"], errors="coerce").to_numpy(dtype=float)
    high = pd.to_numeric(total["high"], errors="coerce").to_numpy(dtype=float)
    axes.fill_between(positions, low, high, color=FAVOURABLE, alpha=0.15, lw=0)
    axes.plot(positions, values, color=FAVOURABLE, lw=1.6, marker="o", markersize=3)
    # The table under the chart names each cycle in full.
    names = [_short(str(name), 14) for name in total["cycle"]]
    axes.set_xticks(positions, names, fontsize=6.5, family=FONT)
    axes.set_ylim(0, 100)
    axes.set_ylabel("Index (0-100)", fontsize=7, color=TEXT, family=FONT)
    axes.yaxis.grid(True, color=GRID, lw=0.5)
    axes.set_axisbelow(True)
    _calm(axes)
    return _png(canvas)


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
