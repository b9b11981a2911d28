"""Plain-text rules, quoting and did-you-mean: the one copy every module uses."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

# Zero-width characters, bidirectional overrides and the byte order mark: they make text read
# differently from what it says.
_INVISIBLE_FORMAT = "\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
# A name is one line: no control character at all. Prose (instrument wording) may hold tabs
# and line breaks.
_INVISIBLE_IN_NAME = re.compile(f"[\x00-\x1f\x7f{_INVISIBLE_FORMAT}]")
_INVISIBLE_IN_PROSE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f{_INVISIBLE_FORMAT}]")
# Streamlit renders widget labels as Markdown (links, HTML-like tags, LaTeX, colours, emphasis,
# lists), so names and questions are held to plain text. In prose a list may start any line.
_INLINE_MARKUP = r"[<>\[\]`$*_\\|#~]|:[a-z-]+\["
_MARKUP_IN_NAME = re.compile(_INLINE_MARKUP + r"|^[-+]\s")
_MARKUP_IN_PROSE = re.compile(_INLINE_MARKUP + r"|^\s*[-+]\s", re.MULTILINE)

# Control, format (bidirectional overrides, zero-width spaces) and unpaired surrogate
# characters: they disguise what a name or an address says.
# The longest email address there can be: RFC 5321 limits a path to 254 characters.
EMAIL_MAX_LENGTH = 254

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Every "other" category: those, private use and unassigned too.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})

_INLINE_MARKDOWN = re.compile(r"([\\`*_\[\]<>~$|])")
_BLOCK_MARKER = re.compile(r"^(\s*)([#>+-])", flags=re.MULTILINE)
_LIST_NUMBER = re.compile(r"^(\s*\d+)([.)])", flags=re.MULTILINE)
# Every ASCII punctuation character can be backslash-escaped in Markdown.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def invisible_character(text: str, *, prose: bool = False) -> str | None:
    """The first control or invisible character in `text` as U+XXXX, or None. `prose` allows
    tabs and line breaks."""
    found = (_INVISIBLE_IN_PROSE if prose else _INVISIBLE_IN_NAME).search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def markup(text: str, *, prose: bool = False) -> str | None:
    """The first piece of `text` that Markdown would show as formatting, or None."""
    found = (_MARKUP_IN_PROSE if prose else _MARKUP_IN_NAME).search(text)
    return found.group().strip() if found else None


def hidden_characters(text: str, *, categories: Iterable[str] = HIDDEN_CATEGORIES) -> list[str]:
    """Each distinct character of `text` in the Unicode `categories`, as U+XXXX."""
    wanted = frozenset(categories)
    return [
        f"U+{ord(character):04X}"
        for character in dict.fromkeys(text)
        if unicodedata.category(character) in wanted
    ]


def without_hidden_characters(text: str) -> str:
    """`text` without the characters `hidden_characters` names (HIDDEN_CATEGORIES)."""
    return "".join(
        character for character in text if unicodedata.category(character) not in HIDDEN_CATEGORIES
    )


def without_control_characters(text: str, *, keep: str = "") -> str:
    """`text` without control, format, surrogate, private-use and unassigned characters
    (CONTROL_CATEGORIES), except those in `keep`."""
    return "".join(
        character
        for character in text
        if character in keep or unicodedata.category(character) not in CONTROL_CATEGORIES
    )


def shown(value: object, limit: int = 40) -> str:
    """A refused value as a message may quote it: short, and with control characters escaped."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[:limit] + "…")
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(given: str, candidates: Iterable[str]) -> str:
    """ "; did you mean 'X'?" for the candidate closest to `given` (ignoring case), or ""."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    close = difflib.get_close_matches(given.strip().lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]!r}?" if close else ""


def escape_markdown(text: str, *, block: bool = True) -> str:
    """`text` as it reads, whatever Markdown characters it holds. Widget labels escape
    block-level Markdown (headings, lists) themselves, so they pass `block=False`."""
    escaped = _INLINE_MARKDOWN.sub(r"\\\1", unlinked(text))
    if block:
        escaped = _BLOCK_MARKER.sub(r"\1\\\2", escaped)
        escaped = _LIST_NUMBER.sub(r"\1\\\2", escaped)
    return escaped


# GitHub-flavoured Markdown (Streamlit's) turns a bare web or email address into a link, and
# it finds them in the text after escapes and character references are read, so neither
# hides one. An invisible word joiner after the scheme or "www" and after "@" breaks the
# pattern and reads the same.
_WORD_JOINER = "\u2060"
_LINK_START = re.compile(r"(?i)(https?|ftp|mailto|xmpp|www)(?=[:.])|@")


def unlinked(text: str) -> str:
    """`text` as Markdown would link no address in it: see _WORD_JOINER."""
    return _LINK_START.sub(lambda match: match.group(0) + _WORD_JOINER, text)


def escape_all_markdown(text: object) -> str:
    """`text` with every ASCII punctuation character escaped, for messages that may quote
    anything (names, errors): Markdown then shows it literally, emoji codes included, and
    links no address in it."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", unlinked(str(text)))


