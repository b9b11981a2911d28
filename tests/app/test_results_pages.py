"""The results pages through AppTest on the demo hospital: charts, suppression and scope."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from streamlit.proto.Block_pb2 import Block as BlockProto
from streamlit.testing.v1 import AppTest

from dashboard import auth
from surveys.access.tickets import issue_ticket
from surveys.config import get_settings
from surveys.models import Account, Department, Division
from surveys.organisation.cycles import create_cycle, list_cycles
from surveys.storage import make_engine, read_session
from tests.support.accounts import use_fast_hashing
from tests.support.app import PAGES, signed_in
from tests.support.demo import copy_demo

RESULTS_PAGES = {
    "overview.py": "Overview",
    "focus.py": "Focus areas",
    "trends.py": "Trends",
    "heatmap.py": "Heatmap",
    "relationships.py": "Relationships",
    "items.py": "Item detail",
    "comments.py": "Comments",
}
CHART_PAGES = ["overview.py", "trends.py", "heatmap.py", "relationships.py", "items.py"]


@pytest.fixture(scope="module")
def demo_file(demo_hospital_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = copy_demo(demo_hospital_file, tmp_path_factory.mktemp("results"))
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        # Each comment names its department, so a comment shown outside its scope is caught.
        connection.execute(
            text(
                "UPDATE comment SET text = (SELECT name FROM department"
                " WHERE department.id = comment.department_id) || ': ' || text"
            )
        )
    engine.dispose()
    return path


@pytest.fixture
def demo(demo_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    use_fast_hashing(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{demo_file}")
    get_settings.cache_clear()
    engine = make_engine(get_settings().database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def with_a_draft(
    demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """The demo hospital after an administrator created next cycle, "2027 Q2", as a draft."""
    path = tmp_path / "draft.db"
    shutil.copy(demo_file, path)
    use_fast_hashing(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    engine = make_engine(get_settings().database_url)
    create_cycle(
        engine=engine, name="2027 Q2", opens=date(2027, 4, 1), closes=date(2027, 5, 20), actor="t"
    )
    yield engine
    engine.dispose()


def page_as(engine: Engine, username: str, page: str) -> AppTest:
    with read_session(engine) as session:
        account = session.scalars(select(Account.id).where(Account.username == username)).one()
    at = AppTest.from_file(str(PAGES / page), default_timeout=60)
    at.session_state[auth.SESSION_KEY] = issue_ticket(account)
    return at


def charts_of(at: AppTest) -> list[str]:
    return [chart.proto.spec for chart in at.get("plotly_chart")]


def department_id(engine: Engine, name: str) -> int:
    with read_session(engine) as session:
        return session.scalars(select(Department.id).where(Department.name == name)).one()


@pytest.mark.parametrize("page", RESULTS_PAGES)
def test_every_results_page_renders_for_an_administrator(demo: Engine, page: str) -> None:
    at = page_as(demo, "admin", page).run()
    assert not at.exception
    assert [title.value for title in at.title] == [RESULTS_PAGES[page]]
    if page in CHART_PAGES:
        assert charts_of(at), f"{page} drew no chart"
        # Each chart is described to screen readers, and still after a cached rerun.
        for run in (at, at.run()):
            assert all(chart.proto.alt.strip() for chart in run.get("plotly_chart")), page
    assert at.get("download_button"), f"{page} offers no download"


@pytest.mark.parametrize("page", RESULTS_PAGES)
def test_an_open_cycle_says_its_results_move_in_steps(demo: Engine, page: str) -> None:
    notice = "Results of an open cycle update in steps of at least 5 responses"
    at = page_as(demo, "admin", page).run()
    assert not at.exception
    # The demo's newest cycle is open, and results pages open on it.
    assert any(notice in caption.value for caption in at.caption), page
    if page != "trends.py":  # a range of cycles: the notice stays while it holds an open one
        closed = at.selectbox(key="filter_cycle").options[1]
        at.selectbox(key="filter_cycle").set_value(closed).run()
        assert not at.exception
        assert not any(notice in caption.value for caption in at.caption), page


def test_overview_shows_the_headline_figures(demo: Engine) -> None:
    at = page_as(demo, "admin", "overview.py").run()
    metrics = {metric.label: metric.value for metric in at.metric}
    assert int(metrics["Responses"].replace(",", "")) > 1000
    assert 0 < float(metrics["Relationship Health Index"]) < 100
    assert metrics["eNPS"].startswith(("+", "-"))
    # Plain words for a manager; the precise ones ("significant at the 95% level") in help.
    delta = at.metric[2].proto.delta
    assert re.search(r"vs 2026 Q3 \((a real change|no real change)\)$", delta), delta
    assert "significant at the 95% level" in at.metric[2].proto.help


def test_heatmap_marks_small_cells_instead_of_leaving_them_blank(demo: Engine) -> None:
    at = page_as(demo, "admin", "heatmap.py")
    at.session_state["filter_groups"] = [1]  # nursing: Pharmacy has only four nurses
    at.run()
    assert not at.exception
    assert "fewer than 5" in charts_of(at)[0]


def test_a_manager_sees_only_their_department_whatever_they_ask_for(demo: Engine) -> None:
    emergency, oncology = department_id(demo, "Emergency"), department_id(demo, "Oncology")
    at = page_as(demo, "ed.manager", "heatmap.py")
    at.session_state["filter_departments"] = [oncology, emergency]  # tampered state
    at.run()
    assert not at.exception
    spec = charts_of(at)[0]
    assert "Emergency" in spec
    assert "Oncology" not in spec
    options = at.multiselect(key="filter_departments").options
    assert options == ["Emergency"]


def test_a_manager_comments_page_never_shows_other_departments(demo: Engine) -> None:
    oncology = department_id(demo, "Oncology")
    at = page_as(demo, "ed.manager", "comments.py")
    at.session_state["filter_departments"] = [oncology]
    at.run()
    assert not at.exception
    admin = page_as(demo, "admin", "comments.py")
    admin.session_state["filter_departments"] = [oncology]
    admin.run()
    oncology_texts = {text.value for text in admin.text if text.value.startswith("Oncology: ")}
    assert oncology_texts, "the administrator should see Oncology's comments"
    manager_texts = {text.value for text in at.text}
    # The manager's tampered filter falls back to their own scope, never to Oncology alone.
    assert any(text.startswith("Emergency: ") for text in manager_texts)
    assert all("Oncology" not in text for text in manager_texts)


def test_comments_are_plain_text(demo: Engine) -> None:
    at = page_as(demo, "admin", "comments.py").run()
    assert not at.exception
    assert at.text, "comments are shown with st.text"
    assert not [markdown for markdown in at.markdown if "Handover" in markdown.value]


def fixed_height_boxes(node: Any) -> list[int]:
    """The pixel heights of every container below `node` that scrolls on its own."""
    heights = []
    for child in getattr(node, "children", {}).values():
        proto = getattr(child, "proto", None)
        if isinstance(proto, BlockProto) and proto.height_config.HasField("pixel_height"):
            heights.append(proto.height_config.pixel_height)
        heights += fixed_height_boxes(child)
    return heights


def test_comments_flow_in_the_page_and_a_search_narrows_them(demo: Engine) -> None:
    at = page_as(demo, "admin", "comments.py").run()
    assert not at.exception
    # One scroll bar, the page's: no box of its own height around the comments.
    assert fixed_height_boxes(at.main) == []
    everything = [text.value for text in at.text]
    assert len(everything) > 10
    at.text_input(key="comments_search").input("HANDOVER").run()
    assert not at.exception
    found = [text.value for text in at.text]
    assert found and len(found) < len(everything)
    assert all("handover" in text.lower() for text in found)
    assert any("of" in caption.value and "“HANDOVER”" in caption.value for caption in at.caption)
    at.text_input(key="comments_search").input("handover zzqqxx").run()
    assert not at.text
    assert "No comment in this selection mentions" in at.info[0].value
    at.text_input(key="comments_search").input("").run()
    assert len(at.text) == len(everything)


def test_pages_refuse_without_a_session(demo: Engine) -> None:
    at = AppTest.from_file(str(PAGES / "overview.py"), default_timeout=60).run()
    assert not at.exception
    assert not at.title or not at.metric
    assert not charts_of(at)


@pytest.mark.parametrize("page", CHART_PAGES)
def test_a_chart_drawn_once_is_shown_again_on_every_rerun(demo: Engine, page: str) -> None:
    # Later runs replay the element Streamlit recorded when the chart was first drawn.
    at = page_as(demo, "admin", page).run()
    first = charts_of(at)
    for _ in range(2):
        at.run()
        assert not at.exception
        assert charts_of(at) == first


def test_a_chart_follows_the_filters_after_it_was_cached(demo: Engine) -> None:
    at = page_as(demo, "admin", "heatmap.py").run()
    everyone = charts_of(at)
    at.session_state["filter_groups"] = [1]
    at.run()
    nurses = charts_of(at)
    assert nurses != everyone
    assert "fewer than 5" in nurses[0]
    at.session_state["filter_groups"] = []
    at.run()
    assert charts_of(at) == everyone


def test_a_chart_cached_for_an_administrator_is_never_shown_to_a_manager(demo: Engine) -> None:
    emergency, oncology = department_id(demo, "Emergency"), department_id(demo, "Oncology")
    for page in CHART_PAGES:
        admin = page_as(demo, "admin", page)
        admin.session_state["filter_departments"] = [oncology, emergency]
        admin.run()
        if page == "heatmap.py":
            assert "Oncology" in charts_of(admin)[0]
        manager = page_as(demo, "ed.manager", page)
        manager.session_state["filter_departments"] = [oncology, emergency]  # tampered state
        manager.run()
        assert not manager.exception
        specs = charts_of(manager)
        assert specs, page
        assert all("Oncology" not in spec for spec in specs), page
        assert specs != charts_of(admin), page


def division_names(engine: Engine) -> dict[str, int]:
    with read_session(engine) as session:
        return {division.name: division.id for division in session.scalars(select(Division))}


def test_a_division_filter_narrows_the_departments_and_the_figures(demo: Engine) -> None:
    divisions = division_names(demo)
    at = page_as(demo, "admin", "heatmap.py").run()
    assert at.multiselect(key="filter_divisions").options == sorted(divisions)
    everything = charts_of(at)[0]
    at.multiselect(key="filter_divisions").select(divisions["Acute & Critical Care"]).run()
    assert not at.exception
    assert at.multiselect(key="filter_departments").options == [
        "Cardiology",
        "Emergency",
        "Intensive Care (ICU)",
        "Surgery",
    ]
    spec = charts_of(at)[0]
    assert spec != everything
    assert "Emergency" in spec and "Oncology" not in spec


def test_the_heatmap_can_show_a_row_per_division(demo: Engine) -> None:
    at = page_as(demo, "admin", "heatmap.py").run()
    assert at.get("button_group"), "a hospital of three divisions offers rows by division"
    at.button_group(key="heatmap_rows").set_value("division").run()
    assert not at.exception
    spec = charts_of(at)[0]
    assert "Medicine, Women" in spec and "Oncology" not in spec
    # One division chosen: its departments, and nothing to switch.
    at.multiselect(key="filter_divisions").select(division_names(demo)["Acute & Critical Care"])
    at.run()
    assert not at.get("button_group")
    assert "Emergency" in charts_of(at)[0]


def chosen_cycles(engine: Engine, at: AppTest, page: str) -> list[str]:
    """The cycle (or range of cycles) a page shows, by name."""
    names = {cycle.id: cycle.name for cycle in list_cycles(engine=engine)}
    if page == "trends.py":
        return [names[cycle] for cycle in at.select_slider(key="filter_cycle_range").value]
    return [names[at.selectbox(key="filter_cycle").value]]


@pytest.mark.parametrize("page", RESULTS_PAGES)
def test_results_open_on_the_newest_cycle_with_results_not_on_a_new_draft(
    with_a_draft: Engine, page: str
) -> None:
    at = page_as(with_a_draft, "admin", page).run()
    assert not at.exception
    assert chosen_cycles(with_a_draft, at, page)[-1] == "2026 Q4"
    assert not at.info, "the view has results to show"
    if page != "trends.py":
        options = at.selectbox(key="filter_cycle").options
        assert options[:3] == ["2027 Q2 (not open yet)", "2026 Q4 (open)", "2026 Q3 (closed)"]
    if page in CHART_PAGES:
        assert charts_of(at)


@pytest.mark.parametrize("page", RESULTS_PAGES)
def test_a_draft_cycle_says_why_it_has_no_results_instead_of_drawing_empty_charts(
    with_a_draft: Engine, page: str
) -> None:
    at = page_as(with_a_draft, "admin", page).run()
    if page == "trends.py":
        draft = next(c.id for c in list_cycles(engine=with_a_draft) if c.name == "2027 Q2")
        at.select_slider(key="filter_cycle_range").set_range(draft, draft).run()
    else:
        at.selectbox(key="filter_cycle").select("2027 Q2 (not open yet)").run()
    assert not at.exception
    minimum = 8 if page == "comments.py" else 5
    what = "comments" if page == "comments.py" else "results"
    assert [info.value for info in at.info][:1] == [
        f"2027 Q2 has not opened yet, so nobody has answered; {what} appear once it is open "
        f"and at least {minimum} people in a group have answered."
    ]
    if page == "relationships.py":  # other cycles still show below
        assert len(charts_of(at)) <= 1
    else:
        assert not charts_of(at), "no empty axis"
        assert not at.metric and not at.text


# Relationships has no staff group filter: Pharmacy as a whole is large enough for it.
@pytest.mark.parametrize("page", [page for page in RESULTS_PAGES if page != "relationships.py"])
def test_a_fully_suppressed_selection_says_why_and_what_to_change(demo: Engine, page: str) -> None:
    at = page_as(demo, "admin", page)
    at.session_state["filter_departments"] = [department_id(demo, "Pharmacy")]
    at.session_state["filter_groups"] = [1]  # nursing: Pharmacy has only four nurses
    at.run()
    assert not at.exception
    assert any(
        info.value.startswith("Too few people in this selection answered in")
        and info.value.endswith("choose more departments or staff groups.")
        for info in at.info
    ), [info.value for info in at.info]
    assert not charts_of(at), "no chart of hidden cells"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("filter_cycle", 999),
        ("filter_cycle", "2031 Q1"),
        ("filter_departments", 9999),  # one id where a list belongs
        ("filter_departments", "Nowhere"),  # a name, not an id
        ("filter_departments", [9999, "Nowhere", None]),
        ("filter_departments", None),
        ("filter_groups", 77),
        ("filter_groups", [1.5]),
        ("filter_divisions", 55),
        ("filter_divisions", {"a": 1}),
        ("filter_cycle_range", 8),
        ("filter_cycle_range", (8,)),
        ("filter_cycle_range", None),
    ],
)
@pytest.mark.parametrize("page", ["overview.py", "trends.py"])
def test_a_tampered_filter_value_is_dropped_and_the_page_still_draws(
    demo: Engine, page: str, key: str, value: object
) -> None:
    at = page_as(demo, "admin", page)
    at.session_state[key] = value
    at.run()
    assert not at.exception
    assert charts_of(at), "the page draws as if the value had never been chosen"
    assert chosen_cycles(demo, at, page)[-1] == "2026 Q4"


def test_a_tampered_list_keeps_the_departments_it_knows(demo: Engine) -> None:
    emergency = department_id(demo, "Emergency")
    at = page_as(demo, "admin", "heatmap.py")
    at.session_state["filter_departments"] = [9999, emergency, "Oncology"]
    at.run()
    assert not at.exception
    assert at.multiselect(key="filter_departments").value == [emergency]
    assert "Emergency" in charts_of(at)[0] and "Oncology" not in charts_of(at)[0]


def test_the_overview_offers_the_pdf_report_and_makes_it_only_when_asked(
    demo: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PdfReader

    from dashboard import resources
    from dashboard.filters import Selection
    from surveys import reporting
    from surveys.printing import board

    made: list[object] = []
    render = board.render_board_report
    monkeypatch.setattr(board, "render_board_report", lambda *a, **k: made.append(a) or b"")
    at = page_as(demo, "ed.manager", "overview.py").run()
    assert not at.exception
    buttons = [b for b in at.get("download_button") if b.proto.label == "Download PDF report"]
    assert len(buttons) == 1
    assert made == []  # drawing the page made no report
    # What the button hands over when clicked: the manager's scope, as on the page.
    monkeypatch.setattr(board, "render_board_report", render)
    scope = frozenset({department_id(demo, "Emergency")})
    options = reporting.filter_options(demo, departments=scope)
    assert options.default_cycle is not None
    selection = Selection(
        scope=scope,
        cycle_id=options.default_cycle.id,
        cycle_name=options.default_cycle.name,
        cycle_range=(options.default_cycle.id, options.default_cycle.id),
        divisions=None,
        selected_departments=None,
        staff_groups=None,
        options=options,
        phone=False,
    )
    pdf = resources.board_report_pdf(selection)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Emergency" in text and "Oncology" not in text and "Cardiology" not in text


def test_a_manager_of_one_department_sees_it_once_and_the_whole_organisation_beside_it(
    demo: Engine,
) -> None:
    heatmap = page_as(demo, "ed.manager", "heatmap.py").run()
    assert not heatmap.exception
    assert "All selected departments" not in str(heatmap.get("plotly_chart")[0].proto.spec)
    trends = page_as(demo, "ed.manager", "trends.py").run()
    assert not trends.exception
    assert "All selected departments" not in str(trends.get("plotly_chart")[0].proto.spec)
    assert not [c for c in trends.caption if "the three that moved most" in c.value]
    overview = page_as(demo, "ed.manager", "overview.py").run()
    assert not overview.exception
    admin = page_as(demo, "admin", "overview.py").run()
    whole = {metric.label: metric.value for metric in admin.metric}
    expected = (
        f"Whole organisation, for comparison: Relationship Health Index "
        f"{whole['Relationship Health Index']}, eNPS {whole['eNPS']}."
    )
    assert [c.value for c in overview.caption if c.value.startswith("Whole")] == [expected]
    # The administrator, who sees the whole organisation, is not told it twice.
    assert not [c for c in admin.caption if c.value.startswith("Whole")]


@pytest.fixture
def analysed(demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The demo hospital with every shown comment analysed, and hostile markup in each."""
    from surveys.analysis import analyse_comments

    path = tmp_path / "analysed.db"
    shutil.copy(demo_file, path)
    use_fast_hashing(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    engine = make_engine(get_settings().database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE comment SET text = '**bold** <b>x</b> [link](http://e.x) ' || text")
        )
    analyse_comments(engine)
    yield engine
    engine.dispose()


def test_the_comments_page_shows_themes_and_a_theme_filters(analysed: Engine) -> None:
    at = page_as(analysed, "admin", "comments.py").run()
    assert not at.exception
    themes = at.dataframe[0].value
    assert list(themes.columns) == ["Theme", "Comments", "Negative"]
    assert (themes["Comments"] >= 8).all()  # the comment minimum
    assert [expander.label for expander in at.expander] == ["Themes across cycles"]
    assert at.get("plotly_chart") and at.get("plotly_chart")[0].proto.alt
    everything = [text.value for text in at.text]
    labels = [caption.value for caption in at.caption if caption.value.startswith("Theme")]
    assert len(labels) == len(everything)
    biggest = themes["Theme"][0]
    at.selectbox(key="comments_theme").select(biggest).run()
    assert not at.exception
    chosen = [text.value for text in at.text]
    assert chosen and len(chosen) < len(everything)
    shown = [caption.value for caption in at.caption if caption.value.startswith("Theme")]
    assert all(
        biggest.replace(" ", "") in label.replace("\\", "").replace(" ", "") for label in shown
    )


def test_comments_not_analysed_yet_carry_no_theme_line_and_there_is_no_theme_picker(
    demo: Engine,
) -> None:
    at = page_as(demo, "admin", "comments.py").run()
    assert not at.exception
    assert at.text, "the demo's comments are shown"
    assert not [caption for caption in at.caption if caption.value.startswith("Theme")]
    assert not [box for box in at.selectbox if box.key == "comments_theme"]
    (waiting,) = [caption.value for caption in at.caption if "no theme yet" in caption.value]
    assert waiting.split(" ")[1:3] == ["comments", "have"]


def test_hostile_comments_stay_plain_text_beside_their_theme(analysed: Engine) -> None:
    at = page_as(analysed, "admin", "comments.py").run()
    assert not at.exception
    hostile = [text.value for text in at.text if text.value.startswith("**bold**")]
    assert hostile, "the hostile comment is shown, as plain text"
    assert not [markdown for markdown in at.markdown if "bold" in markdown.value]


def test_the_overview_shows_key_drivers_and_says_correlation_is_not_cause(demo: Engine) -> None:
    at = page_as(demo, "admin", "overview.py").run()
    assert not at.exception
    assert any("correlation, not cause" in caption.value for caption in at.caption)
    specs = charts_of(at)
    assert len(specs) == 2  # the dimensions, and the key drivers beside them
    assert "Strong and low: focus here" in specs[1]
    legend = at.dataframe[0].value
    assert list(legend.columns)[:4] == ["#", "Dimension", "Score", "Impact"]
    at.segmented_control(key="driver_outcome").set_value("overall").run()
    assert not at.exception
    assert charts_of(at)[1] != specs[1]


def test_a_manager_below_the_driver_minimum_is_told_why_and_shown_no_driver(
    demo: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTUNE_MIN_DRIVER_GROUP_SIZE", "1000")
    get_settings.cache_clear()
    at = page_as(demo, "ed.manager", "overview.py").run()
    assert not at.exception
    assert any("Key drivers need at least 1000 people" in info.value for info in at.info)
    assert len(charts_of(at)) == 1


def test_focus_areas_name_the_emergency_story_and_open_a_plan_from_it(demo: Engine) -> None:
    at = signed_in(demo, "ed.manager")
    at.switch_page("app_pages/focus.py").run()
    assert not at.exception
    assert [subheader.value for subheader in at.subheader] == ["Emergency"]
    texts = [text.value for text in at.text]
    assert "Relationship: Nursing staff and physicians" in texts
    position = texts.index("Relationship: Nursing staff and physicians")
    buttons = [button for button in at.button if button.label == "Start an action plan"]
    # Text and buttons alternate: title, reason, button, for each focus area.
    buttons[(position - 0) // 2].click().run()
    assert not at.exception
    # The action plan form opens, filled in from the focus area, which it then lets go of.
    assert at.text_input(key="plan_new_title").value == "Nursing staff and physicians"
    assert at.radio(key="plan_new_addresses").value == "relationship"
    assert "plan_prefill" not in at.session_state
