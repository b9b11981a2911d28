"""The current time, always timezone-aware UTC: the one clock every module reads."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
