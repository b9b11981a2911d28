"""Settings read from the environment through pydantic-settings."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "attune.db"

# Streamlit signs the single sign-on identity cookie with [auth] cookie_secret; a short secret
# can be guessed offline from one cookie, and then anyone could forge a signed-in identity.
COOKIE_SECRET_MIN_BYTES = 32


def normalise_database_url(url: str) -> str:
    """Give SQLAlchemy a driver-qualified URL and an absolute SQLite path."""
    url = url.strip()
    # Heroku-style and libpq URLs name no driver; SQLAlchemy would pick psycopg2 (not shipped).
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url[len("sqlite:///") :]
        if relative and relative != ":memory:" and not relative.startswith("file:"):
            # Relative paths would depend on the directory Streamlit or the CLI was started from.
            return "sqlite:///" + str((PROJECT_ROOT / relative).resolve())
    return url


def cookie_secret_problem(cookie_secret: object) -> str | None:
    """Why single sign-on must not run with this `[auth]` cookie secret, or None if it may."""
    if not isinstance(cookie_secret, str) or not cookie_secret:
        found = "has no cookie_secret"
    else:
        length = len(cookie_secret.encode("utf-8"))
        if length >= COOKIE_SECRET_MIN_BYTES:
            return None
        found = f"has a cookie_secret of {length} bytes"
    return (
        "Single sign-on is turned off: the [auth] section of .streamlit/secrets.toml "
        f"{found}, and it needs a random one of at least {COOKIE_SECRET_MIN_BYTES} bytes "
        "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')."
    )


class Settings(BaseSettings):
    """Every setting Attune reads; each field names its environment variable."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL of the database.",
    )
    min_group_size: int = Field(
        default=5,
        ge=3,
        le=100,
        validation_alias="ATTUNE_MIN_GROUP_SIZE",
        description="Fewest responses a reported group may have.",
    )
    min_comment_group_size: int = Field(
        default=8,
        ge=3,
        le=100,
        validation_alias="ATTUNE_MIN_COMMENT_GROUP_SIZE",
        description="Fewest responses a group needs before its comments are shown.",
    )
    min_driver_group_size: int = Field(
        default=30,
        ge=10,
        le=1000,
        validation_alias="ATTUNE_MIN_DRIVER_GROUP_SIZE",
        description="Fewest respondents a key-driver correlation may rest on.",
    )
    base_url: str = Field(
        default="http://localhost:8501",
        validation_alias="ATTUNE_BASE_URL",
        description="Public address of the app, used to build survey links.",
    )
    instrument_dir: Path | None = Field(
        default=None,
        validation_alias="ATTUNE_INSTRUMENT_DIR",
        description="Folder of an organisation's own instrument files (TOML).",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=15_000,
        ge=0,
        validation_alias="ATTUNE_SQLITE_BUSY_TIMEOUT_MS",
        description="How long a SQLite writer waits for the lock before giving up.",
    )

    session_hours: float = Field(
        default=8,
        gt=0,
        le=24 * 7,
        validation_alias="ATTUNE_SESSION_HOURS",
        description="How long a sign-in lasts, however busy the session (absolute limit).",
    )
    session_idle_minutes: float = Field(
        default=30,
        ge=1,
        le=24 * 60,
        validation_alias="ATTUNE_SESSION_IDLE_MINUTES",
        description="How long a signed-in session may sit unused before it ends.",
    )
    sso_role_map: Path | None = Field(
        default=None,
        validation_alias="ATTUNE_SSO_ROLE_MAP",
        description="TOML file mapping single sign-on emails and groups to roles.",
    )
    demo_password: SecretStr | None = Field(
        default=None,
        min_length=12,
        validation_alias="ATTUNE_DEMO_PASSWORD",
        description="Password of the demo accounts `attune demo` creates (else generated).",
    )

    paper_size: Literal["A4", "Letter"] = Field(
        default="A4",
        validation_alias="ATTUNE_PAPER_SIZE",
        description="Paper size of the PDF board report: A4 or Letter.",
    )
    organisation_name: str = Field(
        default="",
        max_length=200,
        validation_alias="ATTUNE_ORGANISATION_NAME",
        description="The organisation's name, printed on the cover of the PDF report.",
    )

    @field_validator("paper_size", mode="before")
    @classmethod
    def _paper_name(cls, value: object) -> object:
        # "a4" and "letter" as people type them.
        if isinstance(value, str):
            return {"a4": "A4", "letter": "Letter"}.get(value.strip().lower(), value)
        return value

    time_zone: str = Field(
        default="UTC",
        validation_alias="ATTUNE_TIME_ZONE",
        description="IANA time zone in which cycles open, close and send their emails.",
    )
    smtp_url: SecretStr | None = Field(
        default=None,
        validation_alias="ATTUNE_SMTP_URL",
        description="SMTP server for invitations: smtp://[user:password@]host[:port]"
        "[?starttls=true] or smtps://...; unset, nothing is sent.",
    )
    mail_from: str | None = Field(
        default=None,
        validation_alias="ATTUNE_MAIL_FROM",
        description="Sender of invitation emails, e.g. 'Staff Survey <survey@example.org>'.",
    )
    mail_reply_to: str | None = Field(
        default=None,
        validation_alias="ATTUNE_MAIL_REPLY_TO",
        description="Where replies to invitation emails go (optional).",
    )
    mail_hour: int = Field(
        default=8,
        ge=0,
        le=23,
        validation_alias="ATTUNE_MAIL_HOUR",
        description="Local hour from which a day's invitations and reminders are sent.",
    )
    link_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        validation_alias="ATTUNE_LINK_SECRET",
        description="Secret from which emailed links are rebuilt at each send (never stored).",
    )

    data_version_ttl_seconds: int = Field(
        default=30,
        ge=1,
        le=3600,
        validation_alias="ATTUNE_DATA_VERSION_TTL_SECONDS",
        description="How long a replica reuses cached figures before it checks the database "
        "for new responses; a response shows on every replica within this many seconds.",
    )
    worker_stale_seconds: int = Field(
        default=300,
        ge=60,
        validation_alias="ATTUNE_WORKER_STALE_SECONDS",
        description="`attune run-due --status` fails when no runner finished a run for this "
        "many seconds (the loop runs every minute).",
    )
    survey_drafts: bool = Field(
        default=True,
        validation_alias="ATTUNE_SURVEY_DRAFTS",
        description="Keep each respondent's answers so far, encrypted with their link, "
        "until they submit or the cycle closes.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"ATTUNE_TIME_ZONE {value!r} is not a time zone name such as Europe/London"
            ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("DATABASE_URL is empty")
        return normalise_database_url(value)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("ATTUNE_BASE_URL must start with http:// or https://")
        return value.rstrip("/")


@cache
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
