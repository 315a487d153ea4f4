"""The governance page: open findings counted by team, rule and severity, then each finding.

The findings are those `pmo-sync findings` lists (same query, same order,
same team and connector filters), narrowed further by `?severity=` and
`?rule=` (a rule id as the CLI shows it, or the rule's name); the counts are
of the findings listed, so the tables and the list always agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_portfolio import PortfolioReads
from pmo_sync.store.findings import StoredFinding

__all__ = ["NO_TEAM", "PAGE_SIZE", "GovernancePage", "build_governance", "count_by"]

PAGE_SIZE = 500
"""Findings listed per page (the counts are of every finding the filters keep)."""
NO_TEAM = "(no team)"
"""How a finding of no team (portfolio-wide) is counted, as the CLI heads it."""


@dataclass(frozen=True, slots=True)
class GovernancePage:
    filters: Filters
    severity: str | None
    rule: str | None
    findings: list[StoredFinding]
    """This page's findings (`PAGE_SIZE` at most)."""
    by_team: dict[str, Counter[str]]
    by_rule: dict[str, Counter[str]]
    rules: list[str]
    """Every rule id with an open finding (what `?rule=` can pick)."""
    unknown_team: bool = False
    unknown_source: bool = False
    listed: int = 0
    """Every finding the filters keep (the list shows one page of them)."""
    page: int = 1
    pages: int = 1

    def query(self, **changes: str | None) -> str:
        """This view's query string with `changes` (team, severity, rule, page) applied."""
        team = changes.get("team", self.filters.team)
        pairs = [
            (name, value)
            for name, value in (
                ("severity", changes.get("severity", self.severity)),
                ("rule", changes.get("rule", self.rule)),
                ("page", changes.get("page")),
            )
            if value and value != "1"
        ]
        base = self.filters.query(team=team)
        extra = urlencode(pairs)
        if not extra:
            return base
        return f"{base}&{extra}" if base else f"?{extra}"

    @property
    def total(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.by_team.values():
            total.update(counts)
        return total


def count_by(findings: Sequence[StoredFinding], what: str) -> dict[str, Counter[str]]:
    """Findings counted per `team` or `rule` (its id) and severity, in name order."""
    counts: dict[str, Counter[str]] = {}
    for f in findings:
        name = (f.team or NO_TEAM) if what == "team" else f.rule_id
        counts.setdefault(name, Counter())[f.severity] += 1
    return dict(sorted(counts.items()))


def build_governance(
    reads: DashboardReads,
    portfolio: PortfolioReads,
    filters: Filters,
    args: Mapping[str, str],
    *,
    everything: bool = False,
) -> GovernancePage:
    """The page's findings: the CLI's for the team and connector, then severity and rule.

    The list comes in pages of `PAGE_SIZE` (`?page=`; `everything` for the report).
    """
    severity = args.get("severity") or None
    rule = args.get("rule") or None
    known = reads.team_names()
    team = filters.team if filters.team in known else None
    listed = portfolio.open_findings(team=team, source=filters.source)
    rules = sorted({f.rule_id for f in listed})
    shown = [
        f
        for f in listed
        if (severity is None or f.severity == severity)
        and (rule is None or rule in (f.rule_id, f.rule))
    ]
    size = max(len(shown), 1) if everything else PAGE_SIZE
    pages = max(1, -(-len(shown) // size))
    number = args.get("page", "1")
    page = min(max(int(number) if number.isdigit() else 1, 1), pages)
    return GovernancePage(
        filters=filters,
        severity=severity,
        rule=rule,
        findings=shown[(page - 1) * size : page * size],
        by_team=count_by(shown, "team"),
        by_rule=count_by(shown, "rule"),
        rules=rules,
        unknown_team=bool(filters.team) and team is None,
        unknown_source=bool(filters.source) and filters.source not in portfolio.source_names(),
        listed=len(shown),
        page=page,
        pages=pages,
    )
