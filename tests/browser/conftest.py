"""One Streamlit server on a demo database per session, and Debian's Chromium to drive it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from surveys.demo import load_demo
from surveys.storage import make_engine, migrate
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}: run `make browser`")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def demo_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file holding the demo hospital."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'attune.db'}"
    engine = make_engine(url)
    migrate(engine)
    load_demo(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def base_url(demo_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served on a free port; pytest-playwright gives every context this base URL."""
    with streamlit_server(demo_database_url, tmp_path_factory.mktemp("streamlit")) as url:
        yield url
