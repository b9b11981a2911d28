"""Chart builders: the expected traces, hover text, colours and marked suppressed cells."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts
from surveys.records import StaffGroupInfo
from surveys.reporting import (
    ALL_SELECTED,
    Asymmetry,
    DimensionFigure,
    Figure,
    Heatmap,
    HeatmapCell,
    Overview,
    RelationshipCell,
    Relationships,
)
from surveys.reporting.reference import DimensionInfo
from surveys.reporting.relationships import PATIENTS_LABEL

HIDDEN = Figure(None, None, None, 0, True, note="fewer than 5 responses")


def shown(value: float, n: int = 40, change: float | None = None) -> Figure:
    return Figure(value, value - 6, value + 6, n, False, change=change, significant=bool(change))


def traces_named(figure: go.Figure, name: str) -> list:
    return [trace for trace in figure.data if trace.name == name]


# --- Trends -------------------------------------------------------------------------------------


def trend_frame() -> pd.DataFrame:
    rows = []
    for cycle, opens in (("2026 Q1", date(2026, 1, 12)), ("2026 Q2", date(2026, 4, 12))):
        for department_id, department, value in (
            (None, ALL_SELECTED, 66.0),
            (1, "Emergency", 58.0),
            (2, "Pharmacy", None),
        ):
            rows.append(
                {
                    "cycle_id": 1,
                    "cycle": cycle,
                    "opens": opens,
                    "department_id": department_id,
                    "department": department,
                    "measure": "index",
                    "label": "Relationship Health Index",
                    "value": value,
                    "low": None if value is None else value - 3,
                    "high": None if value is None else value + 3,
                    "n": None if value is None else 120,
                    "suppressed": value is None,
                    "note": "fewer than 5 responses" if value is None else "",
                }
            )
    frame = pd.DataFrame(rows)
    frame["department_id"] = frame["department_id"].astype("Int64")
    return frame


def test_trend_chart_draws_a_line_and_a_band_per_department_with_gaps_when_suppressed() -> None:
    figure = charts.trend_chart(trend_frame(), minimum=5)
    lines = [t for t in figure.data if t.mode == "lines+markers"]
    bands = [t for t in figure.data if t.fill == "toself"]
    assert [t.name for t in lines] == [ALL_SELECTED, "Emergency", "Pharmacy"]
    assert len(bands) == 2  # Pharmacy has nothing to shade
    pharmacy = lines[2]
    assert list(pharmacy.y) == [None, None] and pharmacy.connectgaps is False
    assert "fewer than 5" in pharmacy.hovertext[0]
    emergency_band = bands[1]
    assert max(emergency_band.y) == 61 and min(emergency_band.y) == 55
    assert lines[0].line.color == charts.TOTAL_LINE


def test_trend_chart_is_calm_white_with_the_legend_below() -> None:
    figure = charts.trend_chart(trend_frame())
    assert figure.layout.paper_bgcolor == "white" and figure.layout.plot_bgcolor == "white"
    assert figure.layout.legend.orientation == "h"
    assert figure.layout.xaxis.showgrid is False
    assert tuple(figure.layout.yaxis.range) == (0, 100)


# --- Heatmap ------------------------------------------------------------------------------------


def small_heatmap() -> Heatmap:
    dimensions = (
        DimensionInfo("respect", "Mutual respect", True),
        DimensionInfo("feedback", "Feedback acted on", True),
    )
    cells = (
        HeatmapCell(None, ALL_SELECTED, "respect", "Mutual respect", shown(70, 300)),
        HeatmapCell(None, ALL_SELECTED, "feedback", "Feedback acted on", shown(45, 300)),
        HeatmapCell(1, "Emergency", "respect", "Mutual respect", shown(52, 80, change=-9.5)),
        HeatmapCell(1, "Emergency", "feedback", "Feedback acted on", shown(40, 80)),
        HeatmapCell(2, "Pharmacy", "respect", "Mutual respect", HIDDEN),
        HeatmapCell(2, "Pharmacy", "feedback", "Feedback acted on", HIDDEN),
    )
    return Heatmap(
        cycle_id=2,
        cycle="2026 Q2",
        previous_cycle="2026 Q1",
        rows=((None, ALL_SELECTED), (1, "Emergency"), (2, "Pharmacy")),
        dimensions=dimensions,
        cells=cells,
        minimum=5,
    )


def test_heatmap_shows_percent_favourable_with_n_and_change_in_the_hover() -> None:
    figure = charts.heatmap_chart(small_heatmap())
    data = traces_named(figure, "percent favourable")[0]
    assert data.z[1][0] == 52 and data.text[1][0] == "52%"
    assert (
        "n = 80" in data.hovertext[1][0] and "-9.5 points (a real change)" in data.hovertext[1][0]
    )
    assert (data.zmin, data.zmax) == (0, 100)
    assert data.colorscale[0][1] == charts.UNFAVOURABLE
    assert data.colorscale[-1][1] == charts.FAVOURABLE


def test_heatmap_marks_suppressed_cells_fewer_than_k_and_never_colours_them() -> None:
    figure = charts.heatmap_chart(small_heatmap())
    data = traces_named(figure, "percent favourable")[0]
    overlay = traces_named(figure, "suppressed")[0]
    assert [math.isnan(value) for value in data.z[2]] == [True, True]  # a gap: no colour
    assert not any(math.isnan(value) for value in data.z[1])
    assert list(overlay.text[2]) == ["fewer than 5", "fewer than 5"]
    assert list(overlay.text[1]) == ["", ""]
    assert "not shown" in overlay.hovertext[2][0]


def test_a_phone_heatmap_keeps_to_colour_with_one_line_labels() -> None:
    heatmap = small_heatmap()
    # Two long names alike in their first 20 characters.
    names = {1: "Alderley: Medicine, Women & Children", 2: "Alderley: Medicine, Surgery"}
    heatmap = dataclasses.replace(
        heatmap,
        rows=((None, ALL_SELECTED), *names.items()),
        cells=tuple(
            dataclasses.replace(cell, department=names[cell.department_id])
            if cell.department_id
            else cell
            for cell in heatmap.cells
        ),
    )
    data = traces_named(charts.heatmap_chart(heatmap, compact=True), "percent favourable")[0]
    assert data.texttemplate == ""  # no numbers in the cells
    labels = list(data.y)
    assert all("<br>" not in label and len(label.strip("\u200b")) <= 20 for label in labels)
    assert len(set(labels)) == len(labels)  # equal labels would merge into one row
    wide = traces_named(charts.heatmap_chart(heatmap), "percent favourable")[0]
    assert wide.texttemplate == "%{text}" and any("<br>" in label for label in wide.y)
    # The column headers stand upright on a phone, each whole: a cut one cannot be read.
    assert list(data.x) == [dimension.label for dimension in heatmap.dimensions]


def test_a_phone_trend_stands_the_cycle_names_upright_clear_of_the_legend() -> None:
    compact = charts.trend_chart(trend_frame(), minimum=5, compact=True)
    assert compact.layout.xaxis.tickangle == -90
    assert compact.layout.legend.y < charts.trend_chart(trend_frame(), minimum=5).layout.legend.y
    assert charts.trend_chart(trend_frame(), minimum=5).layout.xaxis.tickangle is None


# --- Relationships ------------------------------------------------------------------------------


def small_relationships() -> Relationships:
    groups = (StaffGroupInfo(1, "nursing", "Nursing", "nursing staff"),
              StaffGroupInfo(2, "physicians", "Physicians", "physicians"))  # fmt: skip
    values = {(1, 1): 80, (2, 1): 75, (1, 2): 48, (2, 2): 82, (1, None): 77, (2, None): None}
    cells = tuple(
        RelationshipCell(
            rater,
            groups[rater - 1].name,
            rated,
            PATIENTS_LABEL if rated is None else groups[rated - 1].name,
            HIDDEN if value is None else shown(value),
        )
        for (rater, rated), value in values.items()
    )
    return Relationships(
        cycle_id=2,
        cycle="2026 Q2",
        raters=groups,
        rated=((1, "Nursing"), (2, "Physicians"), (None, PATIENTS_LABEL)),
        cells=cells,
        asymmetries=(Asymmetry(1, "Nursing", 2, "Physicians", 48, 75, 27),),
        minimum=5,
    )


def test_relationship_matrix_has_rated_rows_rating_columns_and_patients_last() -> None:
    figure = charts.relationship_chart(small_relationships())
    data = traces_named(figure, "percent favourable")[0]
    assert [label.replace("<br>", " ") for label in data.y] == [
        "Nursing",
        "Physicians",
        PATIENTS_LABEL,
    ]
    assert list(data.x) == ["Nursing", "Physicians"]
    assert data.z[1][0] == 48  # nursing (column) rating physicians (row)
    assert traces_named(figure, "suppressed")[0].text[2][1] == "fewer than 5"


def test_relationship_matrix_flags_the_asymmetric_pair() -> None:
    figure = charts.relationship_chart(small_relationships())
    data = traces_named(figure, "percent favourable")[0]
    assert data.text[1][0] == "48% ▼"
    assert "27 points lower than physicians rate nursing" in data.hovertext[1][0]
    outlines = [shape for shape in figure.layout.shapes if shape.name == "asymmetry"]
    assert [(shape.x0 + shape.x1, shape.y0 + shape.y1) for shape in outlines] == [(0, 2)]
    assert "lower than rated back" in figure.layout.annotations[0].text


# --- Item distributions -------------------------------------------------------------------------


def item_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "item_id": [1, 2],
            "code": ["respect.physicians", "respect.nursing"],
            "text": ["I feel respected by physicians.", "I feel respected by nursing staff."],
            "dimension": ["respect", "respect"],
            "about_group": ["Physicians", "Nursing"],
            "n": pd.array([50, None], dtype="Int64"),
            "not_applicable": pd.array([2, None], dtype="Int64"),
            "percent_1": [10.0, None],
            "percent_2": [10.0, None],
            "percent_3": [20.0, None],
            "percent_4": [40.0, None],
            "percent_5": [20.0, None],
            "percent_favourable": [60.0, None],
            "suppressed": [False, True],
            "note": ["", "fewer than 5 responses"],
        }
    )
    for value in range(1, 6):
        frame[f"count_{value}"] = pd.array([int(frame[f"percent_{value}"][0] / 2), None], "Int64")
    return frame


def test_item_chart_diverges_around_zero_with_the_neutral_split_across_it() -> None:
    figure = charts.item_distribution_chart(item_frame(), minimum=5)
    assert figure.layout.barmode == "relative"
    by_name: dict[str, list] = {}
    for trace in figure.data:
        by_name.setdefault(trace.name, []).append(trace)
    assert by_name["Strongly disagree"][0].x[0] == -10
    assert by_name["Strongly agree"][0].x[0] == 20
    assert sorted(t.x[0] for t in by_name["Neither"]) == [-10, 10]
    assert [t.showlegend for t in by_name["Neither"]].count(True) == 1
    assert by_name["Strongly agree"][0].marker.color == charts.FAVOURABLE
    assert by_name["Disagree"][0].marker.color == charts.UNFAVOURABLE_LIGHT
    assert by_name["Neither"][0].marker.color == charts.NEUTRAL


def test_item_chart_labels_a_suppressed_item_instead_of_drawing_it() -> None:
    figure = charts.item_distribution_chart(item_frame(), minimum=5)
    assert all(trace.x[1] == 0 for trace in figure.data)
    notes = [a.text for a in figure.layout.annotations if a.name == "suppressed"]
    assert notes == ["fewer than 5 responses"]
    questions = [a.text for a in figure.layout.annotations if a.name == "question"]
    assert questions == ["I feel respected by physicians.", "I feel respected by nursing staff."]


# --- Overview -----------------------------------------------------------------------------------


def test_dimension_chart_colours_strongest_and_weakest_and_labels_suppressed_ones() -> None:
    dimensions = (
        DimensionFigure("boundaries", "Professional boundaries", shown(85)),
        DimensionFigure("respect", "Mutual respect", shown(72)),
        DimensionFigure("timeliness", "Timely information", shown(60)),
        DimensionFigure("feedback", "Feedback acted on", shown(46)),
        DimensionFigure("overall", "Overall rating", HIDDEN),
    )
    overview = Overview(
        cycle_id=2,
        cycle="2026 Q2",
        previous_cycle="2026 Q1",
        responses=300,
        invited=420,
        response_rate=300 / 420,
        index=shown(66),
        enps=shown(5),
        dimensions=dimensions,
        strongest=dimensions[:1],
        weakest=dimensions[3:4],
        declines=(),
        improvements=(),
        minimum=5,
    )
    figure = charts.dimension_chart(overview)
    bar = figure.data[0]
    assert list(bar.x) == [85, 72, 60, 46]
    assert list(bar.marker.color) == [
        charts.FAVOURABLE,
        charts.NEUTRAL,
        charts.NEUTRAL,
        charts.UNFAVOURABLE,
    ]
    assert [a.text for a in figure.layout.annotations] == ["fewer than 5 responses"]
    assert bar.error_x.array[0] == pytest.approx(6)
    # The legend names each colour the bars use, and draws nothing itself.
    legend = [(trace.name, trace.marker.color) for trace in figure.data if trace.showlegend]
    assert legend == [
        ("Strongest", charts.FAVOURABLE),
        ("Weakest", charts.UNFAVOURABLE),
        ("Others", charts.NEUTRAL),
    ]
    assert all(list(trace.x) == [None] for trace in figure.data[1:])


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Emergency", "Emergency"),
        ("Intensive Care (ICU) – Harbourside", "Intensive Care (ICU) – Harb…"),
    ],
)
def test_long_labels_are_shortened_for_small_screens(label: str, expected: str) -> None:
    assert charts._short(label) == expected
