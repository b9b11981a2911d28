"""Pure chart builders: reporting results in, plotly Figures out (no Streamlit, no queries).

One colour-blind-safe mapping everywhere (Okabe-Ito): favourable is blue, unfavourable is
vermillion, neutral is grey, with light tints for the "agree" and "disagree" points. Heatmaps
run from vermillion through light grey to blue on a fixed 0-100 scale, so a colour means the
same percentage in every chart. Suppressed figures are never coloured as data: they are
left blank and labelled "fewer than k".

Long because every chart shares that one palette, its template and its suppression rule;
split per chart, each file would import the same dozen helpers for a few dozen lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from surveys.palette import (
    FAVOURABLE,
    FAVOURABLE_LIGHT,
    GRID,
    MIDPOINT,
    MUTED_TEXT,
    NEUTRAL,
    SERIES,
    TEXT,
    TOTAL_LINE,
    UNFAVOURABLE,
    UNFAVOURABLE_LIGHT,
)
from surveys.reporting import Figure, Heatmap, Overview, PlanProgress, Relationships

HEAT_SCALE = [[0.0, UNFAVOURABLE], [0.5, MIDPOINT], [1.0, FAVOURABLE]]
ANSWER_COLOURS = {
    1: UNFAVOURABLE,
    2: UNFAVOURABLE_LIGHT,
    3: NEUTRAL,
    4: FAVOURABLE_LIGHT,
    5: FAVOURABLE,
}
ANSWER_LABELS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neither",
    4: "Agree",
    5: "Strongly agree",
}
# plotly's "simple_white", cut to what these charts use: applying the whole template
# validates and deep-copies defaults for two dozen trace types and 3-D scenes on every chart,
# which was most of the time of a cached page rerun.
_SIMPLE_WHITE = pio.templates["simple_white"]
TEMPLATE = go.layout.Template(
    layout={
        key: _SIMPLE_WHITE.layout[key]
        for key in (
            "annotationdefaults",
            "autotypenumbers",
            "coloraxis",
            "colorscale",
            "colorway",
            "font",
            "hoverlabel",
            "hovermode",
            "paper_bgcolor",
            "plot_bgcolor",
            "shapedefaults",
            "title",
            "xaxis",
            "yaxis",
        )
    },
    data={
        "bar": [{"marker": _SIMPLE_WHITE.data.bar[0].marker}],
        "heatmap": [{"colorbar": _SIMPLE_WHITE.data.heatmap[0].colorbar}],
    },
)
# Long department or item names are cut for narrow screens; the hover shows them whole.
LABEL_LIMIT = 28


def suppressed_label(minimum: int) -> str:
    return f"fewer than {minimum}"


def _short(label: str, limit: int = LABEL_LIMIT) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _wrap(label: str, width: int = 24, lines: int = 3) -> str:
    """Break a long label over up to `lines` lines for narrow screens (the hover shows it all)."""
    words, rows, current = label.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            rows.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    rows.append(current)
    if len(rows) > lines:
        rows = rows[:lines]
        rows[-1] = _short(rows[-1] + " …", width)
    return "<br>".join(_short(row, width + 4) for row in rows)


def _axis_labels(labels: Sequence[str], width: int = 24, lines: int = 3) -> list[str]:
    """Wrapped axis labels that stay distinct (plotly merges equal category labels)."""
    result, seen = [], set()
    for label in labels:
        short = _wrap(label, width) if lines > 1 else _short(label, width)
        while short in seen:
            short += "\u200b"
        seen.add(short)
        result.append(short)
    return result


def _calm(figure: go.Figure, *, height: int | None = None) -> go.Figure:
    """White, quiet and legible on a phone: no gridlines unless a chart asks for them,
    legend below, small margins. Applied first; each chart then sets what it needs."""
    figure.update_layout(
        template=TEMPLATE,
        paper_bgcolor="white",
        plot_bgcolor="white",
        font={"family": "Inter, Helvetica, Arial, sans-serif", "size": 13, "color": TEXT},
        margin={"l": 8, "r": 8, "t": 36, "b": 8},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "title": None},
        hoverlabel={"bgcolor": "white", "font": {"color": TEXT}},
        height=height,
    )
    figure.update_xaxes(showgrid=False, zeroline=False, automargin=True, ticks="")
    figure.update_yaxes(showgrid=False, zeroline=False, automargin=True, ticks="")
    return figure


def _mentions(text: str, name: str) -> bool:
    """Whether a question already names the group (so the chart need not repeat it)."""
    return name.lower().replace("&", "and") in text.lower().replace("&", "and")


def _percent(value: float | None) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.0f}%"


def _change(value: float | None, significant: bool | None) -> str:
    if value is None or pd.isna(value):
        return "no comparison"
    # The precise words ("significant at 95%") are in the pages' help text.
    marker = " (a real change)" if significant else " (no real change)"
    return f"{value:+.1f} points{marker}"


# --- Trends -------------------------------------------------------------------------------------


def trend_chart(
    frame: pd.DataFrame,
    *,
    series: str = "department",
    title: str | None = None,
    percent: bool = False,
    minimum: int | None = None,
    y_range: tuple[float, float] | None = (0, 100),
    compact: bool = False,
) -> go.Figure:
    """One line per series across cycles, each with its 95% band; gaps where suppressed.

    `frame` is what `reporting.trends` or `reporting.relationship_trends` returns (for the
    latter, add a `series` column such as "Nursing → Physicians"). `compact` (for phones)
    stands the cycle names upright, whole, where slanted ones overlapped and were cut off.
    """
    figure = go.Figure()
    cycles = list(dict.fromkeys(frame["cycle"].tolist()))
    names = list(dict.fromkeys(frame[series].tolist()))
    colour_index = 0
    for name in names:
        rows = frame[frame[series] == name].set_index("cycle").reindex(cycles)
        is_total = "department_id" in frame and rows["department_id"].isna().all()
        if is_total:
            colour = TOTAL_LINE
        else:
            colour = SERIES[colour_index % len(SERIES)]
            colour_index += 1
        shown = rows[~rows["suppressed"].fillna(True).astype(bool)]
        if len(shown):
            band_x = list(shown.index) + list(shown.index[::-1])
            band_y = list(shown["high"].fillna(shown["value"])) + list(
                shown["low"].fillna(shown["value"])[::-1]
            )
            figure.add_trace(
                go.Scatter(
                    x=band_x,
                    y=band_y,
                    fill="toself",
                    fillcolor=_tint(colour, 0.15),
                    mode="lines",
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    name=f"{name} 95% band",
                    legendgroup=str(name),
                )
            )
        unit = "%" if percent else ""
        hover = [
            (
                f"{name}<br>{cycle}: "
                + (
                    suppressed_label(minimum) + " responses"
                    if minimum is not None
                    else "too few responses"
                )
            )
            if suppressed
            else f"{name}<br>{cycle}: {value:.1f}{unit} (95% {low:.1f}–{high:.1f}), n = {n:,.0f}"
            for cycle, value, low, high, n, suppressed in zip(
                rows.index,
                rows["value"].fillna(0),
                rows["low"].fillna(rows["value"]).fillna(0),
                rows["high"].fillna(rows["value"]).fillna(0),
                rows["n"].fillna(0),
                rows["suppressed"].fillna(True).astype(bool),
                strict=True,
            )
        ]
        figure.add_trace(
            go.Scatter(
                x=list(rows.index),
                y=[None if pd.isna(v) else v for v in rows["value"]],
                mode="lines+markers",
                name=_short(str(name), 32),
                line={"color": colour, "width": 3 if is_total else 2},
                marker={"size": 6},
                connectgaps=False,
                hovertext=hover,
                hoverinfo="text",
                legendgroup=str(name),
            )
        )
    _calm(figure)
    figure.update_layout(title=title, hovermode="closest")
    figure.update_yaxes(
        range=list(y_range) if y_range else None,
        showgrid=True,
        gridcolor=GRID,
        ticksuffix="%" if percent else "",
    )
    figure.update_xaxes(type="category", categoryorder="array", categoryarray=cycles)
    if compact:
        # Upright names take the room under the axis that the legend used to start in.
        figure.update_xaxes(tickangle=-90, tickfont={"size": 11})
        figure.update_layout(legend={"y": -0.3}, height=520)
    return figure


def story_lines(frame: pd.DataFrame, movers: int = 3) -> list[str]:
    """The overall line plus the departments whose value changed most over the range."""
    shown = frame[frame["value"].notna()].sort_values("opens")
    first = shown.groupby("department")["value"].first()
    last = shown.groupby("department")["value"].last()
    moved = (last - first).abs().sort_values(ascending=False)
    overall = frame.loc[frame["department_id"].isna(), "department"].unique().tolist()
    return overall + [name for name in moved.index if name not in overall][:movers]


def department_trend_chart(
    frame: pd.DataFrame,
    *,
    story: bool,
    title: str,
    percent: bool,
    minimum: int,
    compact: bool = False,
) -> go.Figure:
    """`reporting.trends` per department; with `story`, only the whole and the departments
    that moved most, since fifteen lines are unreadable."""
    if story:
        frame = frame[frame["department"].isin(story_lines(frame))]
    return trend_chart(frame, title=title, percent=percent, minimum=minimum, compact=compact)


def relationship_pair(history: pd.DataFrame, rater: int, rated: int) -> pd.DataFrame:
    """The rows of `reporting.relationship_trends` for one relationship and its mirror."""
    return history[
        ((history["rater_id"] == rater) & (history["rated_id"] == rated))
        | ((history["rater_id"] == rated) & (history["rated_id"] == rater))
    ]


def pair_trend_chart(
    history: pd.DataFrame, *, rater: int, rated: int, minimum: int, compact: bool = False
) -> go.Figure:
    """A relationship and its mirror across cycles: a one-sided one shows as two lines apart."""
    pairs = relationship_pair(history, rater, rated)
    pairs = pairs.assign(pair=pairs["rater"] + " rating " + pairs["rated"])
    return trend_chart(pairs, series="pair", percent=True, minimum=minimum, compact=compact)


def plan_progress_chart(progress: PlanProgress, *, compact: bool = False) -> go.Figure:
    """What a plan addresses, % favourable in each cycle since it began (the first point),
    with its 95% band: whether the plan worked, at a glance."""
    figure = trend_chart(
        progress.table(), series="series", percent=True, minimum=progress.minimum, compact=compact
    )
    if progress.points:
        figure.add_annotation(
            x=progress.points[0].cycle,
            y=100,
            text="Plan began",
            showarrow=False,
            yanchor="bottom",
            font={"color": MUTED_TEXT, "size": 11},
        )
    figure.update_layout(showlegend=False, height=360 if not compact else 420)
    return figure


def _tint(colour: str, opacity: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {opacity})"


# --- Heatmaps -----------------------------------------------------------------------------------


def _grid(values: list[list[float | None]]) -> np.ndarray:
    """Heatmap values as an array (None becomes NaN, drawn as a gap): plotly checks a nested
    list value by value, which took most of a rerun for a few hundred departments."""
    return np.array(values, dtype=float)


def _texts(values: list[list[str]]) -> np.ndarray:
    return np.array(values, dtype=object)


def _suppressed_overlay(
    x: list[str], y: list[str], hidden: list[list[bool]], minimum: int, *, compact: bool = False
) -> go.Heatmap:
    """Blank, labelled cells drawn over the data layer where a figure is suppressed."""
    label = f"< {minimum}" if compact else suppressed_label(minimum)
    return go.Heatmap(
        x=x,
        y=y,
        z=_grid([[0 if h else None for h in row] for row in hidden]),
        text=_texts([[label if h else "" for h in row] for row in hidden]),
        texttemplate="%{text}",
        textfont={"color": MUTED_TEXT, "size": 10},
        colorscale=[[0, "#FFFFFF"], [1, "#FFFFFF"]],
        showscale=False,
        hovertext=_texts(
            [
                [
                    f"{suppressed_label(minimum)} responses: not shown, so no one can be identified"
                    if h
                    else ""
                    for h in row
                ]
                for row in hidden
            ]
        ),
        hoverinfo="text",
        xgap=2,
        ygap=2,
        name="suppressed",
    )


def _percent_favourable_scale(compact: bool) -> dict[str, object]:
    """What every percent-favourable grid shares: the fixed 0-100 scale, its colour bar, gaps."""
    return {
        "hoverinfo": "text",
        "colorscale": HEAT_SCALE,
        "zmin": 0,
        "zmax": 100,
        "colorbar": _colour_bar(compact),
        "xgap": 2,
        "ygap": 2,
        "name": "percent favourable",
    }


def _colour_bar(compact: bool) -> dict[str, object]:
    bar: dict[str, object] = {"title": "% fav.", "ticksuffix": "%", "thickness": 10}
    if compact:  # under the chart, so the cells keep the width of a phone screen
        bar |= {"orientation": "h", "y": -0.08, "yanchor": "top", "len": 0.8, "title": None}
    return bar


def heatmap_chart(
    heatmap: Heatmap, *, title: str | None = None, compact: bool = False
) -> go.Figure:
    """Departments × dimensions in percent favourable; hover gives n and the change.

    `compact` (for phones) leaves the numbers out of the cells and keeps to colour and hover.
    """
    dimensions = [d.key for d in heatmap.dimensions]
    labels = {d.key: d.label for d in heatmap.dimensions}
    rows = [name for _, name in heatmap.rows]
    cells = {(c.department, c.dimension): c.figure for c in heatmap.cells}
    x = (
        # Rotated upright, one line each and whole: a header cut short could not be read.
        [labels[key] for key in dimensions]
        if compact
        else _axis_labels([labels[key] for key in dimensions], width=18)
    )
    # A phone's rows are one line high: a long name is cut short there (the hover has it whole).
    y = _axis_labels(rows, width=20, lines=1) if compact else _axis_labels(rows, width=24)
    values, text, hover, hidden = [], [], [], []
    for row in rows:
        value_row, text_row, hover_row, hidden_row = [], [], [], []
        for key in dimensions:
            figure = cells[(row, key)]
            hidden_row.append(figure.suppressed)
            value_row.append(None if figure.suppressed else figure.value)
            text_row.append("" if figure.suppressed else _percent(figure.value))
            hover_row.append(
                ""
                if figure.suppressed
                else f"{row}<br>{labels[key]}: {figure.value:.0f}% favourable"
                f"<br>n = {figure.n:,}<br>Change: {_change(figure.change, figure.significant)}"
            )
        values.append(value_row)
        text.append(text_row)
        hover.append(hover_row)
        hidden.append(hidden_row)
    figure = go.Figure(
        [
            go.Heatmap(
                x=x,
                y=y,
                z=_grid(values),
                text=_texts(text),
                texttemplate="" if compact else "%{text}",
                textfont={"size": 11},
                hovertext=_texts(hover),
                **_percent_favourable_scale(compact),
            ),
            _suppressed_overlay(x, y, hidden, heatmap.minimum, compact=compact),
        ]
    )
    _calm(figure, height=max(260, (26 if compact else 34) * len(rows) + 160))
    figure.update_yaxes(autorange="reversed", tickfont={"size": 10 if compact else 12})
    figure.update_xaxes(side="top", tickangle=-90 if compact else -40, tickfont={"size": 10})
    figure.update_layout(title=title)
    return figure


def relationship_chart(
    result: Relationships, *, title: str | None = None, compact: bool = False
) -> go.Figure:
    """Rows: the group rated (patients and families last); columns: the group rating.

    An outlined cell with ▼ marks where the rating group rates the rated group clearly lower
    than it is rated back (at least the asymmetry threshold, and beyond chance).
    """
    width = 12 if compact else 16
    raters = _axis_labels([group.name for group in result.raters], width=width)
    rated = _axis_labels([name for _, name in result.rated], width=width)
    lower = {(a.rater_id, a.rated_id): a for a in result.asymmetries}
    values, text, hover, hidden = [], [], [], []
    outlined: list[tuple[int, int]] = []
    for row, (rated_id, rated_name) in enumerate(result.rated):
        value_row, text_row, hover_row, hidden_row = [], [], [], []
        for column, group in enumerate(result.raters):
            figure = result.cell(group.id, rated_id).figure
            # Asymmetries are between staff groups: patients and families (None) have none.
            asymmetry = None if rated_id is None else lower.get((group.id, rated_id))
            hidden_row.append(figure.suppressed)
            value_row.append(None if figure.suppressed else figure.value)
            text_row.append(
                "" if figure.suppressed else _percent(figure.value) + (" ▼" if asymmetry else "")
            )
            note = (
                f"<br>▼ {group.name} rate {rated_name.lower()} {asymmetry.difference:.0f} points"
                f" lower than {rated_name.lower()} rate {group.name.lower()}"
                if asymmetry
                else ""
            )
            hover_row.append(
                ""
                if figure.suppressed
                else f"{group.name} rating {rated_name}: {figure.value:.0f}% favourable"
                f"<br>n = {figure.n:,}<br>Change: {_change(figure.change, figure.significant)}"
                + note
            )
            if asymmetry:
                outlined.append((column, row))
        values.append(value_row)
        text.append(text_row)
        hover.append(hover_row)
        hidden.append(hidden_row)
    figure = go.Figure(
        [
            go.Heatmap(
                x=raters,
                y=rated,
                z=values,
                text=text,
                texttemplate="%{text}",
                hovertext=hover,
                **_percent_favourable_scale(compact),
            ),
            _suppressed_overlay(raters, rated, hidden, result.minimum, compact=compact),
        ]
    )
    for column, row in outlined:
        figure.add_shape(
            type="rect",
            x0=column - 0.47,
            x1=column + 0.47,
            y0=row - 0.45,
            y1=row + 0.45,
            line={"color": TEXT, "width": 2.5},
            fillcolor="rgba(0, 0, 0, 0)",
            name="asymmetry",
        )
    _calm(figure, height=400 if compact else 360)
    if outlined:
        figure.add_annotation(
            text="▼ rated clearly lower than rated back",
            xref="paper",
            yref="paper",
            x=0,
            y=0,
            yshift=-12,
            xanchor="left",
            yanchor="top",
            showarrow=False,
            font={"size": 11, "color": MUTED_TEXT},
        )
    figure.update_yaxes(autorange="reversed", title="Rated")
    figure.update_xaxes(side="top", title="Rating")
    figure.update_layout(title=title)
    return figure


# --- Item distributions -------------------------------------------------------------------------


def item_distribution_chart(
    frame: pd.DataFrame, *, minimum: int, title: str | None = None
) -> go.Figure:
    """A diverging stacked bar per item: disagreement left of zero, agreement right, the
    neutral middle split across it. `frame` is `reporting.item_distributions(...)`."""
    texts = [
        text if not about or _mentions(text, about) else f"{text} ({about})"
        for text, about in zip(frame["text"], frame["about_group"].fillna(""), strict=True)
    ]
    # Categories are the item ids; each question is written above its bar, across the full
    # width, which reads far better on a phone than a narrow column of tick labels.
    labels = [f"item {item_id}" for item_id in frame["item_id"]]
    figure = go.Figure()
    hidden = frame["suppressed"].astype(bool).tolist()
    counts = frame["n"].astype("Float64").fillna(0).astype(int).tolist()
    # Relative bars stack outward from zero in trace order: the neutral halves go first.
    segments = ((3, -1), (2, -1), (1, -1), (3, 1), (4, 1), (5, 1))
    for value, side in segments:
        full = frame[f"percent_{value}"].astype("Float64").fillna(0.0).astype(float).tolist()
        width = [share / 2 if value == 3 else share for share in full]
        figure.add_trace(
            go.Bar(
                y=labels,
                x=[0.0 if h else side * w for w, h in zip(width, hidden, strict=True)],
                orientation="h",
                name=ANSWER_LABELS[value],
                marker={"color": ANSWER_COLOURS[value], "line": {"width": 0}},
                legendgroup=ANSWER_LABELS[value],
                legendrank=value,
                showlegend=not (value == 3 and side < 0),
                hovertext=[
                    "" if h else f"{text}<br>{ANSWER_LABELS[value]}: {share:.0f}% (n = {n:,})"
                    for text, share, n, h in zip(frame["text"], full, counts, hidden, strict=True)
                ],
                hoverinfo="text",
            )
        )
    for label, text, h in zip(labels, texts, hidden, strict=True):
        figure.add_annotation(
            x=-100,
            y=label,
            yshift=20,
            xanchor="left",
            yanchor="bottom",
            text=_wrap(text, width=52, lines=2),
            align="left",
            showarrow=False,
            font={"size": 12, "color": TEXT},
            name="question",
        )
        if h:
            figure.add_annotation(
                x=0,
                y=label,
                text=f"{suppressed_label(minimum)} responses",
                showarrow=False,
                font={"color": MUTED_TEXT, "size": 11},
                name="suppressed",
            )
    _calm(figure, height=max(220, 78 * len(frame) + 110))
    figure.update_layout(barmode="relative", bargap=0.55, title=title)
    figure.update_xaxes(
        range=[-100, 100],
        tickvals=[-50, 0, 50],
        ticktext=["50% disagree", "0", "50% agree"],
        showgrid=True,
        gridcolor=GRID,
    )
    figure.update_yaxes(autorange="reversed", showticklabels=False)
    return figure


# --- Overview -----------------------------------------------------------------------------------


def _whiskers(figure: Figure) -> tuple[float, float]:
    """How far a shown figure's 95% interval reaches above and below it (0 when unknown)."""
    value = figure.value
    assert value is not None, "suppressed figures have no whiskers"
    return (figure.high or value) - value, value - (figure.low or value)


