"""Before writing: will each tracker take each write-back field where pmo-sync writes it?

`connectors check NAME` prints these results after the connector's own checks, and
`push --dry-run` warns with the failing ones, so a dry run does not promise writes the
tracker will refuse. Each tracker answers per place it refuses a field for (the same
places the push stops a refused field at, `pmo_sync.writeback.service`):

- Jira: the field exists and is on the edit screen of each project x issue type written
  to (`connectors.jira.fieldcheck`: one editmeta per project x type);
- Azure DevOps: the field is in the organisation and in each work item type written to
  (`connectors.azure_devops.fieldcheck`: one call per type);
- Trello: each board has the custom field and the Custom Fields power-up
  (`connectors.trello.fieldcheck`: two calls per board).

The places written to are the store's (`places`: key -> (project, type) of the synced
items); with none stored yet, each tracker samples its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import CheckResult, Connector

__all__ = ["check_writeback_fields", "samples"]


def samples(places: Mapping[str, tuple[str, str]]) -> dict[tuple[str, str], str]:
    """One item of each (project, type): the first key in sorted order, so runs agree."""
    found: dict[tuple[str, str], str] = {}
    for key in sorted(places):
        found.setdefault(places[key], key)
    return found


def check_writeback_fields(
    connector: Connector, places: Mapping[str, tuple[str, str]]
) -> list[CheckResult]:
    """One result per configured write-back field (and place, where the tracker has several);
    [] for a connector without write-back or one this does not know."""
    from connectors.azure_devops import AzureDevOpsConnector
    from connectors.jira import JiraConnector
    from connectors.trello import TrelloConnector

    writeback = getattr(connector.config, "writeback", None)
    if writeback is None or not writeback.enabled or not writeback.fields:
        return []
    if isinstance(connector, JiraConnector):
        from connectors.jira.fieldcheck import check_writeback_fields as jira_check

        return jira_check(connector.client, connector.config, samples(places))
    if isinstance(connector, AzureDevOpsConnector):
        from connectors.azure_devops.fieldcheck import check_writeback_fields as ado_check

        return ado_check(connector.client, connector.config, {t for _, t in places.values()})
    if isinstance(connector, TrelloConnector):
        from connectors.trello.fieldcheck import check_writeback_fields as trello_check

        return trello_check(connector.client, connector.config)
    return []
