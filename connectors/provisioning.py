"""`connectors provision`'s report: one line per step, as every tracker's provisioning gives it.

Shared by the trackers that create their write-back fields themselves (Azure DevOps,
Trello), so the command prints their steps the same way and knows from `failed` when
an admin must act (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ProvisionStep", "StepStatus"]

StepStatus = Literal["ok", "made", "todo", "fail"]
_PREFIX: dict[StepStatus, str] = {"ok": "ok  ", "made": "made", "todo": "TODO", "fail": "FAIL"}


@dataclass(frozen=True, slots=True)
class ProvisionStep:
    """One line of the report: `ok`, `made`, `todo` (an admin must act) or `fail`."""

    status: StepStatus
    subject: str  # the metric, or what could not be read ("boards", "fields")
    message: str

    @property
    def failed(self) -> bool:
        return self.status in ("todo", "fail")

    @property
    def line(self) -> str:
        return f"{_PREFIX[self.status]} {self.subject}: {self.message}"
