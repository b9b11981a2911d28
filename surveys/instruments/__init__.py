"""Survey instrument files (TOML): loading, validation and expansion into concrete items."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from surveys import text as plain_text

__all__ = [
    "BUILTIN_DIR",
    "Dimension",
    "Instrument",
    "InstrumentError",
    "Item",
    "ItemTemplate",
    "Scale",
    "Section",
    "builtin_instrument",
    "discover_instruments",
    "fill_group",
    "load_instrument",
]

BUILTIN_DIR: Path = Path(__file__).resolve().parent
BUILTIN_FILE = "relationship_health_v1.toml"

GROUP_PLACEHOLDER = "{group}"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_TEXT_LENGTH = 600

# Scoring and reporting rely on these scales having exactly these values.
_EXPECTED_SCALE_VALUES: dict[str, tuple[int, ...]] = {
    "agreement": tuple(range(1, 6)),
    "rating": tuple(range(1, 6)),
    "nps": tuple(range(0, 11)),
}
COMMENT_MAX_LENGTH_LIMIT = 10_000


class InstrumentError(ValueError):
    """An instrument file that cannot be used, naming the file, the entry and the problem."""

    def __init__(self, path: str | Path, entry: str, problem: str) -> None:
        self.path = Path(path)
        self.entry = entry
        self.problem = problem
        super().__init__(f"{self.path.name}: {entry}: {problem}")


# --- The public, read-only model ---------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    key: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    not_applicable: str | None

    def label_for(self, value: int) -> str:
        return self.labels[self.values.index(value)]


@dataclass(frozen=True)
class Dimension:
    key: str
    label: str
    description: str
    in_index: bool


@dataclass(frozen=True)
class ItemTemplate:
    key: str
    text: str
    dimension: str
    scale: str
    reverse: bool
    required: bool


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str
    per_group: bool
    items: tuple[ItemTemplate, ...]

    def title_for(self, group_name: str) -> str:
        return fill_group(self.title, group_name)

    def intro_for(self, group_name: str) -> str:
        return fill_group(self.intro, group_name)


@dataclass(frozen=True)
class Item:
    """A concrete question as asked: a template, filled in for one staff group if per-group."""

    code: str
    key: str
    section: str
    about_group: str | None
    text: str
    dimension: str
    scale: str
    reverse: bool
    required: bool
    position: int


@dataclass(frozen=True)
class Instrument:
    key: str
    version: int
    title: str
    intro: str
    # Left out of the hash because dicts are unhashable; still compared for equality.
    scales: dict[str, Scale] = field(hash=False)
    dimensions: tuple[Dimension, ...]
    sections: tuple[Section, ...]
    comment_prompt: str
    comment_help: str
    comment_max_length: int
    source: Path
    # Of the parsed content rather than the bytes, so comments and layout may change freely.
    checksum: str = ""

    def dimension(self, key: str) -> Dimension:
        for dimension in self.dimensions:
            if dimension.key == key:
                return dimension
        raise KeyError(f"{self.key} v{self.version} has no dimension {key!r}")

    def items(self, groups: Sequence[tuple[str, str]]) -> list[Item]:
        """Every question in survey order; per-group sections repeat all their items per group.

        `groups` is [(key, plural display name), ...] in the order they should be asked about.
        """
        _check_groups(groups)
        items: list[Item] = []
        for section in self.sections:
            targets: Sequence[tuple[str, str] | None] = groups if section.per_group else [None]
            for target in targets:
                for template in section.items:
                    group_key, text = None, template.text
                    if target is not None:
                        group_key, text = target[0], fill_group(template.text, target[1])
                    items.append(
                        Item(
                            code=template.key
                            if group_key is None
                            else f"{template.key}.{group_key}",
                            key=template.key,
                            section=section.key,
                            about_group=group_key,
                            text=text,
                            dimension=template.dimension,
                            scale=template.scale,
                            reverse=template.reverse,
                            required=template.required,
                            position=len(items),
                        )
                    )
        return items


def fill_group(text: str, group_name: str) -> str:
    """Put a staff group's plural name into `text`, capitalised if it starts the sentence."""
    filled = text.replace(GROUP_PLACEHOLDER, group_name)
    if text.startswith(GROUP_PLACEHOLDER) and filled:
        filled = filled[0].upper() + filled[1:]
    return filled


