"""Running the policies: every rule on every team it applies to, as findings.

`evaluate` is pure: the same rules, facts and `now` give the same findings
in the same order. For each rule and each team (every team of `teams` and
of the items), the rule's settings for that team decide whether it runs
(`teams`, an override's `mode: off`, the rule's `mode: off`); the check
then sees the team's items from the rule's `sources`. A rule limited to
some sources skips a team with no item from them, sprint rules included.
A team with items but no `TeamFacts` gets the default three-stage workflow
and no sprints or percentiles; pass every team's facts.

The portfolio rules run only when `PortfolioFacts` are given. A `portfolio`
rule runs for every team its facts name (a request's, a date move's, a
team's theme shares), with that team's settings, over what comes from the
rule's sources; the `theme` rule runs once per theme of the portfolio's
shares, with the settings its `overrides` give that theme.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from pmo_sync.governance.model import (
    Finding,
    ItemFacts,
    PortfolioFacts,
    TeamFacts,
    finding_identity,
)
from pmo_sync.governance.policy import RuleConfig, RuleSettings
from pmo_sync.governance.rules import (
    RULES,
    Hit,
    RuleContext,
    RuleSpec,
    TeamPortfolio,
    ThemeView,
)
from pmo_sync.kpi.model import Workflow

__all__ = ["evaluate", "stage_warnings"]

_SCOPE_ORDER = {"theme": 0, "team": 1, "sprint": 2, "item": 3}


def _all_teams(
    items: Iterable[ItemFacts], teams: Mapping[str, TeamFacts]
) -> tuple[dict[str, TeamFacts], dict[str, list[ItemFacts]]]:
    by_team: dict[str, list[ItemFacts]] = defaultdict(list)
    for item in items:
        by_team[item.team].append(item)
    default = Workflow.from_categories({})
    facts = dict(teams)
    for team in by_team:
        if team not in facts:
            facts[team] = TeamFacts(team=team, workflow=default)
    return facts, by_team


def evaluate(
    rules: Sequence[RuleConfig],
    items: Iterable[ItemFacts],
    teams: Mapping[str, TeamFacts],
    now: datetime,
    portfolio: PortfolioFacts | None = None,
) -> list[Finding]:
    """Every finding of every rule, sorted by team, scope (theme, team, sprint, item), key,
    rule id.

    `now` must be aware and the moment the items' metrics were computed at;
    `portfolio` (None: the portfolio rules give nothing) as of `now`'s day.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ids = [rule.id for rule in rules]
    if len(set(ids)) != len(ids):
        raise ValueError(f"rule ids repeat: {sorted(i for i in set(ids) if ids.count(i) > 1)}")
    facts, by_team = _all_teams(items, teams)
    ctx = RuleContext(
        now=now,
        sprints={s.sprint_id: s for team in facts.values() for s in team.sprints},
    )
    findings: list[Finding] = []
    for rule in rules:
        spec = RULES[rule.rule]
        if spec.kind == "team":
            hits = _team_hits(rule, spec, facts, by_team, ctx)
        elif portfolio is None:
            continue
        elif spec.kind == "portfolio":
            hits = _portfolio_hits(rule, spec, portfolio, ctx)
        else:
            hits = _theme_hits(rule, spec, portfolio, ctx)
        for settings, hit in hits:
            findings.append(
                Finding(
                    rule_id=rule.id,
                    rule=rule.rule,
                    severity=settings.severity,
                    mode=settings.mode,
                    scope=hit.scope,
                    scope_key=hit.scope_key,
                    team=hit.team,
                    source=hit.source,
                    message=hit.message,
                    details=hit.details,
                    identity=finding_identity(rule.id, hit.scope, *hit.subject),
                )
            )
    findings.sort(key=lambda f: (f.team, _SCOPE_ORDER[f.scope], f.scope_key, f.rule_id, f.identity))
    return findings


def _settings(rule: RuleConfig, name: str) -> RuleSettings | None:
    """The rule's settings for a team (or a theme), None where it does not run."""
    settings = rule.settings_for(name)
    return None if settings is None or settings.mode == "off" else settings


def _team_hits(
    rule: RuleConfig,
    spec: RuleSpec,
    facts: Mapping[str, TeamFacts],
    by_team: Mapping[str, list[ItemFacts]],
    ctx: RuleContext,
) -> Iterator[tuple[RuleSettings, Hit]]:
    for name in sorted(facts):
        settings = _settings(rule, name)
        if settings is None:
            continue
        every = by_team.get(name, [])
        if rule.sources is None:  # the rule's on every source: the team's items as they are
            team_items = every
        else:
            team_items = [i for i in every if rule.applies_to_source(i.history.source)]
            if not team_items:
                continue
        for hit in spec.check(settings.params, facts[name], team_items, ctx):
            yield settings, hit


def _portfolio_hits(
    rule: RuleConfig, spec: RuleSpec, portfolio: PortfolioFacts, ctx: RuleContext
) -> Iterator[tuple[RuleSettings, Hit]]:
    requests = defaultdict(list)
    for request in portfolio.requests:
        if rule.applies_to_source(request.source):
            requests[request.request.team or ""].append(request)
    moves = defaultdict(list)
    for move in portfolio.date_moves:
        if rule.applies_to_source(move.ref[0]):
            moves[move.team or ""].append(move)
    names = set(requests) | set(moves) | set(portfolio.team_strategy)
    for name in sorted(names):
        settings = _settings(rule, name)
        if settings is None:
            continue
        view = TeamPortfolio(
            team=name,
            today=portfolio.today,
            requests=tuple(requests.get(name, ())),
            date_moves=tuple(moves.get(name, ())),
            strategy=portfolio.team_strategy.get(name),
        )
        for hit in spec.check(settings.params, view, ctx):
            yield settings, hit


def _theme_hits(
    rule: RuleConfig, spec: RuleSpec, portfolio: PortfolioFacts, ctx: RuleContext
) -> Iterator[tuple[RuleSettings, Hit]]:
    if portfolio.strategy is None:
        return
    window = portfolio.strategy.window
    for shares in window.themes:
        if shares.theme is None:
            continue
        settings = _settings(rule, shares.theme)
        if settings is None:
            continue
        for hit in spec.check(settings.params, ThemeView(shares, window), ctx):
            yield settings, hit


def stage_warnings(rules: Sequence[RuleConfig], teams: Mapping[str, TeamFacts]) -> list[str]:
    """Stage names in rules' parameters that a team the rule applies to does not have.

    Policies are validated without the workflows; once the teams are known
    (after a KPI run), a misspelt stage would silently never match. One line
    per (rule, team, stage), for `connectors validate` or the service log.
    """
    warnings = []
    for rule in rules:
        spec = RULES[rule.rule]
        if spec.stage_names is None or spec.kind != "team":
            continue
        for name in sorted(teams):
            settings = rule.settings_for(name)
            if settings is None or settings.mode == "off":
                continue
            stages = teams[name].workflow.stage_names
            for stage in sorted(spec.stage_names(settings.params)):
                if stage not in stages:
                    warnings.append(
                        f"rule {rule.id!r}: team {name!r} has no stage {stage!r} "
                        f"(its stages: {', '.join(stages)})"
                    )
    return warnings
