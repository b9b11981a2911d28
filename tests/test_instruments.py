"""Tests for instrument files: the built-in instrument, item expansion, discovery and validation."""

import re
from pathlib import Path

import pytest

from surveys.instruments import (
    BUILTIN_DIR,
    Instrument,
    InstrumentError,
    builtin_instrument,
    discover_instruments,
    load_instrument,
)

BUILTIN_PATH = BUILTIN_DIR / "relationship_health_v1.toml"
BUILTIN_TEXT = BUILTIN_PATH.read_text(encoding="utf-8")

STAFF_GROUPS = [
    ("nursing", "nursing staff"),
    ("medical", "physicians"),
    ("allied", "allied health professionals"),
    ("admin", "administrative and support staff"),
]
GROUP_ITEM_KEYS = [
    "frequency",
    "timeliness",
    "accuracy",
    "blame",
    "shared_goals",
    "role_understanding",
    "respect",
]


def write_variant(directory: Path, old: str, new: str, name: str = "broken.toml") -> Path:
    """Write the built-in file with the first `old` replaced by `new`."""
    # Guards against the built-in file drifting so far that a case silently stops applying.
    assert old in BUILTIN_TEXT, f"{old!r} is no longer in the built-in file"
    path = directory / name
    path.write_text(BUILTIN_TEXT.replace(old, new, 1), encoding="utf-8")
    return path


def test_builtin_instrument_loads():
    instrument = builtin_instrument()
    assert (instrument.key, instrument.version) == ("relationship_health", 1)
    assert instrument.title == "Relationship health"
    assert instrument.intro and "{" not in instrument.intro
    assert instrument.source == BUILTIN_PATH.resolve()
    assert instrument.comment_max_length == 1000
    assert instrument.comment_prompt and instrument.comment_help
    assert re.fullmatch(r"[0-9a-f]{64}", instrument.checksum)
    assert builtin_instrument() is instrument


def test_builtin_sections_cover_every_content_area():
    instrument = builtin_instrument()
    sections = {section.key: section for section in instrument.sections}
    assert [section.key for section in instrument.sections] == [
        "groups",
        "patients",
        "team",
        "overall",
    ]
    assert [section.per_group for section in instrument.sections] == [True, False, False, False]
    assert [item.key for item in sections["groups"].items] == GROUP_ITEM_KEYS
    assert [item.key for item in sections["groups"].items if item.reverse] == ["blame"]
    assert len(sections["patients"].items) == 4
    assert len(sections["team"].items) == 4
    assert [(item.key, item.scale) for item in sections["overall"].items] == [
        ("overall_rating", "rating"),
        ("enps", "nps"),
    ]


def test_builtin_items_for_four_groups():
    items = builtin_instrument().items(STAFF_GROUPS)
    assert len(items) == 4 * 7 + 4 + 4 + 2
    for group_key, _ in STAFF_GROUPS:
        about_group = [item for item in items if item.about_group == group_key]
        assert [item.key for item in about_group] == GROUP_ITEM_KEYS
        assert [item.code for item in about_group if item.reverse] == [f"blame.{group_key}"]
    # Reverse scoring only makes sense on the agreement scale, and only the blame item needs it.
    assert {item.key for item in items if item.reverse} == {"blame"}


@pytest.mark.parametrize(
    ("dimension", "item_keys"),
    [
        ("communication", ["frequency", "accuracy"]),
        ("timeliness", ["timeliness"]),
        ("collaboration", ["blame"]),
        ("shared_goals", ["shared_goals"]),
        ("role_understanding", ["role_understanding"]),
        ("respect", ["respect", "team_respect"]),
        ("patient_partnership", ["listening", "plain_language", "family_involvement"]),
        ("boundaries", ["boundaries"]),
        ("team_support", ["team_support"]),
        ("speaking_up", ["speaking_up"]),
        ("feedback", ["feedback"]),
        ("overall", ["overall_rating"]),
        ("enps", ["enps"]),
    ],
)
def test_builtin_dimension_items(dimension, item_keys):
    instrument = builtin_instrument()
    templates = [item for section in instrument.sections for item in section.items]
    assert [item.key for item in templates if item.dimension == dimension] == item_keys
    assert instrument.dimension(dimension).label


