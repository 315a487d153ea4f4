"""What the listing commands (`kpis`, `findings`, `export`) share: the same options, checked
the same way, with the same one-line errors (exit 2, nothing printed on stdout).

`--format` names one of the command's formats; `--connector` names a connector
the store has synced; `--team` names a team of the synced items. A mistyped
name is an error that lists the names there are, never a silently empty list.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import typer

from pmo_sync.cli.common import EXIT_INVALID_CONFIG, err

__all__ = ["check_connector", "check_format", "check_team", "one_of"]


def one_of(names: Sequence[str]) -> str:
    """`a, b or c` (a single name alone)."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def check_format(value: str, formats: Sequence[str]) -> None:
    if value not in formats:
        err.print(f"--format must be {one_of(formats)}, not {value!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)


def check_connector(name: str | None, synced: Collection[str]) -> None:
    """`--connector` must name a connector that has been synced into the store."""
    if name is not None and name not in synced:
        err.print(f"no synced connector named {name!r}: run `pmo-sync sync` first", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)


def check_team(name: str | None, teams: Collection[str], *, none: str = "none") -> None:
    """`--team` must name a team as the KPIs name it; `none` says what to do when there is none."""
    if name is not None and name not in teams:
        known = ", ".join(sorted(teams)) or none
        err.print(f"no team {name!r} (teams: {known})", markup=False)
        raise typer.Exit(EXIT_INVALID_CONFIG)
