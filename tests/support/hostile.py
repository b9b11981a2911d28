"""Hostile input for the bad-input and fuzz tests: named cases, hypothesis strategies, and a
dump of the database to show that a refused input wrote nothing."""

from __future__ import annotations

from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from surveys import models  # noqa: F401 - registers every table with SQLModel.metadata
from surveys.storage import read_session

ONE_MEGABYTE = 1_048_576

# Text that Markdown, HTML or Streamlit's own markup would turn into something else.
MARKUP = {
    "script tag": "<script>alert(1)</script>",
    "img onerror": '<img src=x onerror="alert(1)">',
    "markdown link": "[your results](https://evil.example/login)",
    "javascript link": "[your results](javascript:alert(1))",
    "markdown image": "![x](https://evil.example/pixel.png)",
    "javascript image": "![x](javascript:alert(1))",
    "streamlit colour": ":red[urgent]",
    "streamlit background": ":blue-background[look here]",
    "latex": "$\\alpha + \\frac{1}{2}$",
    "emphasis": "**bold** and _italic_",
}
# Characters that cannot be seen, or that change how the text around them reads.
INVISIBLE = {
    "right-to-left override": "abc\u202edef",
    "zero-width space": "ab\u200bcd",
    "byte order mark": "\ufeffabcd",
    "nul byte": "ab\x00cd",
    "terminal escape": "a\x07b\x1b[31mred",
}
# Text aimed at whatever reads it next: a database, a spreadsheet, a file system.
INJECTION = {
    "sql quote": "'; DROP TABLE response; --",
    "sql union": '" OR 1=1 UNION SELECT password_hash FROM account --',
    "csv formula": '=HYPERLINK("https://evil.example","open")',
    "csv dde": "=cmd|' /C calc'!A0",
    "csv plus": "+1+1",
    "csv at": "@SUM(1+1)",
    "csv minus": "-2+3",
    "path traversal": "../../etc/passwd",
    "windows path traversal": "..\\..\\windows\\win.ini",
}
HUGE = {"one megabyte": "x" * ONE_MEGABYTE}
HOSTILE_TEXTS = {**MARKUP, **INVISIBLE, **INJECTION, **HUGE}

# Likert answers a form never offers (a 1-5 scale), plus values of the wrong type.
BAD_LIKERT = {
    "zero": 0,
    "six": 6,
    "minus one": -1,
    "three and a half": 3.5,
    "three as a float": 3.0,
    "not a number": float("nan"),
    "infinity": float("inf"),
    "padded string": "5 ",
    "numeric string": "5",
    "true": True,
    "false": False,
    "huge": 10**100,
    "bytes": b"4",
    "list": [4],
    "empty string": "",
    "not applicable in capitals": "NOT_APPLICABLE",
}

# Single characters worth mixing into random text: every kind above, in small pieces.
_SPECIAL_CHARACTERS = list("\x00\x07\x1b\r\n\t\u202e\u200b\u200d\ufeff'\";=+-@<>[]()$:/\\%_*`|#~")
_FRAGMENTS = [text for text in HOSTILE_TEXTS.values() if len(text) < 100] + [
    "..",
    "--",
    "/*",
    "javascript:",
    "{group}",
    "%00",
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic: right-to-left, but harmless
]


def hostile_text(*, max_size: int = 60) -> st.SearchStrategy[str]:
    """A named hostile case, hostile pieces glued to random text, or random Unicode text."""
    piece = st.one_of(
        st.sampled_from(_FRAGMENTS),
        st.sampled_from(_SPECIAL_CHARACTERS),
        st.text(max_size=8),
    )
    return st.one_of(
        st.sampled_from(list(HOSTILE_TEXTS.values())),
        st.lists(piece, max_size=6).map("".join).map(lambda text: text[:max_size]),
        st.text(max_size=max_size),
    )


def hostile_answer() -> st.SearchStrategy[object]:
    """Answers a survey might be sent instead of one of its offered values."""
    return st.one_of(
        st.sampled_from(list(BAD_LIKERT.values())),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.none(),
        hostile_text(max_size=20),
    )


# --- The invariant: a refused input writes nothing ---------------------------------------------


def database_dump(engine: Engine) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as column-to-value dicts in a stable order, to compare before
    and after."""
    with read_session(engine) as session:
        return {
            table.name: sorted(
                (dict(row._mapping) for row in session.execute(select(table))), key=repr
            )
            for table in SQLModel.metadata.sorted_tables
        }


def changed_tables(before: dict[str, list], after: dict[str, list]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def new_rows(before: dict[str, list], after: dict[str, list], table: str) -> list[dict]:
    return [row for row in after[table] if row not in before[table]]