def dimension_chart(overview: Overview, *, title: str | None = None) -> go.Figure:
    """Every dimension's percent favourable, highest first; strongest in blue, weakest in
    vermillion, the rest grey; whiskers are 95% intervals."""
    strongest = {d.key for d in overview.strongest}
    weakest = {d.key for d in overview.weakest}
    shown = [d for d in overview.dimensions if not d.figure.suppressed]
    hidden = [d for d in overview.dimensions if d.figure.suppressed]
    labels = _axis_labels(
        [f"{d.label} · {d.figure.value:.0f}%" for d in shown] + [d.label for d in hidden]
    )
    colours = [
        FAVOURABLE if d.key in strongest else UNFAVOURABLE if d.key in weakest else NEUTRAL
        for d in shown
    ]
    figure = go.Figure(
        go.Bar(
            y=labels[: len(shown)],
            x=[d.figure.value for d in shown],
            orientation="h",
            marker={"color": colours},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [_whiskers(d.figure)[0] for d in shown],
                "arrayminus": [_whiskers(d.figure)[1] for d in shown],
                "color": MUTED_TEXT,
                "thickness": 1,
                "width": 3,
            },
            hovertext=[
                f"{d.label}: {d.figure.value:.0f}% favourable (95% {d.figure.low:.0f}–"
                f"{d.figure.high:.0f}), n = {d.figure.n:,}<br>"
                f"Change: {_change(d.figure.change, d.figure.significant)}"
                if d.figure.low is not None and d.figure.high is not None
                else f"{d.label}: {d.figure.value:.0f}% favourable, n = {d.figure.n:,}"
                for d in shown
            ],
            hoverinfo="text",
            name="percent favourable",
            showlegend=False,
        )
    )
    for label in labels[len(shown) :]:
        figure.add_annotation(
            x=0,
            y=label,
            xanchor="left",
            text=f"{suppressed_label(overview.minimum)} responses",
            showarrow=False,
            font={"color": MUTED_TEXT, "size": 11},
        )
    # A legend for the colours: an entry each for those the bars use, drawing nothing.
    for name, colour in (("Strongest", FAVOURABLE), ("Weakest", UNFAVOURABLE), ("Others", NEUTRAL)):
        if colour in colours:
            figure.add_trace(
                go.Bar(x=[None], y=[None], orientation="h", marker={"color": colour},
                       name=name, showlegend=True, hoverinfo="skip")
            )  # fmt: skip
    _calm(figure, height=max(240, 34 * len(labels) + 110))
    figure.update_yaxes(categoryorder="array", categoryarray=labels, autorange="reversed")
    figure.update_xaxes(range=[0, 100], ticksuffix="%", showgrid=True, gridcolor=GRID)
    figure.update_layout(title=title, barmode="overlay")
    return figure


def theme_trend_chart(frame: pd.DataFrame) -> go.Figure:
    """Comments per counted theme in each cycle (surveys.reporting.theme_trends), one line
    per theme; "other" too, as it is counted."""
    figure = go.Figure()
    for theme, rows in frame.groupby("theme", sort=False):
        figure.add_trace(
            go.Scatter(
                x=list(rows["cycle"]),
                y=list(rows["comments"]),
                mode="lines+markers",
                name=str(theme),
                customdata=[f"{share:.0%}" for share in rows["share_negative"]],
                hovertemplate="%{x}: %{y} comments, %{customdata} negative<extra>"
                + str(theme)
                + "</extra>",
            )
        )
    figure.update_layout(yaxis_title="Comments", xaxis_title=None)
    return _calm(figure, height=360)
