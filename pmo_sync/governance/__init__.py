"""Governance: opt-in, per-team tunable policy rules that turn work data into findings.

A PMO supports by pull, not mandate: every rule is switched on per policy
file, limited to the teams and sources it names, and tunable per team.

- `model`: the facts rules read (`ItemFacts`, `TeamFacts`; for the portfolio
  rules `RequestFacts`, `PortfolioFacts`) and the `Finding` they produce, with
  its stable identity and message-stability contract.
- `rules`: the built-in rules (`RULES`), each a parameters model and a pure check.
- `policy`: `<config dir>/policies/*.yaml` (`RuleConfig`, `load_policies`).
- `engine`: `evaluate(rules, items, teams, now, portfolio=None)`.
- `facts`: building `TeamFacts` from a `KpiRun`, and parent types.
"""

from pmo_sync.governance.engine import evaluate, stage_warnings
from pmo_sync.governance.facts import link_parents, team_facts
from pmo_sync.governance.model import (
    Finding,
    ItemFacts,
    PortfolioFacts,
    RequestFacts,
    TeamFacts,
)
from pmo_sync.governance.policy import RuleConfig, load_policies
from pmo_sync.governance.rules import RULES

__all__ = [
    "RULES",
    "Finding",
    "ItemFacts",
    "PortfolioFacts",
    "RequestFacts",
    "RuleConfig",
    "TeamFacts",
    "evaluate",
    "link_parents",
    "load_policies",
    "stage_warnings",
    "team_facts",
]