# --- Personal details in comments --------------------------------------------------------------

# An address without the brackets and punctuation around it; then, as a backstop, any run of
# non-space characters around an "@": broader than any email grammar, so that nothing an email
# pattern would match survives (a stray "me@5pm" is lost too, on purpose).
_NOT_IN_EMAIL = "\\s(),;:<>\\[\\]\"'@"
_EMAIL = re.compile(f"[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]*[^{_NOT_IN_EMAIL}.!?]")
_ANYTHING_AT = re.compile(r"\S+@\S+")
# Seven or more digits with only spaces, dots, dashes, slashes or brackets between them: phone
# numbers in any national format. Bleeps and extensions are shorter and stay.
_PHONE = re.compile(r"\+?\(?(?:\d[ \t().\-/]*){6,}\d")
# A title, then one or two capitalised words: "Dr Smith", "Nurse Ann Lee", "mr. o'Neil".
_TITLES = (
    "dr|doctor|nurse|sister|matron|mr|mrs|ms|miss|mx|prof|professor|sir|madam|"
    "consultant|registrar|midwife|charge nurse"
)
_NAME_WORD = r"[A-Z][\w'’-]*"
_TITLED_NAME = re.compile(
    rf"\b((?i:{_TITLES})\.?[ \t]+)({_NAME_WORD}(?:[ \t]+{_NAME_WORD})?)",
)
# Capitalised words after a title that are roles, places or time, not names.
_NOT_NAMES = frozenset(
    {
        "practitioner", "practitioners", "manager", "managers", "lead", "leads", "educator",
        "specialist", "specialists", "associate", "associates", "consultant", "consultants",
        "staff", "bank", "agency", "station", "in", "on", "and", "or", "the", "a", "i",
        "registrar", "registrars", "team", "teams", "ward", "unit", "icu", "ed", "a&e", "nhs",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    }
)  # fmt: skip


def _name_replaced(match: re.Match[str]) -> str:
    title, words = match.group(1), match.group(2).split()
    if words[0].lower() in _NOT_NAMES:
        return match.group(0)
    # "Dr Smith Thursday": only the name words go.
    kept = [word for word in words[1:] if word.lower() in _NOT_NAMES]
    return title + "[name]" + "".join(" " + word for word in kept)


def scrub_personal_details(text: str) -> str:
    """`text` with email addresses, phone numbers and names after a title replaced by
    "[email]", "[phone]" and "[name]". Comments pass through this before they are stored, so a
    comment that names someone cannot be read back with the name in it."""
    text = _ANYTHING_AT.sub("[email]", _EMAIL.sub("[email]", text))
    text = _PHONE.sub("[phone]", text)
    return _TITLED_NAME.sub(_name_replaced, text)
