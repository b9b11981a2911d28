"""Debian's HAProxy in front of app replicas, run from the shipped deploy/haproxy.cfg."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT
from tests.support.browser import free_port, stop

HAPROXY = Path("/usr/sbin/haproxy")
CONFIG = ROOT / "deploy" / "haproxy.cfg"
COOKIE = "ATTUNE_REPLICA"
START_SECONDS = 15


@dataclass(frozen=True)
class Balancer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def servers_used(self, path: str = "/_stcore/stream") -> set[str]:
        """The replicas (`replica1`, ...) HAProxy has sent requests for `path` to so far."""
        found = re.findall(
            rf"replicas/(replica\d+) .*\"GET {re.escape(path)}", self.log.read_text()
        )
        return set(found)


def environment(port: int, replica_urls: Sequence[str]) -> dict[str, str]:
    """What deploy/haproxy.cfg reads: where to listen, and each replica's host:port."""
    if len(replica_urls) != 2:
        raise ValueError("deploy/haproxy.cfg names two replicas")
    return {
        **os.environ,
        "ATTUNE_HAPROXY_BIND": f"127.0.0.1:{port}",
        "ATTUNE_HAPROXY_MAXCONN": "2000",
        **{
            f"ATTUNE_REPLICA_{number}": url.removeprefix("http://")
            for number, url in enumerate(replica_urls, start=1)
        },
    }


@contextmanager
def haproxy(
    replica_urls: Sequence[str], folder: Path, port: int | None = None
) -> Iterator[Balancer]:
    """HAProxy on `port` (default: a free one) in the foreground, logging to haproxy.log;
    yields once a health check through it answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "haproxy.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(HAPROXY), "-db", "-f", str(CONFIG)],
            env=environment(port, replica_urls),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"HAProxy exited with {process.returncode}:\n{log.read_text()}"
                    )
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                        if reply.read().decode().strip() == "ok":
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"HAProxy did not answer:\n{log.read_text()}")
                time.sleep(0.2)
            yield Balancer(url, process, log)
        finally:
            stop(process)
