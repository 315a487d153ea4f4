"""docs/governance.md documents every rule, and its example findings are what the rules say.

Each rule's section (`## \\`rule_name\\``) names every parameter and ends with the
findings the rule gives on the demo's data (`pmo-sync demo --today 2026-11-20`,
the example policies in config/policies, the user-story template turned on for
every team); `blocked_too_long`'s comes from a sandbox Jira story flagged in
progress for four days, as no generated item is flagged that long. The portfolio
rules' examples are tests/governance/test_portfolio_rules.py's worked examples
(checked there).
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine

from connectors.jira.config import JiraConfig
from pmo_sync.demo import run_demo
from pmo_sync.evaluation.refresh import refresh_kpis
from pmo_sync.governance.policy import load_policies
from pmo_sync.governance.rules import RULES
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.sandbox.jira.generator import DEFAULT_NOW
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store.engine import make_engine
from pmo_sync.store.findings import read_findings

from .cycles import load_rules, sync_and_refresh

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "governance.md"
SECTION = re.compile(r"^## `(\w+)`$", re.MULTILINE)
EXAMPLE = re.compile(r"^Example findings?\b.*?:\n\n```text\n(.*?)\n```", re.MULTILINE | re.DOTALL)
STORY_TEMPLATE_FOR_EVERYONE = """
rules:
  - id: story-template-everyone
    rule: user_story_template
"""
BLOCKED = """
rules:
  - id: blocked-too-long
    rule: blocked_too_long
    severity: critical
    params:
      days: 3
"""


def sections() -> dict[str, str]:
    parts = SECTION.split(DOC.read_text(encoding="utf-8"))[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def examples() -> dict[str, list[str]]:
    found = {}
    for rule, body in sections().items():
        match = EXAMPLE.search(body)
        assert match is not None, f"{rule}: no example finding"
        found[rule] = match[1].splitlines()
    return found


def test_every_rule_is_documented_with_its_parameters_and_an_example() -> None:
    documented = sections()
    assert sorted(documented) == sorted(RULES)
    for rule, spec in RULES.items():
        for name in spec.params.model_fields:
            assert f"`{name}`" in documented[rule], f"{rule}: parameter {name} not documented"
    assert all(examples().values())


@pytest.mark.slow
@pytest.mark.usefixtures("cold_ado_sdk_cache")
def test_the_documented_examples_are_what_the_rules_find_in_the_demo(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    console = Console(file=io.StringIO(), width=160)
    assert run_demo(console, keep=keep, now=DEFAULT_NOW) == 0
    policies = keep / "config" / "policies"
    (policies / "everyone.yaml").write_text(STORY_TEMPLATE_FOR_EVERYONE, encoding="utf-8")
    rules, errors = load_policies(keep / "config")
    assert errors == []
    engine = make_engine(f"sqlite:///{keep / 'pmo-sync.sqlite3'}")
    try:
        refresh_kpis(engine, KpiConfig(), rules=rules, now=DEFAULT_NOW)
        found: dict[str, set[str]] = defaultdict(set)
        for finding in read_findings(engine):
            found[finding.rule].add(finding.message)
    finally:
        engine.dispose()
    for rule, lines in examples().items():
        if rule == "blocked_too_long" or RULES[rule].kind != "team":
            continue
        assert set(lines) <= found[rule], (rule, sorted(found[rule])[:5])


def test_the_blocked_example_is_a_flagged_sandbox_issue(
    tmp_path: Path, engine: Engine, make_config: Callable[..., JiraConfig]
) -> None:
    with JiraSandbox() as jira:
        data = jira.dataset
        issue = next(
            i
            for i in data.issues
            if i.status.name == "In Progress" and i.issue_type.name == "Story" and not i.flagged
        )
        data.set_flagged(issue.key, True)
        now = data.clock.advance(days=4)
        rules = load_rules(tmp_path, BLOCKED)
        refresh = sync_and_refresh(make_config(jira), engine, rules, now)
    messages = [f.message for f in refresh.findings]
    assert messages == examples()["blocked_too_long"]
    assert now - DEFAULT_NOW == timedelta(days=4)
