"""A write-back service cycle, as end-to-end tests run it: one sync of a connector into the
store, the KPIs and findings recomputed as of the tracker's clock, one push. Shared by the
write-back tests of each tracker, the push isolation tests, the audit tests and the push
worlds of the sweeps and chaos rounds."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from connectors.registry import connector_for_kind
from pmo_sync.evaluation.refresh import KpiRefresh, refresh_kpis
from pmo_sync.governance.policy import RuleConfig, load_policies
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_connector
from pmo_sync.writeback.service import PushSummary, push_connector

POLICY = """
rules:
  - id: estimate-committed
    rule: missing_estimate
  - id: in-progress-assignee
    rule: missing_assignee
"""
"""The rules a write-back test pushes unless it says otherwise: a committed item without an
estimate, an item in progress without an assignee."""


def load_rules(config_dir: Path, policy: str = POLICY) -> list[RuleConfig]:
    """`policy` written as `<config_dir>/policies/rules.yaml` and loaded as the service loads
    it; the test fails on any error in it."""
    (config_dir / "policies").mkdir(parents=True, exist_ok=True)
    (config_dir / "policies" / "rules.yaml").write_text(policy, encoding="utf-8")
    rules, errors = load_policies(config_dir)
    assert errors == [], errors
    return list(rules)


def sync_and_refresh(
    config: Any,
    engine: Engine,
    rules: list[RuleConfig],
    now: datetime,
    *,
    kpis: KpiConfig | None = None,
) -> KpiRefresh:
    """One sync of the config's connector into the store (it must succeed), then every KPI
    and finding recomputed as of `now` (with `kpis`' settings; the defaults without)."""
    with connector_for_kind(config.kind)(config) as connector:
        summary = sync_connector(connector, Store(engine))
    assert summary.status == "success", summary.errors
    return refresh_kpis(engine, kpis or KpiConfig(), rules=rules, now=now)


def push(
    config: Any,
    engine: Engine,
    refresh: KpiRefresh,
    now: datetime,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> PushSummary:
    """The push of what `refresh` computed, as of `now`."""
    return push_connector(
        config, engine, refresh.run, refresh.findings, dry_run=dry_run, now=now, sleep=sleep
    )


def service_cycle(
    config: Any, engine: Engine, rules: list[RuleConfig], now: datetime, *, dry_run: bool = False
) -> PushSummary:
    """Sync, KPIs and findings as of `now`, push: what one service cycle does."""
    return push(config, engine, sync_and_refresh(config, engine, rules, now), now, dry_run=dry_run)
