"""What `pmo-sync sandbox serve` prints, and the sandboxes' "now" relative to today."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pmo_sync.config import load_connector_configs
from pmo_sync.sandbox.banner import jira_banner, trello_banner
from pmo_sync.sandbox.clock import sandbox_now
from pmo_sync.sandbox.jira.generator import DEFAULT_NOW, JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox


def test_sandbox_now_is_the_latest_noon_utc_that_has_passed() -> None:
    morning = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
    afternoon = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert sandbox_now(wall=morning) == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert sandbox_now(wall=afternoon) == afternoon
    assert sandbox_now(date(2026, 11, 20)) == DEFAULT_NOW  # what the tests pin


def test_a_sandbox_generated_for_today_has_its_active_sprint_today() -> None:
    now = sandbox_now(wall=datetime(2027, 3, 3, 18, 0, tzinfo=UTC))
    data = JiraDataset.generate(issues_per_project=5, now=now)
    active = [s for s in data.sprints if s.state == "active"]
    assert len(active) == 3
    assert all(s.start is not None and s.end is not None for s in active)
    assert all(s.start <= now < s.end for s in active if s.start and s.end)
    assert max(i.created for i in data.issues) < now


def test_the_jira_banner_lists_what_a_connector_file_needs() -> None:
    dataset = JiraDataset.generate(issues_per_project=5)
    with JiraSandbox(dataset, deployment="server") as jira:
        assert jira_banner(jira, seed=7).splitlines() == [
            f"sandbox Jira on {jira.url} (Ctrl-C stops it)",
            "  data      seed 7, 5 issues per project, up to 2026-11-20 12:00 UTC",
            "  projects  ABC, DEF, GHI",
            "  boards    Team Alpha, Team Beta, Team Gamma, Gamma Flow",
            "  login     email pmo-bot@acme.example, token sandbox-token (or the token as "
            "bearer) (fake, only these)",
            "a connector file for it, config/connectors/sandbox-jira.yaml:",
            "  name: sandbox-jira",
            "  kind: jira",
            f"  url: {jira.url}",
            "  email: pmo-bot@acme.example",
            "  token: ${SANDBOX_JIRA_TOKEN}",
            "  jql: project in (ABC, DEF, GHI)",
            "then:",
            "  export SANDBOX_JIRA_TOKEN=sandbox-token",
            "  pmo-sync connectors check sandbox-jira",
            "  pmo-sync sync",
        ]


def test_the_trello_banner_gives_a_connector_file_that_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = TrelloDataset.generate(cards_per_board=3)
    with TrelloSandbox(dataset) as trello:
        lines = trello_banner(trello, seed=7).splitlines()
        url, root = trello.url, trello.root_url
    then = lines.index("then:")
    assert lines[:17] == [
        f"sandbox Trello on {url} (Ctrl-C stops it)",
        "  data      seed 7, 3 cards per board, up to 2026-11-20 12:00 UTC",
        "  boards    Team Alpha, Team Beta",
        "  login     API key sandbox-key, token sandbox-token (fake, only these)",
        "a connector file for it, config/connectors/sandbox-trello.yaml:",
        "  name: sandbox-trello",
        "  kind: trello",
        f"  url: {root}",
        "  api_key: ${SANDBOX_TRELLO_KEY}",
        "  token: ${SANDBOX_TRELLO_TOKEN}",
        "  boards: [Team Alpha, Team Beta]",
        "  list_stages:",
        "    Blocked by vendor: in_progress",
        "  sprints:",
        "    from: custom_field",
        "    name: Sprint",
        "    cadence: {sprint: Sprint 18, starts: 2026-11-16, days: 14}",  # the current one
    ]
    # The generated portfolio's conventions (docs/sandbox-trello.md), its releases dated.
    assert lines[17:24] == [
        "  # the generated portfolio's conventions: levels and releases by label, links",
        "  portfolio:",
        "    levels:",
        "      Initiative: initiative",
        "      Epic: epic",
        "    dependencies:",
        "      attachment_prefix: Depends on",
    ]
    assert lines[then:] == [
        "then:",
        "  export SANDBOX_TRELLO_KEY=sandbox-key",
        "  export SANDBOX_TRELLO_TOKEN=sandbox-token",
        "  pmo-sync connectors check sandbox-trello",
        "  pmo-sync sync",
    ]
    (tmp_path / "connectors").mkdir()
    file = "\n".join(line[2:] for line in lines[5:then]) + "\n"
    (tmp_path / "connectors" / "sandbox-trello.yaml").write_text(file, encoding="utf-8")
    monkeypatch.setenv("SANDBOX_TRELLO_KEY", "sandbox-key")
    monkeypatch.setenv("SANDBOX_TRELLO_TOKEN", "sandbox-token")
    loaded = load_connector_configs(tmp_path)
    assert loaded.errors == []
    assert [c.name for c in loaded.configs] == ["sandbox-trello"]
