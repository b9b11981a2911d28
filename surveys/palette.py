"""The one colour-blind-safe palette (Okabe-Ito) the app's charts and the printed report share.

Favourable is always blue and unfavourable always vermillion, in every chart and on paper, so a
colour means the same thing wherever a reader meets it. Heat scales run from vermillion through
light grey to blue on a fixed 0-100 scale.
"""

from __future__ import annotations

FAVOURABLE = "#0072B2"
FAVOURABLE_LIGHT = "#80B9D8"  # "agree": blue mixed half with white
NEUTRAL = "#BBBBBB"
UNFAVOURABLE_LIGHT = "#EAAF80"  # "disagree": vermillion mixed half with white
UNFAVOURABLE = "#D55E00"
MIDPOINT = "#EEEEEE"
TEXT = "#333333"
MUTED_TEXT = "#666666"
GRID = "#E5E5E5"
TOTAL_LINE = "#000000"
# Okabe-Ito, for lines that are simply different series (departments), not good or bad.
SERIES = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


def rgb(colour: str) -> tuple[int, int, int]:
    """'#RRGGBB' as three 0-255 integers."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def heat_colour(percent: float) -> tuple[int, int, int]:
    """The heatmap colour of a percentage (0-100): vermillion, light grey at 50, blue."""
    share = min(max(percent, 0.0), 100.0) / 100.0
    if share <= 0.5:
        low, high, t = rgb(UNFAVOURABLE), rgb(MIDPOINT), share / 0.5
    else:
        low, high, t = rgb(MIDPOINT), rgb(FAVOURABLE), (share - 0.5) / 0.5
    return tuple(round(a + (b - a) * t) for a, b in zip(low, high, strict=True))  # type: ignore[return-value]  # three channels in, three out