def test_builtin_every_item_has_a_known_dimension_and_scale():
    instrument = builtin_instrument()
    dimension_keys = [dimension.key for dimension in instrument.dimensions]
    templates = [item for section in instrument.sections for item in section.items]
    assert len(dimension_keys) == len(set(dimension_keys)) == 13
    assert {item.dimension for item in templates} == set(dimension_keys)
    assert {item.scale for item in templates} == set(instrument.scales)


@pytest.mark.parametrize(
    ("dimension", "in_index"),
    [("communication", True), ("speaking_up", True), ("overall", False), ("enps", False)],
)
def test_builtin_dimension_in_index(dimension, in_index):
    assert builtin_instrument().dimension(dimension).in_index is in_index


def test_unknown_dimension_lookup_raises_key_error():
    with pytest.raises(KeyError, match="colab"):
        builtin_instrument().dimension("colab")


@pytest.mark.parametrize(
    ("scale", "values", "first_label", "last_label", "not_applicable"),
    [
        ("agreement", range(1, 6), "Strongly disagree", "Strongly agree", "Does not apply"),
        ("rating", range(1, 6), "Very poor", "Excellent", None),
        ("nps", range(0, 11), "0 – Not at all likely", "10 – Extremely likely", None),
    ],
)
def test_builtin_scales(scale, values, first_label, last_label, not_applicable):
    loaded = builtin_instrument().scales[scale]
    assert loaded.key == scale
    assert loaded.values == tuple(values)
    assert len(loaded.labels) == len(loaded.values)
    assert (loaded.labels[0], loaded.labels[-1]) == (first_label, last_label)
    assert loaded.not_applicable == not_applicable


def test_nps_middle_labels_are_bare_numbers():
    assert builtin_instrument().scales["nps"].labels[1:-1] == tuple(str(n) for n in range(1, 10))


@pytest.mark.parametrize("groups", [[], STAFF_GROUPS[:1], STAFF_GROUPS], ids=["0", "1", "4"])
def test_items_expand_per_group_sections_group_by_group(groups):
    items = builtin_instrument().items(groups)
    assert [item.position for item in items] == list(range(len(items)))
    per_group = [item for item in items if item.section == "groups"]
    assert [item.code for item in per_group] == [
        f"{key}.{group_key}" for group_key, _ in groups for key in GROUP_ITEM_KEYS
    ]
    assert [item.about_group for item in per_group] == [
        group_key for group_key, _ in groups for _ in GROUP_ITEM_KEYS
    ]
    others = [item for item in items if item.section != "groups"]
    assert len(others) == 10
    assert all(item.about_group is None and item.code == item.key for item in others)
    assert len({item.code for item in items}) == len(items)


def test_items_are_stable_between_calls():
    instrument = builtin_instrument()
    assert instrument.items(STAFF_GROUPS) == instrument.items(STAFF_GROUPS)


@pytest.mark.parametrize(("group_key", "plural"), STAFF_GROUPS)
def test_items_fill_group_name(group_key, plural):
    items = {item.code: item for item in builtin_instrument().items(STAFF_GROUPS)}
    # At the start of a sentence the name is capitalised; elsewhere it is left as written.
    assert items[f"frequency.{group_key}"].text == (
        f"{plural[0].upper()}{plural[1:]} keep me informed as often as my work needs."
    )
    assert items[f"respect.{group_key}"].text == f"I feel respected by {plural}."
    assert all("{" not in item.text for item in items.values())


@pytest.mark.parametrize(
    ("field", "expected"),
    [("title", "In your work with physicians"), ("intro", "Think about the past month.")],
)
def test_section_heading_fills_group_name(field, expected):
    groups = builtin_instrument().sections[0]
    filled = getattr(groups, f"{field}_for")("physicians")
    assert filled.startswith(expected)
    assert "{" not in filled


@pytest.mark.parametrize(
    ("groups", "problem"),
    [
        ([("nursing", "nursing staff"), ("nursing", "nurses")], "listed twice"),
        ([("nurs.ing", "nursing staff")], "invalid staff group key"),
        ([("", "nursing staff")], "invalid staff group key"),
        ([("nursing", " ")], "empty display name"),
    ],
)
def test_items_reject_bad_groups(groups, problem):
    with pytest.raises(ValueError, match=problem):
        builtin_instrument().items(groups)


def test_builtin_wording_fits_on_a_phone():
    longest_group = max(STAFF_GROUPS, key=lambda group: len(group[1]))
    for item in builtin_instrument().items([longest_group]):
        assert len(item.text) <= 100, item.code
        assert item.text[-1] in ".?", item.code


