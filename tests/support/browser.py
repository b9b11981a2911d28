"""Serving the app to Debian's Chromium: a Streamlit server on a free port, and the sidebar."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser download cannot work here; we also run as root, hence no sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_SECONDS = 30
SERVER_STOP_SECONDS = 10

# A phone says so in its user agent ("Mobi"): the app lays pages out compact for it.
PHONE_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"Streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"Streamlit was not healthy after {SERVER_START_SECONDS} s:\n{log.read_text()}"
    )


@dataclass(frozen=True)
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def streamlit_server(
    database_url: str, folder: Path, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """Serve dashboard/app.py on a free port against `database_url`; yields the base URL."""
    with streamlit_process(database_url, folder, extra_env) as server:
        yield server.url


@contextmanager
def streamlit_process(
    database_url: str,
    folder: Path,
    extra_env: dict[str, str] | None = None,
    *,
    log_name: str = "server.log",
) -> Iterator[RunningServer]:
    """As `streamlit_server`, but yields the process too (the load benchmark reads its memory)."""
    with ExitStack() as stack:
        server = _start(stack, database_url, folder, extra_env, log_name)
        wait_until_healthy(server.process, server.url, folder / log_name)
        yield server


@contextmanager
def streamlit_processes(
    count: int, database_url: str, folder: Path, extra_env: dict[str, str] | None = None
) -> Iterator[list[RunningServer]]:
    """`count` replicas of the app on free ports, all on `database_url`, started together
    (each logs to server-<n>.log in `folder`); yields them once every one is healthy."""
    with ExitStack() as stack:
        servers = [
            _start(stack, database_url, folder, extra_env, f"server-{number}.log")
            for number in range(1, count + 1)
        ]
        for number, server in enumerate(servers, start=1):
            wait_until_healthy(server.process, server.url, folder / f"server-{number}.log")
        yield servers


def streamlit_command(script: str, port: int) -> list[str]:
    """The command that serves `script` (a path from the working directory) on 127.0.0.1."""
    return [
        str(Path(sys.executable).with_name("streamlit")),
        "run",
        script,
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        # A source file edited mid-run would make Streamlit re-import the models.
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]


def _start(
    stack: ExitStack,
    database_url: str,
    folder: Path,
    extra_env: dict[str, str] | None,
    log_name: str,
) -> RunningServer:
    """Start one server; `stack` stops it (TERM, then KILL) when it closes."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("ATTUNE_")
    }
    # Links the app makes (invitations) point at this very server.
    environment.update({"DATABASE_URL": database_url, "ATTUNE_BASE_URL": url, **(extra_env or {})})
    output = stack.enter_context((folder / log_name).open("wb"))
    server = subprocess.Popen(
        streamlit_command("dashboard/app.py", port),
        cwd=ROOT,
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop, server)
    return RunningServer(url, server)


def stop(server: subprocess.Popen[bytes]) -> None:
    """TERM, and KILL if it has not ended within SERVER_STOP_SECONDS."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def go_to(page: Page, title: str) -> None:
    """Follow the sidebar link to `title`, opening the sidebar first on a phone."""
    expand = page.get_by_test_id("stExpandSidebarButton")
    if expand.is_visible():
        expand.click()
    navigation = page.get_by_test_id("stSidebarNav")
    navigation.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    collapse = page.get_by_test_id("stSidebarCollapseButton")
    if page.viewport_size and page.viewport_size["width"] < 640 and collapse.is_visible():
        page.get_by_test_id("stSidebar").hover()
        collapse.get_by_role("button").click()
        expect(page.get_by_test_id("stSidebar")).not_to_be_in_viewport()


ADMINISTRATION_PAGES = [
    "Manage cycles",
    "Invitations",
    "Response rates",
    "Share results",
    "Departments",
    "Staff groups",
    "Comment themes",
    "Accounts",
    "Audit log",
]
"""The administration pages of the sidebar, in its order."""
