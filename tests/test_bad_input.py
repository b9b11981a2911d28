"""Hostile and malformed input to instrument files and settings: a clear message, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from surveys.config import Settings
from surveys.instruments import BUILTIN_DIR, InstrumentError, load_instrument
from tests.support.hostile import HUGE, INJECTION, INVISIBLE, MARKUP, hostile_text

BUILTIN = (BUILTIN_DIR / "relationship_health_v1.toml").read_text()
TARGET = 'text = "I feel respected by {group}."'

# Everything shown as formatting, hidden, or too long is refused in a question's text.
REFUSED_TEXTS = {name: "{group} " + text for name, text in {**MARKUP, **INVISIBLE, **HUGE}.items()}


def instrument_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.toml"
    path.write_text(BUILTIN.replace(TARGET, f"text = {json.dumps(text)}"))
    return path


@pytest.mark.parametrize("text", REFUSED_TEXTS.values(), ids=REFUSED_TEXTS.keys())
def test_hostile_question_text_is_refused_with_the_entry_named(tmp_path: Path, text: str) -> None:
    assert TARGET in BUILTIN
    with pytest.raises(InstrumentError) as error:
        load_instrument(instrument_with(tmp_path, text))
    message = str(error.value)
    assert message.startswith("custom.toml: sections[0].items[6].text: ")
    assert len(message) < 400  # the message quotes the problem, not the megabyte


@pytest.mark.parametrize(
    "text",
    [
        "{group} say '; DROP TABLE response; -- and I agree.",
        "{group} (médecins, infirmières) respect me: 100% of the time?",
        "{group} respektieren mich — immer.",
        "{group} يحترمونني.",
    ],
)
def test_plain_text_with_quotes_accents_and_other_scripts_is_accepted_verbatim(
    tmp_path: Path, text: str
) -> None:
    instrument = load_instrument(instrument_with(tmp_path, text))
    respect = [item for item in instrument.items([("nursing", "nursing staff")])
               if item.key == "respect"]  # fmt: skip
    assert respect[0].text == text.replace("{group}", "Nursing staff")


@pytest.mark.parametrize(
    "name",
    [
        INJECTION["path traversal"],
        "/dev/null",
        "missing.toml",
        "..",
        "\u202efile.toml",
        INJECTION["windows path traversal"],
    ],
)
def test_instrument_paths_that_are_not_instrument_files_give_a_message(name: str) -> None:
    with pytest.raises(InstrumentError):
        load_instrument(Path(name))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=hostile_text(max_size=200))
def test_any_item_text_loads_or_is_refused_cleanly(tmp_path: Path, text: str) -> None:
    try:
        load_instrument(instrument_with(tmp_path, "{group} " + text))
    except InstrumentError as error:
        assert "custom.toml" in str(error)


@pytest.mark.parametrize(
    "value", ["0", "-1", "3.5", "NaN", "", "five", "1e9", "<script>", "5; DROP TABLE x"]
)
def test_bad_minimum_group_sizes_are_refused_naming_the_variable(monkeypatch, value: str) -> None:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert "ATTUNE_MIN_GROUP_SIZE" in str(error.value)


@settings(max_examples=60)
@given(value=hostile_text(max_size=40).filter(lambda text: "\x00" not in text))
def test_any_minimum_group_size_is_a_number_in_range_or_refused_naming_the_variable(
    value: str,
) -> None:
    import os

    os.environ["ATTUNE_MIN_GROUP_SIZE"] = value
    try:
        settings_ = Settings()
    except ValidationError as error:
        assert "ATTUNE_MIN_GROUP_SIZE" in str(error)
    else:
        assert 3 <= settings_.min_group_size <= 100
        assert int(value.strip()) == settings_.min_group_size
    finally:
        del os.environ["ATTUNE_MIN_GROUP_SIZE"]


def test_a_padded_number_is_read_as_the_number(monkeypatch) -> None:
    monkeypatch.setenv("ATTUNE_MIN_GROUP_SIZE", " 6 ")
    assert Settings().min_group_size == 6


@settings(max_examples=80)
@given(value=hostile_text(max_size=80).filter(lambda text: "\x00" not in text))
def test_any_base_url_is_accepted_only_if_it_is_http(value: str) -> None:
    import os

    os.environ["ATTUNE_BASE_URL"] = value
    try:
        settings_ = Settings()
    except ValidationError as error:
        assert "ATTUNE_BASE_URL" in str(error)
    else:
        assert settings_.base_url.startswith(("http://", "https://"))
    finally:
        del os.environ["ATTUNE_BASE_URL"]
