"""Text shown through Markdown: escaped, it reads as typed and links no web or email address."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveys.text import escape_all_markdown, escape_markdown

# What GitHub-flavoured Markdown links (mdast-util-gfm-autolink-literal, used by Streamlit's
# renderer), applied as it is, to the text after Markdown's escapes are read.
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")
ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
ESCAPERS = {"escape_markdown": escape_markdown, "escape_all_markdown": escape_all_markdown}

ADDRESSES = [
    "https://intranet.example.org/ward-7",
    "see http://example.com now",
    "www.example.org",
    "WWW.Example.org/x",
    "ask a.b+c@example.nhs.uk please",
    "mailto:x@example.org",
]


def as_read(markdown: str) -> str:
    """The text Markdown's renderer works on: escapes read, word joiners kept."""
    return ESCAPE.sub(r"\1", markdown)


def is_linked(markdown: str) -> bool:
    text = as_read(markdown)
    return bool(GFM_URL.search(text) or GFM_EMAIL.search(text))


@pytest.mark.parametrize("escape", ESCAPERS.values(), ids=ESCAPERS.keys())
@pytest.mark.parametrize("text", ADDRESSES)
def test_an_address_in_a_name_is_not_linked(escape, text: str) -> None:
    assert is_linked(text)  # the model links it unescaped, so the check below can fail
    escaped = escape(text)
    assert not is_linked(escaped)
    assert as_read(escaped).replace("\u2060", "") == text


@given(st.lists(st.sampled_from([*ADDRESSES, " ", "Ward ", "@", ".", ":", "//", "www"])))
def test_no_mix_of_addresses_and_text_is_linked(parts: list[str]) -> None:
    text = "".join(parts)
    for escape in ESCAPERS.values():
        escaped = escape(text)
        assert not is_linked(escaped), escaped
        assert as_read(escaped).replace("\u2060", "") == text
