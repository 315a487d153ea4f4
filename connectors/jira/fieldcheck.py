"""Whether Jira will take each write-back field where pmo-sync writes it, asked before a push.

A configured field must exist (`GET /field`: one call) and be on the edit screen of every
project and issue type written to: Jira answers a `PUT /issue` naming a field off the
screen with HTTP 400 "Field 'x' cannot be set. It is not on the appropriate screen, or
unknown.", and an issue type screen scheme gives each issue type of a project its own
screen. So one issue of each (project, issue type) is asked for its edit metadata
(`GET /issue/{key}/editmeta`: the fields the API user may set on it): one call per
project x type, never one per issue. The issues are the store's (`samples`: one synced
issue of each project and type); before the first sync, one page of the scope's search
(`fields=project,issuetype`) finds them.

Each result is one line: a field Jira lacks (`pmo-sync connectors provision NAME` creates
it), or the projects whose edit screens lack it, with the types and the admin's steps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from connectors.base import CheckResult
from connectors.errors import ConnectorError
from connectors.jira.client import JiraClient
from connectors.jira.config import JiraConfig
from connectors.jira.push import JiraWriter, resolve_field_names
from connectors.jira.streams import scope_jql

__all__ = ["SAMPLE_PAGE", "check_writeback_fields"]

SAMPLE_PAGE = 100
"""Issues read to find one of each project and type when the store has none."""

Place = tuple[str, str]  # (project key, issue type name)


def check_writeback_fields(
    client: JiraClient, config: JiraConfig, samples: Mapping[Place, str]
) -> list[CheckResult]:
    """One result per configured write-back field: it exists and is on every edit screen
    written to, or what is missing where and how to fix it."""
    names = list(config.writeback.fields.values())
    if not names:
        return []
    try:
        with client.translate_errors("list the fields (GET /field)"):
            listed = client.fields()
    except ConnectorError as exc:
        return [CheckResult("write-back fields", False, str(exc))]
    field_names = {str(f["id"]): str(f.get("name") or f["id"]) for f in listed}
    found, problems = resolve_field_names(field_names, names)
    results = [
        CheckResult(
            _title(name),
            False,
            f"{problems[name]} in Jira: run `pmo-sync connectors provision {config.name}` "
            "(or a Jira admin: Jira settings > Issues > Custom fields > Create custom field)",
        )
        for name in names
        if name in problems
    ]
    if not found:
        return results
    try:
        places = dict(samples) or _sample_issues(client, config)
    except ConnectorError as exc:
        return [*results, CheckResult("write-back screens", False, str(exc))]
    editable: dict[Place, set[str]] = {}
    writer = JiraWriter(client)
    try:
        for place, key in sorted(places.items()):
            try:
                editable[place] = writer.editable_fields(key)
            except ConnectorError as exc:
                results.append(CheckResult(f"edit screen of {key}", False, str(exc)))
    finally:
        writer.close()
    for name in names:
        if name in found:
            results.append(_on_screens(name, found[name], editable))
    return results


def _title(name: str) -> str:
    return f"write-back field {name!r}"


def _on_screens(name: str, field_id: str, editable: Mapping[Place, set[str]]) -> CheckResult:
    """The field against each (project, type)'s edit screen: one line."""
    missing: dict[str, list[str]] = defaultdict(list)
    for (project, issue_type), fields in sorted(editable.items()):
        if field_id not in fields:
            missing[project].append(issue_type)
    projects = sorted({project for project, _ in editable})
    if not missing:
        where = ", ".join(projects) if projects else "no issue yet"
        return CheckResult(_title(name), True, f"{field_id}, on the edit screens of {where}")
    gaps = "; ".join(
        f"project {project} ({', '.join(types)})" for project, types in sorted(missing.items())
    )
    return CheckResult(
        _title(name),
        False,
        f"{field_id} is not on the edit screen of {gaps}: a Jira admin adds it: "
        "Project settings > Screens names the screen; Jira settings > Issues > Screens > "
        f"that screen > Configure > add {name!r} (and the field's context must include the "
        "project)",
    )


def _sample_issues(client: JiraClient, config: JiraConfig) -> dict[Place, str]:
    """One issue of each (project, type) among the scope's first page of issues."""
    found: dict[Place, str] = {}
    pages = client.search_pages(scope_jql(config.jql), ["project", "issuetype"], None, SAMPLE_PAGE)
    page = next(iter(pages), None)
    for issue in (page or {}).get("issues") or []:
        fields = issue.get("fields") or {}
        project = str((fields.get("project") or {}).get("key") or "")
        issue_type = str((fields.get("issuetype") or {}).get("name") or "")
        if project and issue_type:
            found.setdefault((project, issue_type), str(issue["key"]))
    return found
