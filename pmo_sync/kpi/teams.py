"""Which team an item or sprint belongs to: (source, the tracker's team name), unless mapped.

Two trackers can both have a "Team Alpha" that are different people. Merging
them by name would mix their sprints, average their velocities and write one
forecast into both, so a team is identified by its source and name, and only
`teams:` in kpis.yaml makes one team of several sources' teams (or renames one).

The name a team is shown under is the tracker's name when no other source uses
it, else the name qualified by its source (`Team Alpha (acme-jira)`); a team of
`teams:` is shown under its key. Each name that had to be qualified gets one
notice with the YAML that merges the teams, and each team name in kpis.yaml
that matches no synced team gets one notice naming the closest.

Pure functions: `pmo_sync.evaluation` reads the synced (source, team) pairs and
applies the result to every item and sprint it reads.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from pmo_sync.kpi.config import KPI_FILE, KpiConfig

__all__ = ["TeamIdentities", "qualified", "resolve_teams"]

TeamPair = tuple[str, str]
"""(source, the team's name in that source)."""


def qualified(team: str, source: str) -> str:
    """The name of a source's team whose name another source uses too."""
    return f"{team} ({source})"


@dataclass(frozen=True, slots=True)
class TeamIdentities:
    """Each synced (source, team) pair's shown team, and what the admin should know."""

    shown: Mapping[TeamPair, str] = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    def team_of(self, source: str, team: str) -> str:
        """The shown team of a source's team (a pair not synced before keeps its name)."""
        return self.shown.get((source, team), team)

    @property
    def names(self) -> list[str]:
        return sorted(set(self.shown.values()))


def resolve_teams(pairs: Collection[TeamPair], config: KpiConfig) -> TeamIdentities:
    """Name every synced team, and say which names were shared and which config names miss."""
    mapped = {
        (entry.source, entry.team): name
        for name, entries in config.teams.items()
        for entry in entries
    }
    unmapped: dict[str, list[str]] = defaultdict(list)
    for source, team in sorted(pairs):
        if (source, team) not in mapped:
            unmapped[team].append(source)
    shown: dict[TeamPair, str] = {pair: mapped[pair] for pair in pairs if pair in mapped}
    notices: list[str] = list(config.upgrade_notices)  # what kpis.yaml should say now
    for team, sources in sorted(unmapped.items()):
        if len(sources) == 1 and team not in config.teams:
            shown[sources[0], team] = team
            continue
        for source in sources:
            shown[source, team] = qualified(team, source)
        notices.append(_shared_notice(team, sources, config))
    names = sorted(set(shown.values()))
    notices += _config_notices(pairs, config, names)
    return TeamIdentities(shown, tuple(notices))


def _q(name: str) -> str:
    """A team name in quotes as written (repr() would double an area path's backslashes)."""
    return f"'{name}'"


def _flow(value: Any) -> str:
    """`value` as one line of YAML flow style, quoted only where YAML needs it."""
    text = yaml.safe_dump([value], default_flow_style=True, width=1 << 30, allow_unicode=True)
    return text.strip()[1:-1]


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _shared_notice(team: str, sources: list[str], config: KpiConfig) -> str:
    apart = _and([_q(qualified(team, source)) for source in sources])
    entries = [{"source": source, "team": team} for source in sources]
    if team in config.teams:  # kpis.yaml has a team of that name, made of other sources' teams
        return (
            f"team {_q(team)} of {_and(sources)} is kept apart from {KPI_FILE}'s team {_q(team)} "
            f"as {apart}; to make it part of that team, add to the list teams.{team} in "
            f"{KPI_FILE}: {', '.join(_flow(e) for e in entries)}"
        )
    return (
        f"team {_q(team)} is in {_and(sources)}: kept apart as {apart}; to make them one "
        f"team, add under teams: in {KPI_FILE}: {_flow(team)}: {_flow(entries)} "
        "(or give each a name of its own the same way)"
    )


def _config_notices(
    pairs: Collection[TeamPair], config: KpiConfig, names: Sequence[str]
) -> Iterator[str]:
    """A team name of kpis.yaml that matches no synced team, with the closest one."""
    teams_of: dict[str, list[str]] = defaultdict(list)
    for source, team in sorted(pairs):
        teams_of[source].append(team)
    for name, entries in config.teams.items():
        for i, entry in enumerate(entries):
            if (entry.source, entry.team) in pairs:
                continue
            where = f"{KPI_FILE}: teams.{name}[{i}].team"
            known = teams_of.get(entry.source)
            if not known:
                yield (
                    f"{where}: no synced team {_q(entry.team)} in {entry.source} "
                    f"(nothing synced from {entry.source} yet)"
                )
            else:
                yield (
                    f"{where}: no synced team {_q(entry.team)} in {entry.source} "
                    f"(closest: {_q(_closest(entry.team, known))})"
                )
    for name in config.workflows:
        if name not in names and name not in config.teams:  # a team's entries warned above
            closest = f"closest: {_q(_closest(name, names))}" if names else "no team synced yet"
            yield f"{KPI_FILE}: workflows.{name}: no synced team {_q(name)} ({closest})"


def _closest(name: str, candidates: Sequence[str]) -> str:
    """The candidate most like `name` (difflib's ratio; case does not count)."""
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.0)
    return lowered[match[0]] if match else candidates[0]
