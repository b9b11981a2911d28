"""The read models and words of action plans: statuses, drafts, plans and their counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

TITLE_MAX_LENGTH = 200
ACTIONS_MAX_LENGTH = 4_000
OWNER_MAX_LENGTH = 120
NOTE_MAX_LENGTH = 2_000
ORGANISATION_WIDE = "Whole organisation"


class PlanStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    dropped = "dropped"


STATUS_WORDS: dict[PlanStatus, str] = {
    PlanStatus.planned: "Planned",
    PlanStatus.in_progress: "In progress",
    PlanStatus.done: "Done",
    PlanStatus.dropped: "Dropped",
}
# Plans still to be carried out: only these can be overdue.
OPEN_STATUSES = frozenset({PlanStatus.planned, PlanStatus.in_progress})


class PlanError(ValueError):
    """A plan that cannot be saved as given; the message says why."""


class PlanNotFound(LookupError):
    """No plan with that id that this viewer may see (whether or not one exists)."""


class PlanForbidden(PermissionError):
    """A change outside the viewer's departments."""


@dataclass(frozen=True)
class PlanDraft:
    """A plan as a form or a command gives it, before it is checked."""

    title: str
    actions: str
    due_on: date
    department_id: int | None  # None: the whole organisation (administrators only)
    dimension_key: str | None = None
    # A relationship: how `from_group_id` (the group rating) sees working with `to_group_id`.
    from_group_id: int | None = None
    to_group_id: int | None = None
    owner: str = ""
    show_owner: bool = False
    # None: the newest cycle that has opened (the results the plan answers).
    started_cycle_id: int | None = None


@dataclass(frozen=True)
class PlanNote:
    id: int
    written_on: date
    author: str
    text: str


@dataclass(frozen=True)
class PlanRecord:
    """One plan as every reader sees it: names and labels resolved, overdue decided."""

    id: int
    title: str
    actions: str
    status: PlanStatus
    owner: str
    show_owner: bool
    department_id: int | None
    department: str  # ORGANISATION_WIDE when department_id is None
    dimension_key: str | None
    dimension: str | None  # the dimension's label
    from_group_id: int | None
    from_group: str | None
    to_group_id: int | None
    to_group: str | None
    addresses: str  # in words: the dimension, the relationship, or ""
    due_on: date
    started_cycle_id: int
    started_cycle: str
    started_opens: date
    created_by: str
    created_on: date
    overdue: bool  # still open (planned or in progress) and its due date has passed
    notes: tuple[PlanNote, ...] = ()  # newest first; filled only by `plan`

    @property
    def status_words(self) -> str:
        return STATUS_WORDS[self.status]

    @property
    def owner_for_staff(self) -> str | None:
        """The owner's name where staff may see it (the author ticked "show owner"), else None."""
        return self.owner if self.show_owner and self.owner else None

    def as_draft(self) -> PlanDraft:
        """The plan's fields as an edit form starts from."""
        return PlanDraft(
            title=self.title,
            actions=self.actions,
            due_on=self.due_on,
            department_id=self.department_id,
            dimension_key=self.dimension_key,
            from_group_id=self.from_group_id,
            to_group_id=self.to_group_id,
            owner=self.owner,
            show_owner=self.show_owner,
            started_cycle_id=self.started_cycle_id,
        )


@dataclass(frozen=True)
class DepartmentPlans:
    """How many plans a department has in each status, and how many are overdue."""

    department_id: int | None
    department: str
    by_status: tuple[tuple[PlanStatus, int], ...]
    overdue: int
    total: int


@dataclass(frozen=True)
class PlanOverview:
    """Every plan the viewer may see, counted: the administrator's view of the organisation."""

    total: int
    by_status: tuple[tuple[PlanStatus, int], ...]
    overdue: tuple[PlanRecord, ...]  # oldest due date first
    by_department: tuple[DepartmentPlans, ...]
