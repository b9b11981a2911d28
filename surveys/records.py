"""Read models of the organisation (divisions, departments, staff groups, cycles, questions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class CycleState(StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


@dataclass(frozen=True)
class DivisionInfo:
    id: int
    name: str
    archived: bool = False


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    name: str
    division_id: int
    # The division's name, for lists that show both.
    division: str = ""
    archived: bool = False


@dataclass(frozen=True)
class StaffGroupInfo:
    id: int
    key: str
    name: str
    plural: str
    archived: bool = False
    # Where the group comes in the order the survey asks about groups.
    position: int = 0


@dataclass(frozen=True)
class CycleInfo:
    id: int
    name: str
    opens: date
    closes: date
    state: str
    instrument_id: int


@dataclass(frozen=True)
class ItemInfo:
    """A stored question, enough for scoring and rollups (see surveys.scoring.ScoredItem);
    reports also want where it comes and, when known, its wording."""

    id: int
    code: str
    section: str
    dimension: str
    scale: str
    reverse: bool
    in_index: bool
    about_group_id: int | None
    instrument_id: int = 0
    position: int = 0
    text: str = ""
