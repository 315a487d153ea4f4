"""Record builders and test doubles shared by the store and export tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pmo_sync.domain import (
    ChangeField,
    ItemBundle,
    ItemChange,
    SprintMembership,
    SprintRecord,
    Stage,
    StatusRecord,
    WorkItemRecord,
)

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock tests move by hand, so run durations and stamps are exact."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


class WriteLog:
    """Records every statement sent through SQLAlchemy, to prove a call wrote nothing."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def clear(self) -> None:
        self.statements.clear()

    @property
    def writes(self) -> list[str]:
        return [
            s
            for s in self.statements
            if s.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE", "COPY"}
        ]

    def count(self, prefix: str) -> int:
        return sum(1 for s in self.statements if s.lstrip().startswith(prefix))


def make_item(ext: str, **overrides: Any) -> WorkItemRecord:
    values: dict[str, Any] = {
        "external_id": ext,
        "key": f"PMO-{ext}",
        "url": f"https://jira.example.com/browse/PMO-{ext}",
        "title": f"Item {ext}",
        "item_type": "story",
        "raw_type": "Story",
        "status": "In Progress",
        "status_category": "indeterminate",
        "stage": Stage.IN_PROGRESS,
        "project": "PMO",
        "team": "Core",
        "assignee": "ana",
        "estimate": 3.0,
        "parent_key": None,
        "labels": ("backend",),
        "flagged": False,
        "created": T0,
        "updated": T0 + timedelta(days=1),
        "resolved": None,
    }
    values.update(overrides)
    return WorkItemRecord(**values)


def make_change(
    ext: str,
    change_id: str,
    at: datetime,
    from_value: str | None = "To Do",
    to_value: str | None = "In Progress",
    field: ChangeField = ChangeField.STATUS,
    **overrides: Any,
) -> ItemChange:
    return ItemChange(ext, change_id, field, at, from_value, to_value, **overrides)


def make_stay(
    ext: str, sprint: str, added_at: datetime, removed_at: datetime | None = None
) -> SprintMembership:
    return SprintMembership(ext, sprint, added_at, removed_at)


def make_bundle(
    ext: str,
    changes: list[ItemChange] | None = None,
    memberships: list[SprintMembership] | None = None,
    raw: dict[str, Any] | None = None,
    **item_overrides: Any,
) -> ItemBundle:
    return ItemBundle(make_item(ext, **item_overrides), changes or [], memberships or [], raw)


def make_sprint(ext: str, **overrides: Any) -> SprintRecord:
    values: dict[str, Any] = {
        "external_id": ext,
        "name": f"Sprint {ext}",
        "state": "closed",
        "board_external_id": "7",
        "team": "Core",
        "start": T0,
        "end": T0 + timedelta(days=14),
        "completed": T0 + timedelta(days=14, hours=2),
        "goal": "Ship it",
    }
    values.update(overrides)
    return SprintRecord(**values)


def make_status(ext: str, name: str, category: str, stage: Stage) -> StatusRecord:
    return StatusRecord(ext, name, category, stage)


class Records:
    """The builders, handed to tests as a fixture (no test-helper imports needed)."""

    item = staticmethod(make_item)
    change = staticmethod(make_change)
    stay = staticmethod(make_stay)
    bundle = staticmethod(make_bundle)
    sprint = staticmethod(make_sprint)
    status = staticmethod(make_status)
    T0 = T0