def test_instrument_is_hashable_and_equal_when_loaded_twice():
    first, second = load_instrument(BUILTIN_PATH), load_instrument(BUILTIN_PATH)
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1


@pytest.mark.parametrize(
    ("old", "new", "same_checksum"),
    [
        ("# Values 1 to 5, in this order.", "# A reworded comment.", True),
        ('dimension = "timeliness"', 'dimension = "timeliness"\nreverse = false', True),
        ("I feel respected by {group}.", "{group} respect me.", False),
    ],
    ids=["comment", "explicit-default", "wording"],
)
def test_checksum_tracks_content_not_layout(tmp_path, old, new, same_checksum):
    changed = load_instrument(write_variant(tmp_path, old, new))
    assert (changed.checksum == builtin_instrument().checksum) is same_checksum


def test_discover_finds_builtin_and_drop_in_files(tmp_path):
    write_variant(tmp_path, "version = 1", "version = 2", name="relationship_health_v2.toml")
    (tmp_path / "notes.txt").write_text("not an instrument", encoding="utf-8")
    found = discover_instruments(tmp_path)
    assert set(found) == {("relationship_health", 1), ("relationship_health", 2)}
    assert found["relationship_health", 1].source == BUILTIN_PATH.resolve()
    assert found["relationship_health", 2].source == (tmp_path / "relationship_health_v2.toml")
    assert isinstance(found["relationship_health", 2], Instrument)


def test_discover_without_extra_dir_finds_only_builtin():
    assert set(discover_instruments()) == {("relationship_health", 1)}


def test_discover_rejects_duplicate_key_and_version(tmp_path):
    copy = write_variant(
        tmp_path, 'title = "Relationship health"', 'title = "Our copy"', "ours.toml"
    )
    with pytest.raises(InstrumentError) as caught:
        discover_instruments(tmp_path)
    assert caught.value.path == copy
    message = str(caught.value)
    assert message.startswith("ours.toml: key/version: ")
    assert str(BUILTIN_PATH.resolve()) in message


def test_discover_rejects_missing_folder(tmp_path):
    with pytest.raises(InstrumentError, match="does not exist"):
        discover_instruments(tmp_path / "missing")


def test_discover_reports_a_broken_drop_in_file(tmp_path):
    write_variant(tmp_path, "version = 1", "version = 0", name="bad.toml")
    with pytest.raises(InstrumentError, match=r"^bad\.toml: version: "):
        discover_instruments(tmp_path)


