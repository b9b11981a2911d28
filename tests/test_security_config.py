"""Security settings that must never drift: XSRF, CORS, upload size, HTML rendering, secrets,
and the length of the single sign-on cookie secret."""

from __future__ import annotations

import ast
import re
import secrets
import subprocess
import tomllib
from pathlib import Path

import pytest

from surveys.config import COOKIE_SECRET_MIN_BYTES, cookie_secret_problem

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


# The one script the app may run, vetted: it scrolls the page to the top when a survey step
# opens. It is a constant with no data in it; changing it means vetting it again here.
VETTED_SCRIPT = (
    "<script>document.querySelector('[data-testid=\"stMain\"]')?.scrollTo({top: 0});</script>"
)
VETTED_SCRIPT_HOME = ("survey_form.py", "SCROLL_TO_TOP")


def is_vetted_script_call(path: Path, call: ast.Call) -> bool:
    """`st.html(SCROLL_TO_TOP, unsafe_allow_javascript=True)` in survey_form.py, exactly."""
    home, name = VETTED_SCRIPT_HOME
    return (
        path.name == home
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "st"
        and [type(arg) for arg in call.args] == [ast.Name]
        and isinstance(call.args[0], ast.Name)
        and call.args[0].id == name
        and [(keyword.arg, getattr(keyword.value, "value", None)) for keyword in call.keywords]
        == [("unsafe_allow_javascript", True)]
    )


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.name)
def test_no_page_renders_raw_html(path: Path) -> None:
    tree = ast.parse(path.read_text())
    vetted_calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and is_vetted_script_call(path, node)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_html":
            assert isinstance(node.value, ast.Constant) and node.value.value is False, (
                f"{path.name}:{node.value.lineno} uses unsafe_allow_html"
            )
        if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_javascript":
            assert any(node in call.keywords for call in vetted_calls), (
                f"{path.name}:{node.value.lineno} runs JavaScript other than the vetted script"
            )
        if isinstance(node, ast.Attribute) and node.attr == "html":
            assert any(node is call.func for call in vetted_calls), (
                f"{path.name}:{node.lineno} calls {ast.unparse(node)}"
            )
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom):
                modules.append(node.module or "")
            assert not any("components" in module for module in modules), (
                f"{path.name}:{node.lineno} imports Streamlit components (iframes with scripts)"
            )
        if isinstance(node, ast.Constant) and "<script" in str(node.value).lower():
            assert node.value == VETTED_SCRIPT, f"{path.name}:{node.lineno} holds a script"


def test_the_only_script_is_the_vetted_constant() -> None:
    """SCROLL_TO_TOP is assigned once, at module level, to exactly the vetted text."""
    home, name = VETTED_SCRIPT_HOME
    trees = {path.name: ast.parse(path.read_text()) for path in DASHBOARD_FILES}
    assignments = [
        (file, node)
        for file, tree in trees.items()
        for node in ast.walk(tree)
        for target in ast.walk(node)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
        and isinstance(target, ast.Name)
        and isinstance(target.ctx, ast.Store)
        and target.id == name
    ]
    assert [file for file, _ in assignments] == [home]
    ((_, assignment),) = assignments
    assert assignment in trees[home].body  # a module constant, not built inside a function
    assert isinstance(assignment, ast.Assign) and isinstance(assignment.value, ast.Constant)
    assert assignment.value.value == VETTED_SCRIPT


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


# --- The single sign-on cookie secret ----------------------------------------------------------

# A cookie secret given as a quoted string: a TOML assignment, or a key in Python or JSON.
COOKIE_SECRET = re.compile(r"""["']?cookie_secret["']?\s*[=:]\s*(["'])(.*?)\1""")


@pytest.mark.parametrize(
    ("cookie_secret", "refused"),
    [
        (None, True),
        ("", True),
        (12345, True),
        ("x" * (COOKIE_SECRET_MIN_BYTES - 1), True),
        ("é" * 15 + "x", True),  # 16 characters, 31 bytes: bytes are what count
        ("x" * COOKIE_SECRET_MIN_BYTES, False),
        ("é" * 16, False),
        (secrets.token_urlsafe(32), False),
    ],
    ids=[
        "none",
        "empty",
        "a number",
        "31 bytes",
        "31 bytes in 16 characters",
        "32 bytes",
        "32 bytes in 16 characters",
        "a random secret",
    ],  # fmt: skip
)
def test_a_cookie_secret_under_32_bytes_is_refused(cookie_secret: object, refused: bool) -> None:
    problem = cookie_secret_problem(cookie_secret)
    assert (problem is not None) is refused
    if problem is not None:
        assert problem.startswith("Single sign-on is turned off: ")
        assert "at least 32 bytes" in problem
        if isinstance(cookie_secret, str) and cookie_secret:
            assert cookie_secret not in problem  # the message never repeats the secret


def cookie_secrets_in(path: Path) -> list[str]:
    content = path.read_text(errors="replace")
    found = [match.group(2) for match in COOKIE_SECRET.finditer(content)]
    if path.suffix == ".toml":
        try:
            auth = tomllib.loads(content).get("auth", {})
        except tomllib.TOMLDecodeError:
            auth = {}
        if isinstance(auth, dict) and "cookie_secret" in auth:
            found.append(str(auth["cookie_secret"]))
    return found


# Written with {key} for the name, or this file would hold the very strings it looks for.
SHORT_SECRET_SNIPPETS = {
    "secrets.toml": '[auth]\nredirect_uri = "x"\n{key} = "tooshort"\n',
    "single.toml": "[auth]\n{key} = 'tooshort'\n",
    "README.md": '```toml\n[auth]\n{key} = "tooshort"\n```\n',
    "example.py": 'SECRETS = {{"auth": {{"{key}": "tooshort"}}}}\n',
}


@pytest.mark.parametrize(
    ("name", "content"), SHORT_SECRET_SNIPPETS.items(), ids=SHORT_SECRET_SNIPPETS.keys()
)
def test_the_cookie_secret_search_finds_secrets_wherever_they_are_written(
    tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content.format(key="cookie_secret"))
    assert "tooshort" in cookie_secrets_in(path)


def test_no_committed_example_or_local_config_has_a_short_cookie_secret() -> None:
    # Tracked files (the README's secrets.toml example among them), and whatever
    # .streamlit/*.toml this checkout holds, secrets.toml included, though never committed.
    paths = {path for path in tracked_files() if path.is_file()}
    paths |= set((ROOT / ".streamlit").glob("*.toml"))
    short = []
    examples = 0
    for path in sorted(paths):
        if path.stat().st_size > 1_000_000:
            continue
        for cookie_secret in cookie_secrets_in(path):
            examples += 1
            if cookie_secret_problem(cookie_secret) is not None:
                short.append(f"{path.relative_to(ROOT)}: {len(cookie_secret.encode())} bytes")
    assert short == []
    assert examples >= 1  # the README's example is found, so the search works
