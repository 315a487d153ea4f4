"""Sorting keys the way people count: `ACME-41` before `ACME-101`, `Sprint 9` before `Sprint 10`.

Item keys are a project and a number (Jira `ACME-41`), a bare number (Azure
DevOps `101`) or a board and a number (Trello); sprints are names with a
number. Plain string order puts `ACME-101` before `ACME-41`; `natural_key`
compares the runs of digits as numbers and the rest case-insensitively, so a
sort by it goes by project, then number.
"""

from __future__ import annotations

import re

__all__ = ["natural_key"]

_RUNS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """The sort key of `text`: its runs of digits as numbers, the rest case-folded.

    Each run is tagged (0 for text, 1 for a number), so a number and a word at
    the same place compare by the tag instead of failing to compare.
    """
    return tuple(
        (1, int(run)) if run.isdigit() else (0, run.casefold()) for run in _RUNS.split(text) if run
    )