BAD_FILES = [
    pytest.param(
        'dimension = "collaboration"',
        'dimension = "colab"',
        "sections[0].items[3].dimension",
        "unknown dimension 'colab' (known: communication, timeliness, ",
        id="unknown-dimension",
    ),
    pytest.param(
        'scale = "rating"',
        'scale = "stars"',
        "sections[3].items[0].scale",
        "unknown scale 'stars' (known: agreement, rating, nps)",
        id="unknown-scale",
    ),
    pytest.param(
        'key = "timeliness"\nlabel',
        'key = "communication"\nlabel',
        "dimensions[1].key",
        "duplicate dimension key 'communication' (also at dimensions[0].key)",
        id="duplicate-dimension",
    ),
    pytest.param(
        'key = "team_respect"',
        'key = "respect"',
        "sections[2].items[3].key",
        "duplicate item key 'respect' (also at sections[0].items[6].key)",
        id="duplicate-item",
    ),
    pytest.param(
        'key = "team"',
        'key = "patients"',
        "sections[2].key",
        "duplicate section key 'patients'",
        id="duplicate-section",
    ),
    pytest.param(
        'dimension = "boundaries"',
        'dimension = "patient_partnership"',
        "dimensions[7]",
        "dimension 'boundaries' has no items",
        id="dimension-without-items",
    ),
    pytest.param(
        '"I feel respected by {group}."',
        '"I feel respected."',
        "sections[0].items[6].text",
        "per-group item text must contain '{group}'",
        id="per-group-text-without-group",
    ),
    pytest.param(
        '"We listen carefully to what patients tell us."',
        '"We listen carefully to {patient}."',
        "sections[1].items[0].text",
        "unknown placeholder '{patient}'",
        id="unknown-placeholder",
    ),
    pytest.param(
        '"I can count on my team',
        '"I can count on {group}',
        "sections[2].items[0].text",
        "'{group}' is only filled in per-group sections",
        id="group-outside-per-group-section",
    ),
    pytest.param(
        'help = "Optional.',
        'help = "Optional {.',
        "comment.help",
        "unmatched '{' or '}'",
        id="unmatched-brace",
    ),
    pytest.param(
        "version = 1",
        "version = 0",
        "version",
        "version must be 1 or more, got 0",
        id="version-zero",
    ),
    pytest.param(
        "max_length = 1000",
        "max_length = 0",
        "comment.max_length",
        "must be between 1 and 10000, got 0",
        id="comment-too-short",
    ),
    pytest.param(
        "max_length = 1000",
        "max_length = 10001",
        "comment.max_length",
        "must be between 1 and 10000, got 10001",
        id="comment-too-long",
    ),
    pytest.param(
        '"Neither agree nor disagree", ',
        "",
        "scales.agreement.points",
        "the agreement scale needs exactly 5 points, got 4",
        id="agreement-four-points",
    ),
    pytest.param(
        '"Excellent"]',
        '"Excellent", "Outstanding"]',
        "scales.rating.points",
        "the rating scale needs exactly 5 points, got 6",
        id="rating-six-points",
    ),
    pytest.param(
        "lowest = 0",
        "lowest = 1",
        "scales.nps",
        "the nps scale must run from 0 to 10, got 1 to 10",
        id="nps-from-one",
    ),
    pytest.param(
        'high_anchor = "Extremely likely"\n',
        "",
        "scales.nps",
        "all of lowest, highest, low_anchor and high_anchor",
        id="nps-missing-anchor",
    ),
    pytest.param(
        "highest = 10",
        "highest = 0",
        "scales.nps.highest",
        "must be above lowest (0), got 0",
        id="nps-empty-range",
    ),
    pytest.param(
        "[scales.rating]\n",
        "[scales.rating]\nlowest = 1\n",
        "scales.rating",
        "not both",
        id="points-and-range",
    ),
    pytest.param(
        "reverse = true",
        "reverse = true\nreversed = true",
        "sections[0].items[3].reversed",
        "unknown entry",
        id="unknown-field",
    ),
    pytest.param(
        "per_group = false\n",
        "",
        "sections[1].per_group",
        "required entry is missing",
        id="missing-field",
    ),
    pytest.param(
        "in_index = true",
        'in_index = "yes"',
        "dimensions[0].in_index",
        "Input should be a valid boolean, got 'yes'",
        id="wrong-type",
    ),
    pytest.param(
        "version = 1",
        'version = "1"',
        "version",
        "Input should be a valid integer",
        id="version-as-text",
    ),
    pytest.param(
        'key = "shared_goals"\ntext',
        'key = "Shared goals"\ntext',
        "sections[0].items[4].key",
        "String should match pattern",
        id="bad-key",
    ),
    pytest.param(
        "[scales.agreement]",
        "[scales.Agreement]",
        "scales.Agreement",
        "String should match pattern",
        id="bad-scale-key",
    ),
]


@pytest.mark.parametrize(("old", "new", "entry", "problem"), BAD_FILES)
def test_bad_file_is_rejected_naming_file_entry_and_problem(tmp_path, old, new, entry, problem):
    path = write_variant(tmp_path, old, new)
    with pytest.raises(InstrumentError) as caught:
        load_instrument(path)
    error = caught.value
    assert error.path == path
    assert error.entry == entry
    assert problem in error.problem
    assert str(error) == f"broken.toml: {entry}: {error.problem}"


def test_invalid_toml_reports_line_and_column(tmp_path):
    path = write_variant(tmp_path, 'title = "Relationship health"', 'title = "Relationship health')
    line = BUILTIN_TEXT.splitlines().index('title = "Relationship health"') + 1
    with pytest.raises(InstrumentError) as caught:
        load_instrument(path)
    assert re.fullmatch(rf"line {line}, column \d+", caught.value.entry)
    assert caught.value.problem.startswith("invalid TOML: ")
    assert str(caught.value).startswith(f"broken.toml: line {line}, column ")


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read file"), (b"key = \xff", "not UTF-8 text")],
    ids=["missing", "not-utf8"],
)
def test_unreadable_file_is_rejected(tmp_path, content, problem):
    path = tmp_path / "unreadable.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InstrumentError) as caught:
        load_instrument(path)
    assert caught.value.entry == "(file)"
    assert str(caught.value).startswith(f"unreadable.toml: (file): {problem}")