def _check_groups(groups: Sequence[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for group_key, group_name in groups:
        # A dot would make "respect.a.b" ambiguous; item codes are split on it.
        if not group_key or "." in group_key or group_key != group_key.strip():
            raise ValueError(f"invalid staff group key {group_key!r}")
        if not group_name.strip():
            raise ValueError(f"staff group {group_key!r} has an empty display name")
        if group_key in seen:
            raise ValueError(f"staff group {group_key!r} is listed twice")
        seen.add(group_key)


# --- The file schema -----------------------------------------------------------------------------

# Keys end up in item codes and database columns (code is at most 120 characters).
_Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
_Text = Annotated[str, StringConstraints(min_length=1)]


class _FileModel(BaseModel):
    # Strict: TOML already has real types, so "1" for an integer is a mistake worth reporting.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _ScaleFile(_FileModel):
    points: list[_Text] | None = None
    lowest: int | None = None
    highest: int | None = None
    low_anchor: _Text | None = None
    high_anchor: _Text | None = None
    not_applicable: _Text | None = None


class _DimensionFile(_FileModel):
    key: _Key
    label: _Text
    description: _Text
    in_index: bool


class _ItemFile(_FileModel):
    key: _Key
    text: _Text
    dimension: str
    scale: str = "agreement"
    reverse: bool = False
    required: bool = True


class _SectionFile(_FileModel):
    key: _Key
    title: _Text
    intro: str = ""
    per_group: bool
    items: Annotated[list[_ItemFile], Field(min_length=1)]


class _CommentFile(_FileModel):
    prompt: _Text
    help: str = ""
    max_length: int


class _InstrumentFile(_FileModel):
    key: _Key
    version: int
    title: _Text
    intro: str = ""
    scales: dict[_Key, _ScaleFile]
    dimensions: Annotated[list[_DimensionFile], Field(min_length=1)]
    sections: Annotated[list[_SectionFile], Field(min_length=1)]
    comment: _CommentFile


# --- Loading -------------------------------------------------------------------------------------


def load_instrument(path: str | Path) -> Instrument:
    """Read and validate one instrument file; any problem raises InstrumentError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InstrumentError(path, "(file)", f"cannot read file: {error.strerror}") from error
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InstrumentError(path, "(file)", "not UTF-8 text") from error
    except tomllib.TOMLDecodeError as error:
        entry, problem = _toml_position(str(error))
        raise InstrumentError(path, entry, f"invalid TOML: {problem}") from error
    try:
        spec = _InstrumentFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise InstrumentError(path, _entry_path(first["loc"]), _schema_problem(first)) from error

    problems = _semantic_problems(spec)
    first_problem = next(problems, None)
    if first_problem is not None:
        raise InstrumentError(path, *first_problem)

    canonical = json.dumps(
        spec.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return Instrument(
        key=spec.key,
        version=spec.version,
        title=spec.title,
        intro=spec.intro,
        scales={key: _build_scale(key, scale) for key, scale in spec.scales.items()},
        dimensions=tuple(
            Dimension(key=d.key, label=d.label, description=d.description, in_index=d.in_index)
            for d in spec.dimensions
        ),
        sections=tuple(
            Section(
                key=s.key,
                title=s.title,
                intro=s.intro,
                per_group=s.per_group,
                items=tuple(
                    ItemTemplate(
                        key=i.key,
                        text=i.text,
                        dimension=i.dimension,
                        scale=i.scale,
                        reverse=i.reverse,
                        required=i.required,
                    )
                    for i in s.items
                ),
            )
            for s in spec.sections
        ),
        comment_prompt=spec.comment.prompt,
        comment_help=spec.comment.help,
        comment_max_length=spec.comment.max_length,
        source=path.resolve(),
        checksum=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )


@functools.cache
def builtin_instrument() -> Instrument:
    """Relationship health v1, as shipped with Attune."""
    return load_instrument(BUILTIN_DIR / BUILTIN_FILE)


def discover_instruments(extra_dir: Path | None = None) -> dict[tuple[str, int], Instrument]:
    """Every built-in instrument plus an organisation's own files, keyed by (key, version)."""
    paths = sorted(BUILTIN_DIR.glob("*.toml"))
    if extra_dir is not None:
        extra_dir = Path(extra_dir)
        if not extra_dir.is_dir():
            raise InstrumentError(extra_dir, "(folder)", "instrument folder does not exist")
        paths += sorted(extra_dir.glob("*.toml"))
    found: dict[tuple[str, int], Instrument] = {}
    for path in paths:
        instrument = load_instrument(path)
        identity = (instrument.key, instrument.version)
        if identity in found:
            raise InstrumentError(
                path,
                "key/version",
                f"{instrument.key!r} version {instrument.version} is also defined in "
                f"{found[identity].source}",
            )
        found[identity] = instrument
    return found


def _build_scale(key: str, spec: _ScaleFile) -> Scale:
    if spec.points is not None:
        return Scale(
            key=key,
            labels=tuple(spec.points),
            values=tuple(range(1, len(spec.points) + 1)),
            not_applicable=spec.not_applicable,
        )
    assert spec.lowest is not None and spec.highest is not None  # guaranteed by _scale_problems
    values = tuple(range(spec.lowest, spec.highest + 1))
    labels = [str(value) for value in values]
    labels[0] = f"{labels[0]} – {spec.low_anchor}"
    labels[-1] = f"{labels[-1]} – {spec.high_anchor}"
    return Scale(key=key, labels=tuple(labels), values=values, not_applicable=spec.not_applicable)


def _toml_position(message: str) -> tuple[str, str]:
    match = re.fullmatch(r"(?s)(.*?)\s*\(at line (\d+), column (\d+)\)", message)
    if match:
        return f"line {match[2]}, column {match[3]}", match[1]
    match = re.fullmatch(r"(?s)(.*?)\s*\(at end of document\)", message)
    if match:
        return "end of file", match[1]
    return "(file)", message


def _entry_path(loc: tuple[int | str, ...]) -> str:
    entry = ""
    for part in loc:
        if isinstance(part, int):
            entry += f"[{part}]"
        elif part == "[key]":
            continue  # pydantic's marker for a bad mapping key; the message shows the key
        else:
            entry += f".{part}" if entry else str(part)
    return entry or "(top level)"


def _schema_problem(error: Any) -> str:
    if error["type"] == "missing":
        return "required entry is missing"
    if error["type"] == "extra_forbidden":
        return "unknown entry (not part of the instrument format)"
    return f"{error['msg']}, got {error['input']!r}"


# --- Semantic checks -----------------------------------------------------------------------------

_Problem = tuple[str, str]  # (entry, problem)
SUPPORTED_SCALES = ("agreement", "rating", "nps")
RESERVED_DIMENSIONS = ("index",)


def _semantic_problems(spec: _InstrumentFile) -> Iterator[_Problem]:
    if spec.version < 1:
        yield "version", f"version must be 1 or more, got {spec.version}"
    limit = COMMENT_MAX_LENGTH_LIMIT
    if not 1 <= spec.comment.max_length <= limit:
        yield (
            "comment.max_length",
            f"must be between 1 and {limit}, got {spec.comment.max_length}",
        )
    for key, scale in spec.scales.items():
        if key not in SUPPORTED_SCALES:
            # Scoring knows how to read these three; another name would be scored as nothing.
            yield f"scales.{key}", f"unsupported scale (supported: {', '.join(SUPPORTED_SCALES)})"
        yield from _scale_problems(key, scale)
    for i, dimension in enumerate(spec.dimensions):
        if dimension.key in RESERVED_DIMENSIONS:
            yield f"dimensions[{i}].key", f"{dimension.key!r} is reserved for the overall index"
    yield from _duplicates(
        "dimension key", [(f"dimensions[{i}].key", d.key) for i, d in enumerate(spec.dimensions)]
    )
    yield from _duplicates(
        "section key", [(f"sections[{i}].key", s.key) for i, s in enumerate(spec.sections)]
    )
    all_items = [
        (f"sections[{s}].items[{i}]", item)
        for s, section in enumerate(spec.sections)
        for i, item in enumerate(section.items)
    ]
    yield from _duplicates("item key", [(f"{entry}.key", item.key) for entry, item in all_items])

    known_dimensions = [d.key for d in spec.dimensions]
    known_scales = list(spec.scales)
    for entry, item in all_items:
        if item.dimension not in known_dimensions:
            yield (
                f"{entry}.dimension",
                f"unknown dimension {item.dimension!r} (known: {', '.join(known_dimensions)})",
            )
        if item.scale not in known_scales:
            yield (
                f"{entry}.scale",
                f"unknown scale {item.scale!r} (known: {', '.join(known_scales)})",
            )
    used = {item.dimension for _, item in all_items}
    for i, dimension in enumerate(spec.dimensions):
        if dimension.key not in used:
            yield f"dimensions[{i}]", f"dimension {dimension.key!r} has no items"

    yield from _placeholder_problems(spec)


def _scale_problems(key: str, scale: _ScaleFile) -> Iterator[_Problem]:
    entry = f"scales.{key}"
    numbered = (scale.lowest, scale.highest, scale.low_anchor, scale.high_anchor)
    if scale.points is not None:
        if any(part is not None for part in numbered):
            yield entry, "give either points or lowest/highest/low_anchor/high_anchor, not both"
            return
        values = tuple(range(1, len(scale.points) + 1))
        if len(scale.points) < 2:
            yield f"{entry}.points", "a scale needs at least 2 points"
            return
        expected = _EXPECTED_SCALE_VALUES.get(key)
        if expected is not None and values != expected:
            yield (
                f"{entry}.points",
                f"the {key} scale needs exactly {len(expected)} points, got {len(scale.points)}",
            )
        return
    if any(part is None for part in numbered):
        yield entry, "give either points or all of lowest, highest, low_anchor and high_anchor"
        return
    assert scale.lowest is not None and scale.highest is not None
    if scale.highest <= scale.lowest:
        yield f"{entry}.highest", f"must be above lowest ({scale.lowest}), got {scale.highest}"
        return
    expected = _EXPECTED_SCALE_VALUES.get(key)
    if expected is not None and (scale.lowest, scale.highest) != (expected[0], expected[-1]):
        yield (
            entry,
            f"the {key} scale must run from {expected[0]} to {expected[-1]}, "
            f"got {scale.lowest} to {scale.highest}",
        )


def _duplicates(what: str, entries: list[tuple[str, str]]) -> Iterator[_Problem]:
    first_entry: dict[str, str] = {}
    for entry, value in entries:
        if value in first_entry:
            yield entry, f"duplicate {what} {value!r} (also at {first_entry[value]})"
        else:
            first_entry[value] = entry


def _placeholder_problems(spec: _InstrumentFile) -> Iterator[_Problem]:
    texts: list[tuple[str, str, bool]] = [  # (entry, text, may hold {group})
        ("title", spec.title, False),
        ("intro", spec.intro, False),
        ("comment.prompt", spec.comment.prompt, False),
        ("comment.help", spec.comment.help, False),
    ]
    for key, scale in spec.scales.items():
        for i, label in enumerate(scale.points or []):
            texts.append((f"scales.{key}.points[{i}]", label, False))
        for name in ("low_anchor", "high_anchor", "not_applicable"):
            value = getattr(scale, name)
            if value is not None:
                texts.append((f"scales.{key}.{name}", value, False))
    for i, dimension in enumerate(spec.dimensions):
        texts.append((f"dimensions[{i}].label", dimension.label, False))
        texts.append((f"dimensions[{i}].description", dimension.description, False))
    for s, section in enumerate(spec.sections):
        texts.append((f"sections[{s}].title", section.title, section.per_group))
        texts.append((f"sections[{s}].intro", section.intro, section.per_group))
        for i, item in enumerate(section.items):
            entry = f"sections[{s}].items[{i}].text"
            if section.per_group and GROUP_PLACEHOLDER not in item.text:
                yield entry, f"per-group item text must contain {GROUP_PLACEHOLDER!r}"
            texts.append((entry, item.text, section.per_group))

    for entry, text, group_allowed in texts:
        for name in _PLACEHOLDER.findall(text):
            placeholder = "{" + name + "}"
            if placeholder != GROUP_PLACEHOLDER:
                yield (
                    entry,
                    f"unknown placeholder {placeholder!r} (only {GROUP_PLACEHOLDER!r} is allowed)",
                )
            elif not group_allowed:
                yield entry, f"{GROUP_PLACEHOLDER!r} is only filled in per-group sections"
        if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
            yield entry, "unmatched '{' or '}'"
        problem = _text_problem(text)
        if problem:
            yield entry, problem


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_TEXT_LENGTH:
        return f"text is {len(text):,} characters long; at most {MAX_TEXT_LENGTH} are allowed"
    # Instrument text is prose: tabs and line breaks are allowed, and a list may start any line.
    invisible = plain_text.invisible_character(text, prose=True)
    if invisible:
        return f"contains the invisible or control character {invisible}"
    formatting = plain_text.markup(text, prose=True)
    if formatting:
        return (
            f"contains {formatting!r}, which would be shown as formatting; questions are plain text"
        )
    return None
