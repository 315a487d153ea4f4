"""Findings for people (a table per team, worst first) and for tools (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import groupby
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pmo_sync.store.findings import StoredFinding

__all__ = ["print_findings", "write_findings_json"]

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def write_findings_json(findings: Sequence[StoredFinding], out: TextIO) -> int:
    rows = [
        {
            "team": f.team,
            "rule_id": f.rule_id,
            "rule": f.rule,
            "severity": f.severity,
            "mode": f.mode,
            "scope": f.scope,
            "scope_key": f.scope_key,
            "source": f.source,
            "message": f.message,
            "details": f.details,
            "first_seen": f.first_seen.isoformat(),
            "last_seen": f.last_seen.isoformat(),
            "resolved_at": f.resolved_at.isoformat() if f.resolved_at else None,
        }
        for f in findings
    ]
    json.dump(rows, out, indent=1)
    out.write("\n")
    return len(rows)


def print_findings(console: Console, findings: Sequence[StoredFinding]) -> None:
    if not findings:
        console.print("no open findings")
        return
    for team, rows in groupby(findings, key=lambda f: f.team or "(no team)"):
        group = list(rows)
        table = Table(
            "severity", "what", "rule", "finding", "since",
            title=f"{escape(team)} — {len(group)} finding(s)", title_justify="left",
        )  # fmt: skip
        for f in group:
            style = _STYLE.get(f.severity, "")
            severity = f"[{style}]{f.severity}[/{style}]" if style else f.severity
            if f.mode == "enforced":
                severity += " (required)"
            if f.resolved_at is not None:
                severity += " resolved"
            table.add_row(
                severity,
                escape(f.scope_key),
                escape(f.rule_id),
                escape(f.message),
                f.first_seen.date().isoformat(),
            )
        console.print(table)
