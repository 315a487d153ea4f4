"""Findings for people (a card per finding, per team, worst first) and for tools (JSON, CSV).

A finding is read one at a time, and the person reading it has to find the
item: so each gets a short card (severity, rule, since; the item's key, title
and connector; what is wrong; the link) instead of a table row whose cells a
terminal of 80 columns would cut to `sand…`. The text is wrapped at the
console's width, never cut, and a URL is never broken (it stays clickable).
"""

from __future__ import annotations

import csv
import json
import textwrap
from collections.abc import Sequence
from itertools import groupby
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape

from pmo_sync.store.findings import StoredFinding

__all__ = [
    "FINDING_FIELDS",
    "finding_card",
    "print_findings",
    "write_findings_csv",
    "write_findings_json",
]

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_INDENT = "  "

FINDING_FIELDS = (
    "team", "rule_id", "rule", "severity", "mode", "scope", "scope_key", "title", "source",
    "url", "message", "first_seen", "last_seen", "resolved_at",
)  # fmt: skip
"""The columns of a CSV finding; a JSON one has these keys and `details` after `message`."""


def finding_record(f: StoredFinding) -> dict[str, Any]:
    """One finding as tools read it (`details` is JSON only: CSV keeps flat columns)."""
    return {
        "team": f.team,
        "rule_id": f.rule_id,
        "rule": f.rule,
        "severity": f.severity,
        "mode": f.mode,
        "scope": f.scope,
        "scope_key": f.scope_key,
        "title": f.title,
        "source": f.source,
        "url": f.url,
        "message": f.message,
        "first_seen": f.first_seen.isoformat(),
        "last_seen": f.last_seen.isoformat(),
        "resolved_at": f.resolved_at.isoformat() if f.resolved_at else None,
    }


def write_findings_json(findings: Sequence[StoredFinding], out: TextIO) -> int:
    rows = []
    for f in findings:
        record = finding_record(f)
        at = FINDING_FIELDS.index("message") + 1
        items = list(record.items())
        rows.append(dict([*items[:at], ("details", f.details), *items[at:]]))
    json.dump(rows, out, indent=1)
    out.write("\n")
    return len(rows)


def write_findings_csv(findings: Sequence[StoredFinding], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FINDING_FIELDS)
    for f in findings:
        record = finding_record(f)
        writer.writerow(["" if record[k] is None else record[k] for k in FINDING_FIELDS])
    return len(findings)


def finding_card(f: StoredFinding, width: int) -> list[str]:
    """The lines of one finding's card, plain text, none longer than `width` but a URL.

    First line: severity (and "required" when enforced, "resolved" when it
    was), rule id, since when. Then, indented: the item (key, title, connector;
    a sprint or team by name), what is wrong, and the link to the item.
    """
    severity = f.severity + (", required" if f.mode == "enforced" else "")
    if f.resolved_at is not None:
        severity += f", resolved {f.resolved_at.date().isoformat()}"
    head = f"{severity} · {f.rule_id} · since {f.first_seen.date().isoformat()}"
    what = " · ".join(part for part in (f.scope_key, f.title, f.source) if part)
    lines: list[str] = []
    for text, indent in ((head, ""), (what, _INDENT), (f.message, _INDENT)):
        lines += textwrap.wrap(
            text,
            width=max(width, 40),
            initial_indent=indent,
            subsequent_indent=indent + _INDENT,
            break_long_words=False,
            break_on_hyphens=False,
        )
    if f.url:
        lines.append(_INDENT + f.url)
    return lines


def print_findings(console: Console, findings: Sequence[StoredFinding]) -> None:
    """Per team, a heading and a card per finding, worst first, at the console's width."""
    if not findings:
        console.print("no open findings")
        return
    for team, rows in groupby(findings, key=lambda f: f.team or "(no team)"):
        group = list(rows)
        console.print(f"[bold]{escape(team)}[/bold] — {len(group)} finding(s)", highlight=False)
        for f in group:
            first, *rest = finding_card(f, console.width)
            style = _STYLE.get(f.severity, "")
            head = f"[{style}]{f.severity}[/{style}]{escape(first[len(f.severity) :])}"
            console.print(head if style else escape(first), highlight=False)
            for line in rest:
                console.print(line, highlight=False, markup=False)
        console.print()
