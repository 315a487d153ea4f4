"""Policies that name a team no synced team is called: said, never silently matching nothing.

A policy's `teams:` and `overrides:` name teams as the KPIs name them. When two
sources share a team name (`Team Alpha (acme-jira)` and `Team Alpha (acme-trello)`,
see `pmo_sync.kpi.teams`), a policy written for the plain name stops applying;
this says so with the closest name, once per rule and name, beside the team notices.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Sequence

from pmo_sync.governance.policy import RuleConfig

__all__ = ["policy_team_notices"]


def policy_team_notices(rules: Sequence[RuleConfig], names: Collection[str]) -> Iterator[str]:
    """A line per rule and team name (in `teams:` or `overrides:`) that no team is called."""
    if not names:  # nothing synced yet: every name would be "unknown"
        return
    for rule in rules:
        named = [("teams", team) for team in rule.teams or ()]
        named += [("overrides", team) for team in rule.overrides]
        for key, team in named:
            if team not in names:
                yield f"policies: rule {rule.id}: {key}: no team {team!r} ({_hint(team, names)})"


def _hint(team: str, names: Collection[str]) -> str:
    """The names a shared team is shown under now, else the closest name."""
    qualified = sorted(n for n in names if n.startswith(f"{team} ("))
    if qualified:
        now = " and ".join(map(repr, qualified))
        return f"two sources have one: now {now}; map them in kpis.yaml or name one"
    return f"closest: {_closest(team, sorted(names))!r}; it applies to no team"


def _closest(name: str, names: Sequence[str]) -> str:
    lowered = {n.lower(): n for n in names}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.0)
    return lowered[match[0]] if match else names[0]
