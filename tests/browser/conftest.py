"""One Streamlit server on a demo database per session, and Debian's Chromium to drive it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.support.demo import copy_demo


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}: run `make browser`")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def demo_database_url(demo_hospital_file: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file holding the demo hospital (a copy: the tests here change it)."""
    return f"sqlite:///{copy_demo(demo_hospital_file, tmp_path_factory.mktemp('demo'))}"


@pytest.fixture(scope="session")
def base_url(demo_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served on a free port; pytest-playwright gives every context this base URL."""
    with streamlit_server(demo_database_url, tmp_path_factory.mktemp("streamlit")) as url:
        yield url
