"""Finds connector classes: the built-in ones and those of installed plug-ins.

Third-party connectors register a `Connector` subclass under the entry-point
group `pmo_sync.connectors`; the key is the `kind` their config files use.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

import structlog

from connectors.base import Connector

__all__ = ["ENTRY_POINT_GROUP", "connector_classes", "connector_for_kind"]

ENTRY_POINT_GROUP = "pmo_sync.connectors"
log = structlog.get_logger(__name__)


def _builtin() -> dict[str, type[Connector]]:
    from connectors.azure_devops import AzureDevOpsConnector
    from connectors.jira import JiraConnector
    from connectors.trello import TrelloConnector

    return {cls.kind: cls for cls in (JiraConnector, AzureDevOpsConnector, TrelloConnector)}


@cache
def connector_classes() -> dict[str, type[Connector]]:
    """Every known connector class by kind; a plug-in that fails to load is logged and skipped."""
    classes = _builtin()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in classes:
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plug-in must not take the service down
            log.error("connector_plugin_failed", entry_point=ep.name, error=str(exc))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            log.error("connector_plugin_invalid", entry_point=ep.name, target=repr(cls))
            continue
        classes[ep.name] = cls
    return classes


def connector_for_kind(kind: str) -> type[Connector]:
    classes = connector_classes()
    try:
        return classes[kind]
    except KeyError:
        known = ", ".join(sorted(classes))
        raise KeyError(f"unknown connector kind {kind!r} (known: {known})") from None
