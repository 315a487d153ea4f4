"""Jira's site cache (field ids, the API user, the boards; 24 h) is read again at once when
the config names a field the cache does not resolve: an admin who adds an acceptance-criteria
or checklist field sees it used by the next sync, not the next day."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select

from connectors.jira import JiraConfig
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store.models import WorkItemRow
from pmo_sync.sync import RunSummary

FIELDS = "/rest/api/2/field"


def test_a_newly_configured_criteria_field_is_resolved_by_the_next_sync(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    ds = jira_sandbox.dataset
    criteria = ds.create_custom_field("Acceptance Criteria", "string")
    assert run_sync(make_config(jira_sandbox, jql="project = ABC")).status == "success"
    jira_sandbox.reset_log()
    assert run_sync(make_config(jira_sandbox, jql="project = ABC")).status == "success"
    assert FIELDS not in [r.path for r in jira_sandbox.requests]  # the cache holds

    issue = next(i for i in ds.issues if i.project_key == "ABC")
    ds.set_field(issue.key, criteria, "Given a paid order, a PDF arrives within a minute")
    jira_sandbox.reset_log()
    configured = make_config(
        jira_sandbox, jql="project = ABC", acceptance_criteria_field="Acceptance Criteria"
    )
    assert run_sync(configured).status == "success"
    assert [r.path for r in jira_sandbox.requests].count(FIELDS) == 1
    with engine.connect() as conn:
        stored = conn.execute(
            select(WorkItemRow.acceptance_criteria).where(WorkItemRow.external_id == issue.id)
        ).scalar_one()
    assert stored == "Given a paid order, a PDF arrives within a minute"

    jira_sandbox.reset_log()
    assert run_sync(configured).status == "success"
    assert FIELDS not in [r.path for r in jira_sandbox.requests]  # resolved: cached again
