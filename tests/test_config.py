"""Settings: defaults, URL normalisation and refusal of bad values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from surveys.config import PROJECT_ROOT, Settings, get_settings, normalise_database_url


def test_default_database_is_an_absolute_sqlite_file_in_data(monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL")
    get_settings.cache_clear()
    url = get_settings().database_url
    assert url == f"sqlite:///{PROJECT_ROOT / 'data' / 'attune.db'}"
    assert url.startswith("sqlite:////")


def test_defaults_for_confidentiality_thresholds() -> None:
    settings = get_settings()
    assert settings.min_group_size == 5
    assert settings.min_comment_group_size == 8


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/attune", "postgresql+psycopg://u:p@db:5432/attune"),
        ("postgresql://u@db/attune", "postgresql+psycopg://u@db/attune"),
        ("postgresql+psycopg://u@db/attune", "postgresql+psycopg://u@db/attune"),
        ("sqlite:///data/other.db", f"sqlite:///{PROJECT_ROOT / 'data' / 'other.db'}"),
        ("sqlite:////var/lib/attune.db", "sqlite:////var/lib/attune.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("  postgres://u@db/a  ", "postgresql+psycopg://u@db/a"),
    ],
)
def test_database_urls_are_normalised(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_settings_read_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/attune")
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", "7")
    monkeypatch.setenv("ATTUNE_MIN_COMMENT_GROUP_SIZE", "10")
    monkeypatch.setenv("ATTUNE_BASE_URL", "https://survey.example.org/")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.database_url == "postgresql+psycopg://u@db/attune"
    assert settings.min_group_size == 7
    assert settings.min_comment_group_size == 10
    assert settings.base_url == "https://survey.example.org"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ATTUNE_MIN_GROUP_SIZE", "2", "greater than or equal to 3"),
        ("ATTUNE_MIN_GROUP_SIZE", "five", "valid integer"),
        ("ATTUNE_MIN_COMMENT_GROUP_SIZE", "0", "greater than or equal to 3"),
        ("ATTUNE_BASE_URL", "javascript:alert(1)", "must start with http"),
        ("DATABASE_URL", "   ", "DATABASE_URL is empty"),
        ("ATTUNE_SQLITE_BUSY_TIMEOUT_MS", "-1", "greater than or equal to 0"),
    ],
)
def test_bad_settings_are_refused_with_a_message(monkeypatch, variable, value, message) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message) as error:
        Settings()
    assert variable in str(error.value)
