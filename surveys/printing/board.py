"""The board report as a PDF (fpdf2): a cover, the headline figures, dimensions ranked, the
heatmap, the relationship matrix, trends, comments when asked for, and a page on method.

It prints what `surveys.reporting.board` gathered and computes no figure itself; it formats
numbers as the pages do. Text is set in DejaVu Sans, which matplotlib ships, so any name (in
any script DejaVu covers) prints as the literal text it is, and no font is downloaded. Every
page carries the scope, the cycle, the date and its number in a footer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib
from fpdf import FPDF, FontFace
from fpdf.enums import TableCellFillMode, XPos, YPos

from surveys.config import get_settings
from surveys.palette import FAVOURABLE, MUTED_TEXT, TEXT, UNFAVOURABLE, heat_colour, rgb
from surveys.printing import charts
from surveys.reporting.board import BoardReport
from surveys.reporting.figures import Figure
from surveys.text import without_control_characters

FONT = "DejaVu"
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
MARGIN_MM = 16
# A comment longer than this is cut on paper (the instrument allows 1,000 characters).
COMMENT_PRINT_LIMIT = 2_000
WHITE = (255, 255, 255)
RULE = "#CCCCCC"


def fewer_than(minimum: int) -> str:
    return f"fewer than {minimum}"


def plain(text: object) -> str:
    """User-supplied text as it reads: control characters (NUL, escapes) dropped, nothing
    interpreted (fpdf2 is given no markup option)."""
    return without_control_characters(str(text), keep="\n")


def number(figure: Figure, minimum: int, *, signed: bool = False) -> str:
    if figure.suppressed or figure.value is None:
        return fewer_than(minimum)
    return f"{figure.value:+.0f}" if signed else f"{figure.value:.0f}"


def percent(figure: Figure, minimum: int) -> str:
    if figure.suppressed or figure.value is None:
        return fewer_than(minimum)
    return f"{figure.value:.0f}%"


def interval(figure: Figure) -> str:
    if figure.suppressed or figure.low is None or figure.high is None:
        return "—"
    return f"{figure.low:.0f} to {figure.high:.0f}"


def change(figure: Figure) -> str:
    if figure.change is None:
        return "—"
    return f"{figure.change:+.1f}"


def significance(figure: Figure) -> str:
    if figure.change is None:
        return "—"
    # The pages' words; the method page gives the precise ones.
    return "a real change" if figure.significant else "no real change"


class BoardPdf(FPDF):
    """A4 or Letter pages with the report's footer on each."""

    def __init__(self, report: BoardReport, paper: str) -> None:
        super().__init__(orientation="P", unit="mm", format=paper.lower())
        self.report = report
        self.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        self.set_auto_page_break(True, margin=MARGIN_MM + 4)
        self.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.add_font(FONT, "I", str(FONT_DIR / "DejaVuSans-Oblique.ttf"))
        self.set_title(f"Relationship health report, {plain(report.cycle)}")
        self.set_creator("Attune")
        self.set_text_color(*rgb(TEXT))

    def footer(self) -> None:
        self.set_y(-MARGIN_MM + 2)
        self.set_font(FONT, "", 7)
        self.set_text_color(*rgb(MUTED_TEXT))
        scope = plain(self.report.scope)
        scope = scope if len(scope) <= 60 else scope[:59] + "…"
        left = (
            f"Attune relationship health report · {scope} · {plain(self.report.cycle)} · "
            f"made {self.report.made_on.isoformat()}"
        )
        width = self.epw
        self.cell(width * 0.8, 5, left, align="L")
        self.cell(width * 0.2, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(*rgb(TEXT))

    # --- Building blocks -----------------------------------------------------------------

    def heading(self, text: str, *, size: float = 15) -> None:
        self.set_font(FONT, "B", size)
        self.set_text_color(*rgb(TEXT))
        self.multi_cell(0, size * 0.5, plain(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def paragraph(self, text: str, *, size: float = 9, muted: bool = False) -> None:
        self.set_font(FONT, "", size)
        self.set_text_color(*rgb(MUTED_TEXT if muted else TEXT))
        self.multi_cell(0, size * 0.48, plain(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*rgb(TEXT))
        self.ln(1.5)

    def picture(self, png: bytes, *, width: float) -> None:
        self.image(io.BytesIO(png), x=self.l_margin, w=width)
        self.ln(2)


def _table(
    pdf: BoardPdf,
    rows: Sequence[Sequence[str]],
    *,
    widths: Sequence[float],
    fills: Sequence[Sequence[tuple[int, int, int] | None]] | None = None,
    size: float = 8,
    header_size: float | None = None,
    align: str = "LEFT",
    header: bool = True,
    bold_first: bool = False,
) -> None:
    """A table whose first row is its header (unless `header` is False); `fills` colours body
    cells (None: none)."""
    heading = FontFace(emphasis="BOLD", fill_color=(245, 245, 245), color=rgb(TEXT))
    pdf.set_font(FONT, "", size)
    # Light rules between rows: a calm page, and the colours carry the figures.
    pdf.set_draw_color(*rgb(RULE))
    pdf.set_line_width(0.2)
    with pdf.table(
        col_widths=tuple(widths),
        width=sum(widths),
        align="LEFT",
        text_align=("LEFT", *([align] * (len(widths) - 1))),
        line_height=size * 0.5,
        headings_style=heading,
        borders_layout="HORIZONTAL_LINES",
        cell_fill_mode=TableCellFillMode.NONE,
        padding=(1, 1),
        first_row_as_headings=header,
    ) as table:
        for number_of_row, values in enumerate(rows):
            row = table.row()
            for column, value in enumerate(values):
                fill = None
                body = number_of_row - (1 if header else 0)
                if fills is not None and body >= 0:
                    fill = fills[body][column]
                if header and number_of_row == 0:
                    style = FontFace(size_pt=header_size or size)
                elif bold_first and body == 0 and fill is None:
                    style = FontFace(emphasis="BOLD")
                elif value.startswith("fewer than"):
                    # Hidden, not data: never coloured, and quieter than a figure.
                    style = FontFace(color=rgb(MUTED_TEXT))
                elif fill is not None:
                    light = sum(fill) / 3 > 150
                    style = FontFace(
                        fill_color=fill,
                        color=rgb(TEXT) if light else WHITE,
                        emphasis="BOLD" if bold_first and body == 0 else None,
                    )
                else:
                    style = None
                row.cell(plain(value), style=style)
    pdf.ln(3)


# --- Pages ------------------------------------------------------------------------------------


def _cover(pdf: BoardPdf) -> None:
    report = pdf.report
    overview = report.overview
    pdf.add_page()
    pdf.ln(30)
    pdf.set_font(FONT, "", 10)
    pdf.set_text_color(*rgb(FAVOURABLE))
    pdf.cell(0, 6, "ATTUNE · RELATIONSHIP HEALTH", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.heading(report.organisation or "Relationship health report", size=24)
    if report.organisation:
        pdf.heading("Relationship health report", size=16)
    pdf.ln(6)
    rate = (
        f"{overview.response_rate:.0%}" if overview.response_rate is not None else "not available"
    )
    responses = (
        f"{overview.responses:,}" if overview.responses is not None else fewer_than(report.minimum)
    )
    rows = [
        ("Scope", report.scope),
        ("Cycle", f"{report.cycle} ({report.cycle_state})"),
        ("Responses", responses),
        ("Response rate", rate),
        ("Report made", report.made_on.strftime("%d %B %Y")),
    ]
    _table(pdf, rows, widths=(40, pdf.epw - 40), size=10, header=False)
    pdf.ln(6)
    if report.nothing_to_show:
        pdf.paragraph(report.nothing_to_show, size=11)
    pdf.paragraph(
        "Anonymous staff survey of how well staff groups work with each other, with patients "
        "and families, and within their own team. No figure in this report rests on fewer "
        f"than {report.minimum} responses: smaller groups are shown as "
        f"“{fewer_than(report.minimum)}”.",
        muted=True,
    )
    if report.open_cycle_notice:
        pdf.paragraph(f"This cycle is still open. {report.open_cycle_notice}", muted=True)


def _headlines(pdf: BoardPdf) -> None:
    report = pdf.report
    overview = report.overview
    minimum = report.minimum
    pdf.add_page()
    pdf.heading("Headline figures")
    since = overview.previous_cycle or "the previous cycle"
    pdf.paragraph(
        f"{overview.cycle}, with the change since {since}. “A real change” is larger than "
        "chance alone would give: statistically significant at the 95% level.",
        muted=True,
    )
    responses = f"{overview.responses:,}" if overview.responses is not None else fewer_than(minimum)
    rate = f"{overview.response_rate:.0%}" if overview.response_rate is not None else "—"
    rows = [
        ("Measure", "This cycle", "95% interval", f"Change since {since}", "Real change?"),
        ("Responses", responses, "—", "—", "—"),
        ("Response rate", rate, "—", "—", "—"),
        (
            "Relationship Health Index (0-100)",
            number(overview.index, minimum),
            interval(overview.index),
            change(overview.index),
            significance(overview.index),
        ),
        (
            "eNPS (-100 to 100)",
            number(overview.enps, minimum, signed=True),
            interval(overview.enps),
            change(overview.enps),
            significance(overview.enps),
        ),
    ]
    _table(pdf, rows, widths=(56, 26, 28, 34, pdf.epw - 144))
    if overview.strongest or overview.weakest:
        strongest = ", ".join(
            f"{d.label} ({percent(d.figure, minimum)})" for d in overview.strongest
        )
        weakest = ", ".join(f"{d.label} ({percent(d.figure, minimum)})" for d in overview.weakest)
        pdf.paragraph(f"Strongest: {strongest}.")
        pdf.paragraph(f"Weakest: {weakest}.")
    if overview.previous_cycle and (overview.declines or overview.improvements):
        pdf.heading(f"Largest moves since {overview.previous_cycle}", size=11)
        moves = [("Department", "Index", "Change", "Real change?")]
        fills: list[list[tuple[int, int, int] | None]] = []
        for department in (*overview.declines, *overview.improvements):
            moves.append(
                (
                    department.department,
                    number(department.figure, minimum),
                    change(department.figure),
                    significance(department.figure),
                )
            )
            up = (department.figure.change or 0) > 0
            marker = rgb(FAVOURABLE) if up else rgb(UNFAVOURABLE)
            fills.append([None, None, marker if department.figure.significant else None, None])
        _table(pdf, moves, widths=(80, 25, 25, pdf.epw - 130), fills=fills)

    pdf.add_page()
    pdf.heading("Dimensions, ranked")
    pdf.paragraph(
        "Percent favourable (4 or 5 after reverse-scoring), highest first, with 95% intervals.",
        muted=True,
    )
    pdf.picture(
        charts.dimension_bars(overview.dimensions, minimum=minimum, width_mm=pdf.epw),
        width=pdf.epw,
    )
    rows = [("Dimension", "% favourable", "n", f"Change since {since}", "Real change?")]
    for dimension in overview.dimensions:
        figure = dimension.figure
        rows.append(
            (
                dimension.label,
                percent(figure, minimum),
                "—" if figure.suppressed else f"{figure.n:,}",
                change(figure),
                significance(figure),
            )
        )
    _table(pdf, rows, widths=(62, 26, 20, 36, pdf.epw - 144))


def _heatmap(pdf: BoardPdf) -> None:
    report = pdf.report
    heat = report.heatmap
    minimum = report.minimum
    pdf.add_page(orientation="L")
    per = "division" if heat.by == "division" else "department"
    pdf.heading(f"Heatmap: percent favourable by {per} and dimension")
    pdf.paragraph(
        f"{heat.cycle}. Blue is favourable and vermillion unfavourable, on a fixed 0-100% "
        f"scale. Cells resting on fewer than {minimum} responses say “{fewer_than(minimum)}”"
        + (
            "; with this many departments the rows are divisions." if heat.by == "division" else "."
        ),
        muted=True,
    )
    dimensions = heat.dimensions
    # Division names at system scale carry their hospital ("Ashford: Acute & Critical Care").
    label_width = 58.0 if heat.by == "division" else 40.0
    column = (pdf.epw - label_width) / max(len(dimensions), 1)
    rows: list[list[str]] = [[per.capitalize(), *(dimension.label for dimension in dimensions)]]
    fills: list[list[tuple[int, int, int] | None]] = []
    cells = iter(heat.cells)
    for _, name in heat.rows:
        row = [name]
        colours: list[tuple[int, int, int] | None] = [None]
        for _ in dimensions:
            figure = next(cells).figure
            if figure.suppressed or figure.value is None:
                row.append(fewer_than(minimum))
                colours.append(None)
            else:
                row.append(f"{figure.value:.0f}%")
                colours.append(heat_colour(figure.value))
        rows.append(row)
        fills.append(colours)
    _table(
        pdf,
        rows,
        widths=(label_width, *([column] * len(dimensions))),
        fills=fills,
        size=7,
        header_size=_fitting_size(pdf, [d.label for d in dimensions], column - 2.4),
        align="CENTER",
        bold_first=True,
    )


def _fitting_size(pdf: BoardPdf, labels: Sequence[str], width: float, largest: float = 7) -> float:
    """The largest bold size (down to 4.5 pt) at which no word of `labels` is wider than
    `width`: a column heading may wrap between words, but a word cut in two reads badly."""
    pdf.set_font(FONT, "B", largest)
    widest = max((pdf.get_string_width(word) for label in labels for word in label.split()),
                 default=0.0)  # fmt: skip
    if widest <= width:
        return largest
    return max(4.5, largest * width / widest - 0.1)


def _relationships(pdf: BoardPdf) -> None:
    report = pdf.report
    matrix = report.relationships
    minimum = report.minimum
    pdf.add_page()
    pdf.heading("Relationships between staff groups")
    pdf.paragraph(
        f"{matrix.cycle}. Rows: the group being rated (and patients and families). Columns: "
        "the group giving the rating. Percent favourable of the questions about working with "
        "that group. ▼ marks a pair rated clearly lower one way than the other.",
        muted=True,
    )
    flagged = {(a.rater_id, a.rated_id) for a in matrix.asymmetries}
    raters = matrix.raters
    label_width = 48.0
    column = (pdf.epw - label_width) / max(len(raters), 1)
    rows: list[list[str]] = [["Rated ↓ · rating →", *(group.name for group in raters)]]
    fills: list[list[tuple[int, int, int] | None]] = []
    for rated_id, rated_name in matrix.rated:
        row = [rated_name]
        colours: list[tuple[int, int, int] | None] = [None]
        for rater in raters:
            figure = matrix.cell(rater.id, rated_id).figure
            if figure.suppressed or figure.value is None:
                row.append(fewer_than(minimum))
                colours.append(None)
            else:
                mark = " ▼" if (rater.id, rated_id) in flagged else ""
                row.append(f"{figure.value:.0f}%{mark}")
                colours.append(heat_colour(figure.value))
        rows.append(row)
        fills.append(colours)
    _table(pdf, rows, widths=(label_width, *([column] * len(raters))), fills=fills,
           align="CENTER")  # fmt: skip
    pdf.heading("Clearly one-sided pairs", size=11)
    if not matrix.asymmetries:
        pdf.paragraph(
            f"No pair is rated at least {report.asymmetry_points:.0f} points lower one way than "
            "the other beyond chance."
        )
    for asymmetry in matrix.asymmetries:
        pdf.paragraph(
            f"▼ {asymmetry.rater} rate working with {asymmetry.rated} "
            f"{asymmetry.value:.0f}% favourable; {asymmetry.rated} rate {asymmetry.rater} "
            f"{asymmetry.reverse_value:.0f}% ({asymmetry.difference:.0f} points apart)."
        )


def _trends(pdf: BoardPdf) -> None:
    report = pdf.report
    frame = report.trend
    minimum = report.minimum
    total = frame[frame["department_id"].isna()]
    pdf.add_page()
    pdf.heading("Trends across cycles")
    pdf.paragraph(
        "The Relationship Health Index of the whole scope in each cycle, with its 95% band. "
        f"A cycle resting on fewer than {minimum} responses has no point.",
        muted=True,
    )
    pdf.picture(charts.index_trend(frame, width_mm=pdf.epw), width=pdf.epw)
    rows = [("Cycle", "Index", "95% interval", "n")]
    for record in total.to_dict("records"):
        if record["suppressed"]:
            rows.append((str(record["cycle"]), fewer_than(minimum), "—", "—"))
        else:
            rows.append(
                (
                    str(record["cycle"]),
                    f"{record['value']:.0f}",
                    f"{record['low']:.0f} to {record['high']:.0f}",
                    f"{int(record['n']):,}",
                )
            )
    _table(pdf, rows, widths=(50, 30, 40, 30))


def _comments(pdf: BoardPdf) -> None:
    report = pdf.report
    comments = report.comments
    if comments.themes_counted:
        pdf.add_page()
        pdf.heading("Comment themes")
        pdf.paragraph(
            f"What the comments are about, each theme counted when at least "
            f"{report.comment_minimum} comments share it (smaller themes count as “other”), "
            "with the share whose tone is negative. Themes and tones are computed on "
            "Attune's own server; no comment leaves it."
            + ("" if report.with_comments else " The comments themselves are not printed."),
            muted=True,
        )
        rows = [("Theme", "Comments", "Negative")]
        rows += [
            (count.theme, f"{count.count:,}", f"{count.share_negative:.0%}")
            for count in comments.themes_counted
        ]
        _table(pdf, rows, widths=(90, 30, 30))
        if comments.not_analysed:
            pdf.paragraph(
                f"{comments.not_analysed:,} comments had not been analysed yet and are not "
                "counted.",
                muted=True,
            )
    if not report.with_comments:
        return
    pdf.add_page()
    pdf.heading("Comments")
    if comments.suppressed:
        pdf.paragraph(
            f"No comments can be shown: they are printed only for groups of at least "
            f"{report.comment_minimum} responses."
        )
        return
    pdf.paragraph(
        f"{len(comments.texts):,} comments, in random order, without dates, departments or "
        "staff groups, exactly as written.",
        muted=True,
    )
    for text in comments.texts:
        shown = text
        if len(shown) > COMMENT_PRINT_LIMIT:
            shown = shown[:COMMENT_PRINT_LIMIT] + f" … ({len(text) - COMMENT_PRINT_LIMIT:,} more)"
        pdf.paragraph(f"“{shown}”")


def _method(pdf: BoardPdf) -> None:
    report = pdf.report
    minimum = report.minimum
    pdf.add_page()
    pdf.heading("Method: what the figures mean")
    sections = [
        (
            "Scores",
            "Answers run from 1 (strongly disagree) to 5 (strongly agree); negatively worded "
            "questions are reverse-scored, and “does not apply” is left out of every "
            "denominator. Favourable means 4 or 5. A dimension's percent favourable is each "
            "respondent's share of favourable answers in the dimension, averaged over "
            "respondents. The Relationship Health Index (0-100) is each respondent's mean "
            "answer on the relationship questions, rescaled so that 1 is 0 and 5 is 100, "
            "averaged over respondents. eNPS is the percentage who would recommend working "
            "here (9-10) minus the percentage who would not (0-6).",
        ),
        (
            "Relationships",
            "For each staff group rating each other group (and patients and families), the "
            "share of favourable answers to the questions about working with them. A pair is "
            f"called one-sided when one group rates the other at least "
            f"{report.asymmetry_points:.0f} points lower than it is rated back, beyond chance.",
        ),
        (
            "Confidentiality",
            f"No figure rests on fewer than {minimum} responses (ATTUNE_MIN_GROUP_SIZE); "
            f"such figures say “{fewer_than(minimum)}”, never how many. Small groups are "
            "pooled with others before any figure is computed, so no combination of reports "
            "can single out a small group. Comments are shown only for groups of at least "
            f"{report.comment_minimum} responses (ATTUNE_MIN_COMMENT_GROUP_SIZE), without "
            "dates, departments or staff groups, and are printed in this report only when it "
            "is made with comments. While a cycle is open its figures move in steps of at "
            f"least {minimum} responses, so nobody's answers can be worked out by watching.",
        ),
        (
            "Significance",
            "Means carry t-based 95% intervals, proportions Wilson intervals and eNPS a "
            "multinomial interval. A change since the previous cycle is called a real change "
            "(statistically significant) when it lies outside chance at the 95% level, "
            "combining both cycles' standard errors; any other change is no real change; "
            "changes are shown only when both cycles' figures are.",
        ),
        (
            "This report",
            f"Made on {report.made_on.strftime('%d %B %Y')} for {report.scope}, from the same "
            "figures the Attune results pages show for the same scope and cycle.",
        ),
    ]
    for title, text in sections:
        pdf.heading(title, size=11)
        pdf.paragraph(text)


def render_board_report(report: BoardReport, *, paper: str | None = None) -> bytes:
    """The report as PDF bytes, on `paper` (A4 or Letter; default ATTUNE_PAPER_SIZE)."""
    pdf = BoardPdf(report, paper or get_settings().paper_size)
    _cover(pdf)
    _headlines(pdf)
    _heatmap(pdf)
    _relationships(pdf)
    _trends(pdf)
    _comments(pdf)
    _method(pdf)
    return bytes(pdf.output())
