"""`serve` says each team notice once (a name two sources share), not at every cycle."""

from __future__ import annotations

import structlog

from pmo_sync.service import cycle

SHARED = (
    "team 'Team Alpha' is in acme-jira and acme-trello: kept apart as 'Team Alpha (acme-jira)' "
    "and 'Team Alpha (acme-trello)'"
)
RENAMED = "kpis.yaml: teams.Platform[0].team: no synced team 'Team Alpah' in acme-jira"


def test_each_notice_is_logged_once_per_process() -> None:
    cycle._NOTICED.clear()
    with structlog.testing.capture_logs() as logged:
        cycle.log_new_notices([SHARED])
        cycle.log_new_notices([SHARED])  # the next cycle: already said
        cycle.log_new_notices([SHARED, RENAMED])  # a new one since (kpis.yaml edited)
    assert logged == [
        {"event": "team_notice", "notice": SHARED, "log_level": "warning"},
        {"event": "team_notice", "notice": RENAMED, "log_level": "warning"},
    ]
    cycle._NOTICED.clear()
