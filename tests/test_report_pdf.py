"""`attune report pdf`: the board report prints the reporting layer's figures, for one scope."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from surveys import reporting
from surveys.access.accounts import account_named, department_scope
from surveys.analysis import analyse_comments
from surveys.cli import app
from surveys.config import get_settings
from surveys.reporting.figures import Figure
from surveys.storage import make_engine
from tests.support.demo import copy_demo, demo_engine, use_copy
from tests.support.hostile import INJECTION, MARKUP

runner = CliRunner()
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="Debian's poppler-utils is not installed (make browser installs it)",
)


@pytest.fixture(scope="module")
def demo_path(demo_hospital_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_hospital_file, tmp_path_factory.mktemp("board"))


@pytest.fixture
def demo(demo_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from demo_engine(demo_path, monkeypatch)


def make_report(out: Path, *args: str) -> PdfReader:
    get_settings.cache_clear()
    result = runner.invoke(app, ["report", "pdf", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    assert "Wrote the board report" in result.output
    return PdfReader(out)


def page_texts(reader: PdfReader) -> list[str]:
    return [page.extract_text() or "" for page in reader.pages]


def squeezed(value: str) -> str:
    """Text without any whitespace: a table cell may wrap anywhere."""
    return re.sub(r"\s+", "", value)


def page_about(texts: list[str], heading: str) -> str:
    return next(page for page in texts if page.lstrip().startswith(heading))


def shown(figure: Figure, minimum: int, unit: str = "") -> str:
    if figure.suppressed:
        return f"fewer than {minimum}"
    assert figure.value is not None
    return f"{figure.value:.0f}{unit}"


def test_headline_figures_equal_the_overview(demo: Engine, tmp_path: Path) -> None:
    texts = page_texts(make_report(tmp_path / "board.pdf", "--cycle", "2026 Q4"))
    cycle = next(
        c for c in reporting.filter_options(demo, departments=None).cycles if c.name == "2026 Q4"
    )
    overview = reporting.overview(demo, cycle_id=cycle.id, departments=None)
    cover = squeezed(texts[0])
    assert squeezed(f"Responses {overview.responses:,}") in cover
    assert squeezed(f"Response rate {overview.response_rate:.0%}") in cover
    assert "2026Q4(open)" in cover
    headlines = squeezed(page_about(texts, "Headline figures"))
    index, enps = overview.index, overview.enps
    assert index.change is not None and enps.change is not None
    assert (
        squeezed(
            f"Relationship Health Index (0-100) {index.value:.0f} {index.low:.0f} to "
            f"{index.high:.0f} {index.change:+.1f} "
            + ("a real change" if index.significant else "no real change")
        )
        in headlines
    )
    assert squeezed(f"eNPS (-100 to 100) {enps.value:+.0f} {enps.low:.0f} to {enps.high:.0f}") in (
        headlines
    )
    ranked = squeezed(page_about(texts, "Dimensions, ranked"))
    positions = [ranked.index(squeezed(d.label) + shown(d.figure, 5, "%")) for d in
                 overview.dimensions]  # fmt: skip
    assert positions == sorted(positions)  # highest first, as the overview ranks them
    assert len(texts) == len(PdfReader(tmp_path / "board.pdf").pages)
    for number, page in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in page
        assert "2026 Q4" in page


def test_heatmap_and_matrix_cells_equal_the_reporting_layer_and_say_fewer_than(
    demo: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A high minimum hides small departments' cells and small groups' ratings.
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "100")
    texts = page_texts(make_report(tmp_path / "board.pdf", "--cycle", "2026 Q3"))
    get_settings.cache_clear()
    cycle = next(
        c for c in reporting.filter_options(demo, departments=None).cycles if c.name == "2026 Q3"
    )
    heat = reporting.heatmap(demo, cycle_id=cycle.id, departments=None)
    matrix = reporting.relationships(demo, cycle_id=cycle.id, departments=None)
    heat_page = squeezed(page_about(texts, "Heatmap"))
    suppressed = 0
    cells = iter(heat.cells)
    for _, name in heat.rows:
        row = [shown(next(cells).figure, 100, "%") for _ in heat.dimensions]
        suppressed += row.count("fewer than 100")
        assert squeezed(name + "".join(row)) in heat_page, name
    assert suppressed > 0
    matrix_page = squeezed(page_about(texts, "Relationships between staff groups"))
    flagged = {(a.rater_id, a.rated_id) for a in matrix.asymmetries}
    hidden = 0
    for rated_id, rated in matrix.rated:
        row = []
        for rater in matrix.raters:
            figure = matrix.cell(rater.id, rated_id).figure
            mark = "▼" if (rater.id, rated_id) in flagged else ""
            row.append(shown(figure, 100, "%") + mark)
            hidden += figure.suppressed
        assert squeezed(rated + "".join(row)) in matrix_page, rated
    assert hidden > 0
    for asymmetry in matrix.asymmetries:
        assert squeezed(f"{asymmetry.rater} rate working with {asymmetry.rated}") in matrix_page


def test_a_managers_report_names_no_other_department(demo: Engine, tmp_path: Path) -> None:
    reader = make_report(tmp_path / "ed.pdf", "--as", "ed.manager")
    everything = " ".join(page_texts(reader))
    assert "Emergency" in everything
    scope = department_scope(account_named(engine=demo, username="ed.manager"))
    others = [
        d.name
        for d in reporting.filter_options(demo, departments=None).departments
        if scope is not None and d.id not in scope
    ]
    assert len(others) == 13
    squeezed_text = squeezed(everything)
    assert [name for name in others if squeezed(name) in squeezed_text] == []


def test_a_manager_asking_for_another_department_is_refused(demo: Engine, tmp_path: Path) -> None:
    out = tmp_path / "oncology.pdf"
    get_settings.cache_clear()
    result = runner.invoke(
        app, ["report", "pdf", "--as", "ed.manager", "--department", "Oncology", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "outside the departments you may see" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--cycle", "2040 Q1"], "there is no cycle called '2040 Q1'"),
        (["--department", "Nowhere"], "there is no department called 'Nowhere'"),
        (["--as", "nobody"], "there is no account called 'nobody'"),
        (["--department", "Emergency", "--division", "Surgery"], "not both"),
    ],
)
def test_bad_arguments_write_nothing(
    demo: Engine, tmp_path: Path, arguments: list[str], message: str
) -> None:
    get_settings.cache_clear()
    result = runner.invoke(app, ["report", "pdf", *arguments, "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 1
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_report_is_replaced_only_with_force(demo: Engine, tmp_path: Path) -> None:
    out = tmp_path / "board.pdf"
    out.write_bytes(b"old")
    get_settings.cache_clear()
    refused = runner.invoke(app, ["report", "pdf", "--out", str(out)])
    assert refused.exit_code == 1 and "--force" in refused.output
    assert out.read_bytes() == b"old"
    make_report(out, "--force", "--department", "Oncology")
    assert out.read_bytes().startswith(b"%PDF-")


def test_comments_are_printed_only_when_asked_for(demo: Engine, tmp_path: Path) -> None:
    cycle = next(
        c for c in reporting.filter_options(demo, departments=None).cycles if c.name == "2026 Q3"
    )
    some = set(reporting.comments(demo, cycle_id=cycle.id, departments=None).texts)
    without = " ".join(page_texts(make_report(tmp_path / "a.pdf", "--cycle", "2026 Q3")))
    assert not any(squeezed(comment) in squeezed(without) for comment in some)
    with_them = page_texts(make_report(tmp_path / "b.pdf", "--cycle", "2026 Q3", "--with-comments"))
    comments_page = squeezed(" ".join(with_them))
    assert any(squeezed(comment) in comments_page for comment in some)


def test_paper_size_follows_the_setting(
    demo: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_PAPER_SIZE", "letter")
    letter = make_report(tmp_path / "letter.pdf", "--department", "Oncology")
    width, height = (float(v) for v in letter.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (612, 792)
    monkeypatch.setenv("ATTUNE_PAPER_SIZE", "A4")
    a4 = make_report(tmp_path / "a4.pdf", "--department", "Oncology")
    width, height = (float(v) for v in a4.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)


HOSTILE = [value for value in {**MARKUP, **INJECTION}.values()]


def test_hostile_names_print_as_literal_text(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = use_copy(demo_path, tmp_path, monkeypatch)
    engine = make_engine(url)
    normal = make_report(tmp_path / "normal.pdf", "--cycle", "2026 Q4")
    # Written straight into the tables, as an older release (or another path) might have
    # stored them: the report must print whatever a name holds, not only what today's checks
    # let in. Departments take the first names, the report's cycles the rest.
    with engine.begin() as connection:
        departments = [row[0] for row in connection.execute(text("SELECT id FROM department"))]
        cycles = [
            row[0]
            for row in connection.execute(
                text("SELECT id FROM survey_cycle WHERE name <= '2026 Q4' ORDER BY opens DESC")
            )
        ]
        targets = [("department", d) for d in departments] + [("survey_cycle", c) for c in cycles]
        for (table, row_id), name in zip(targets, HOSTILE, strict=False):
            connection.execute(
                text(f"UPDATE {table} SET name = :name WHERE id = :id"),
                {"name": name, "id": row_id},
            )
    engine.dispose()
    cycle_name = HOSTILE[len(departments)]
    hostile = make_report(tmp_path / "hostile.pdf", "--cycle", cycle_name)
    everything = squeezed(" ".join(page_texts(hostile)))
    assert [name for name in HOSTILE if squeezed(name) not in everything] == []
    # The layout holds: the same pages as with ordinary names.
    assert len(hostile.pages) == len(normal.pages)


@needs_poppler
def test_the_first_pages_render_to_png(demo: Engine, tmp_path: Path) -> None:
    make_report(tmp_path / "board.pdf")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "3", str(tmp_path / "board.pdf"),
         str(tmp_path / "page")],
        check=True,
        timeout=60,
    )  # fmt: skip
    from PIL import Image

    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3
    for path in pages:
        with Image.open(path) as image:
            width, height = image.size
            assert height / width == pytest.approx(297 / 210, rel=0.02)
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
            assert colours is not None and len(colours) > 10  # ink, not a blank page
    words = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(tmp_path / "board.pdf"), "-"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "Whole organisation" in words


def test_many_departments_give_a_heatmap_row_per_division_and_stdout_gets_the_pdf(
    demo: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("surveys.reporting.board.HEATMAP_DEPARTMENT_ROWS", 5)
    get_settings.cache_clear()
    result = runner.invoke(app, ["report", "pdf", "--out", "-"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"%PDF-")
    texts = page_texts(PdfReader(io.BytesIO(result.stdout_bytes)))
    heat_page = page_about(texts, "Heatmap")
    assert "by division and dimension" in heat_page
    divisions = reporting.filter_options(demo, departments=None).divisions
    assert all(squeezed(d.name) in squeezed(heat_page) for d in divisions)
    assert "Cardiology" not in heat_page


def test_a_cycle_with_no_results_says_why_on_the_cover(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    from surveys.organisation.cycles import create_cycle

    url = use_copy(demo_path, tmp_path, monkeypatch)
    create_cycle(
        engine=make_engine(url), name="2027 Q2", opens=date(2027, 4, 1), closes=date(2027, 5, 20),
        actor="t",
    )  # fmt: skip
    texts = page_texts(make_report(tmp_path / "draft.pdf", "--cycle", "2027 Q2"))
    assert "2027 Q2 has not opened yet" in " ".join(texts[0].split())


def test_comment_themes_are_printed_with_their_counts_and_never_the_comments(
    demo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = use_copy(demo_path, tmp_path, monkeypatch)
    engine = make_engine(url)
    analyse_comments(engine)
    cycle = next(
        c for c in reporting.filter_options(engine, departments=None).cycles if c.name == "2026 Q3"
    )
    released = reporting.comments(engine, cycle_id=cycle.id, departments=None)
    engine.dispose()
    assert released.themes_counted
    text = squeezed(" ".join(page_texts(make_report(tmp_path / "t.pdf", "--cycle", "2026 Q3"))))
    assert squeezed("Comment themes") in text
    for count in released.themes_counted:
        assert squeezed(f"{count.theme} {count.count:,} {count.share_negative:.0%}") in text
    assert not any(squeezed(comment) in text for comment in released.texts)
