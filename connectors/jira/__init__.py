"""The Jira connector: Jira Cloud through `search/jql`, Jira Server/Data Center as a fallback."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from connectors.base import CheckReport, Connector, ConnectorConfig, Reconversion, Stream, Writer
from connectors.errors import ConnectorError, TrackerUnavailableError, UnexpectedResponseError
from connectors.jira.client import JiraClient
from connectors.jira.config import JiraConfig
from connectors.jira.push import JiraWriter
from connectors.jira.streams import (
    CensusStream,
    IssuesStream,
    JiraRunState,
    ReleasesStream,
    SiteStream,
    SprintsStream,
    StatusesStream,
    project_keys_in,
    scope_jql,
    site_field_ids,
)

__all__ = ["JiraConfig", "JiraConnector"]

READ_PERMISSIONS = ("BROWSE_PROJECTS",)
WRITE_PERMISSIONS = ("EDIT_ISSUES", "ADD_COMMENTS")


class JiraConnector(Connector):
    kind = "jira"
    config_model = JiraConfig
    config: JiraConfig

    def __init__(self, config: JiraConfig) -> None:
        super().__init__(config)
        self.client = JiraClient(config, self.stats)

    @classmethod
    def reconversion(
        cls,
        config: ConnectorConfig,
        bookmark: Callable[[str], Mapping[str, Any] | None],
        today: date,
    ) -> Reconversion:
        from connectors.jira.reconvert import jira_reconversion

        assert isinstance(config, JiraConfig)
        return jira_reconversion(config, bookmark, today)

    def streams(self) -> Sequence[Stream]:
        state = JiraRunState()
        return (
            SiteStream(self.client, self.config, state),
            IssuesStream(self.client, self.config, state),
            ReleasesStream(self.client, self.config, state),
            SprintsStream(self.client, self.config, state),
            StatusesStream(self.client, self.config, state),
            CensusStream(self.client, self.config, state),
        )

    def writer(self) -> Writer:
        return JiraWriter(self.client)

    def close(self) -> None:
        self.client.close()

    def check(self) -> CheckReport:
        """Reach, credentials, deployment, fields, project permissions, the JQL and the boards.

        The first call (`/myself`) decides whether to go on: a tracker that cannot be
        reached (or answers no API) is reported once, as `reach`, and a rejected token
        once, as `credentials`; no later step is tried.
        """
        report = CheckReport()
        client = self.client
        try:
            me = client.myself()
        except (TrackerUnavailableError, UnexpectedResponseError) as exc:
            report.add("reach", False, str(exc))  # every later step would fail the same way
            return report
        except ConnectorError as exc:
            report.add("credentials", False, str(exc))
            return report
        report.add(
            "credentials",
            True,
            f"authenticated as {me.get('displayName', '?')} "
            f"(time zone {me.get('timeZone', 'unknown')})",
        )
        self._check_deployment(report)
        self._check_fields(report)
        for project in project_keys_in(self.config.jql):
            self._check_project(report, project)
        self._check_jql(report)
        self._check_boards(report)
        return report

    def _check_deployment(self, report: CheckReport) -> None:
        try:
            info = self.client.server_info()
        except ConnectorError as exc:
            report.add("deployment", False, str(exc), "warning")
            return
        actual = "cloud" if info.get("deploymentType") == "Cloud" else "server"
        if actual == self.config.deployment:
            report.add("deployment", True, f"{info.get('deploymentType')} {info.get('version')}")
        else:
            report.add(
                "deployment",
                False,
                f"this Jira is {info.get('deploymentType')}; set `deployment: {actual}`",
            )

    def _check_fields(self, report: CheckReport) -> None:
        try:
            ids = site_field_ids(self.client.fields(), self.config)
        except LookupError as exc:
            report.add("fields", False, str(exc))
            return
        except ConnectorError as exc:
            report.add("fields", False, str(exc))
            return
        report.add(
            "sprint field",
            ids.sprint is not None,
            f"Sprint is {ids.sprint}" if ids.sprint else "no Sprint field: is Jira Software on?",
            "warning",
        )
        report.add(
            "story points field",
            ids.story_points is not None,
            f"{ids.story_points_name} is {ids.story_points}"
            if ids.story_points
            else "no story-point field found by name; set `story_points_field`",
            "warning",
        )
        for label, setting, found in (
            ("acceptance criteria field", self.config.acceptance_criteria_field,
             ids.acceptance_criteria),
            ("checklist field", self.config.checklist_field, ids.checklist),
        ):  # fmt: skip
            if setting:
                report.add(label, True, f"{setting} is {found}")

    def _check_project(self, report: CheckReport, project: str) -> None:
        wanted = [*READ_PERMISSIONS, *WRITE_PERMISSIONS]
        try:
            permissions = self.client.my_permissions(project, wanted)
        except ConnectorError as exc:
            report.add(f"project {project}", False, str(exc))
            return
        missing_read = [p for p in READ_PERMISSIONS if not _granted(permissions, p)]
        missing_write = [p for p in WRITE_PERMISSIONS if not _granted(permissions, p)]
        if missing_read:
            report.add(
                f"project {project}",
                False,
                f"missing {', '.join(missing_read)}: the API user cannot see this project; "
                "ask a Jira admin to grant Browse Projects",
            )
        else:
            report.add(f"project {project}", True, "can browse")
        if missing_write:
            report.add(
                f"project {project} write-back",
                False,
                f"missing {', '.join(missing_write)}: KPI fields and comments cannot be written",
                "warning",
            )

    def _check_jql(self, report: CheckReport) -> None:
        jql = scope_jql(self.config.jql)
        try:
            count = self.client.count(jql)
        except ConnectorError as exc:
            report.add("jql", False, str(exc))
            return
        report.add("jql", True, f"{count} issues match {jql!r}")

    def _check_boards(self, report: CheckReport) -> None:
        projects: list[str | None] = [*project_keys_in(self.config.jql)] or [None]
        for project in projects:
            try:
                boards = list(self.client.boards(project))
            except ConnectorError as exc:
                report.add(f"boards {project or ''}".strip(), False, str(exc))
                continue
            for board in boards:
                if board.get("type") != "scrum":
                    continue
                try:
                    next(iter(self.client.sprints(int(board["id"]), "active")), None)
                except ConnectorError as exc:
                    report.add(f"board {board['id']} ({board.get('name')})", False, str(exc))
                else:
                    report.add(
                        f"board {board['id']} ({board.get('name')})", True, "sprints readable"
                    )


def _granted(permissions: dict, key: str) -> bool:
    return bool((permissions.get(key) or {}).get("havePermission"))
