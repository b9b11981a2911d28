"""The layout's rules: dependencies point one way, pages stay thin, one release path."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SURVEYS_MODULES = sorted((ROOT / "surveys").rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", SURVEYS_MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_surveys_module_imports_neither_streamlit_plotly_nor_dashboard(path: Path) -> None:
    assert not {"streamlit", "plotly", "dashboard"} & imported_modules(path)


def test_importing_all_of_surveys_does_not_load_streamlit() -> None:
    code = (
        "import importlib, pkgutil, sys, surveys\n"
        "for module in pkgutil.walk_packages(surveys.__path__, 'surveys.'):\n"
        "    if 'migrations' not in module.name:\n"
        "        importlib.import_module(module.name)\n"
        "print('streamlit' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "False"


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for path in [*SURVEYS_MODULES, *sorted((ROOT / "dashboard").rglob("*.py"))]
        if path.name != "__init__.py" or path.read_text().strip()
        if ast.get_docstring(ast.parse(path.read_text())) is None and "versions" not in path.parts
    ]
    assert missing == []


def full_imports(path: Path) -> set[str]:
    """Every module `path` imports, by its full dotted name (`from a import b` gives a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_reporting_imports_the_release_module() -> None:
    # One release path: a figure, count or comment shown anywhere was released in reporting.
    reporting = ROOT / "surveys" / "reporting"
    outside = [
        str(path.relative_to(ROOT))
        for path in sorted(ROOT.rglob("*.py"))
        if ".venv" not in path.parts and reporting not in path.parents
        if path.parent.name != "tests" or path.name != "test_suppression.py"
        if "surveys.reporting.release" in full_imports(path)
    ]
    assert outside == []


PAGES = sorted((ROOT / "dashboard" / "app_pages").glob("*.py"))


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.name)
def test_pages_never_reach_into_storage_or_the_tables(path: Path) -> None:
    # A page reads widgets, calls one domain function and renders: no sessions, no tables.
    reached = {
        name
        for name in full_imports(path)
        if name.startswith(("surveys.storage", "surveys.models"))
    }
    assert reached == set()


# What storage may build on: settings, the tables and their read models, and the text rules
# (a leaf module: the comment column scrubs personal details with them). Nothing above it.
STORAGE_MAY_IMPORT = {"surveys.config", "surveys.models", "surveys.records", "surveys.text"}


@pytest.mark.parametrize("name", ["storage.py", "models.py", "records.py", "config.py"])
def test_storage_never_imports_what_stands_above_it(name: str) -> None:
    ours = {
        imported.rsplit(".", 1)[0] if imported.count(".") > 1 else imported
        for imported in full_imports(ROOT / "surveys" / name)
        if imported.startswith("surveys.")
    }
    assert ours <= STORAGE_MAY_IMPORT


def _prints(path: Path) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]


def test_nothing_in_the_domain_prints() -> None:
    # The command line does the printing; the domain returns what there is to say.
    cli = ROOT / "surveys" / "cli"
    printing = {
        str(path.relative_to(ROOT)): lines
        for path in SURVEYS_MODULES
        if cli not in path.parents
        if (lines := _prints(path))
    }
    assert printing == {}


LONG_FILE_LINES = 600


def test_a_long_file_says_why_in_its_docstring() -> None:
    # One concern per module; a big file of one concern may stay big if it says so.
    unexplained = []
    for path in [*SURVEYS_MODULES, *sorted((ROOT / "dashboard").rglob("*.py"))]:
        if "migrations" in path.parts:
            continue
        if len(path.read_text().splitlines()) > LONG_FILE_LINES:
            docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
            if "Long because" not in docstring:
                unexplained.append(str(path.relative_to(ROOT)))
    assert unexplained == []
