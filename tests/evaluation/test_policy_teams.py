"""A policy naming a team that no team is called any more is said, with the closest name."""

from __future__ import annotations

from pathlib import Path

from pmo_sync.evaluation.policy_teams import policy_team_notices
from pmo_sync.governance.policy import load_policies

POLICY = """\
rules:
  - id: wip-limit
    rule: wip_limit
    params: {total: 10}
    overrides:
      Team Alpha:
        params: {total: 6}
  - id: stale-in-progress
    rule: stale_in_progress
    teams: [Team Alpha (acme-jira), Team Gamma]
"""
SHOWN = ["Team Alpha (acme-jira)", "Team Alpha (acme-trello)", "Team Beta", "Team Gamma"]


def test_a_plain_name_that_two_sources_now_qualify_is_said_with_the_closest(
    tmp_path: Path,
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "flow.yaml").write_text(POLICY, encoding="utf-8")
    rules, errors = load_policies(tmp_path)
    assert errors == []
    assert list(policy_team_notices(rules, SHOWN)) == [
        "policies: rule wip-limit: overrides: no team 'Team Alpha' (two sources have one: "
        "now 'Team Alpha (acme-jira)' and 'Team Alpha (acme-trello)'; map them in kpis.yaml "
        "or name one)",
    ]
    renamed = ["Platform", "Team Beta", "Team Gamma"]
    assert list(policy_team_notices(rules, renamed))[1] == (
        "policies: rule stale-in-progress: teams: no team 'Team Alpha (acme-jira)' (closest: "
        "'Team Gamma'; it applies to no team)"
    )
    assert list(policy_team_notices(rules, [])) == []  # nothing synced yet: nothing to say
