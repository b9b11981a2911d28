"""Security settings that must never drift: XSRF, CORS, upload size, HTML rendering, secrets."""

from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STREAMLIT_CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
DASHBOARD_FILES = sorted((ROOT / "dashboard").rglob("*.py"))


def tracked_files() -> list[Path]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / name for name in listing.split("\0") if name]


def test_xsrf_protection_is_on() -> None:
    assert STREAMLIT_CONFIG["server"]["enableXsrfProtection"] is True


def test_cors_is_not_opened() -> None:
    server = STREAMLIT_CONFIG["server"]
    assert server.get("enableCORS", True) is True
    assert "*" not in server.get("corsAllowedOrigins", [])


def test_upload_limit_is_no_larger_than_roster_import_needs() -> None:
    # Roster files are refused above 1 MB; Streamlit's limit is in whole megabytes.
    assert 1 <= STREAMLIT_CONFIG["server"]["maxUploadSize"] <= 2


def test_error_details_are_not_shown_to_users() -> None:
    assert STREAMLIT_CONFIG["client"]["showErrorDetails"] in ("none", False)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.name)
def test_no_page_renders_raw_html(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_html":
            assert isinstance(node.value, ast.Constant) and node.value.value is False, (
                f"{path.name}:{node.value.lineno} uses unsafe_allow_html"
            )
        if isinstance(node, ast.Attribute) and node.attr == "html":
            assert not (isinstance(node.value, ast.Name) and node.value.id == "st"), (
                f"{path.name}:{node.lineno} calls st.html"
            )


SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"(cookie_secret|client_secret)\s*=\s*\"(?!<|\.\.\.|change-me)[^\"]{8,}\""),
    re.compile(r"postgres(ql)?(\+psycopg)?://[^:@/\s]+:(?!secret@|password@)[^@\s/]{6,}@"),
]


def test_no_secret_is_committed() -> None:
    tracked = tracked_files()
    assert not [path for path in tracked if path.name == "secrets.toml"]
    leaks = []
    for path in tracked:
        if not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        try:
            content = path.read_text()
        except UnicodeDecodeError:
            continue
        leaks += [
            f"{path.relative_to(ROOT)}: {p.pattern}" for p in SECRET_PATTERNS if p.search(content)
        ]
    assert leaks == []
