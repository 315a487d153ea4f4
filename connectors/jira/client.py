"""Every call pmo-sync makes to Jira, through the `jira` library, with Jira's quirks handled here.

Streams never see HTTP: they ask this client for pages of issues, changelogs,
boards and sprints. The client owns

- construction without the library's own network calls (no `serverInfo` on
  start, no `GET /field` behind `enhanced_search_issues`) so each run makes only
  the calls it needs;
- the shared HTTP policy (timeouts, retries honouring `Retry-After`, call
  counting, HTML-page detection) mounted on the library's session, with the
  library's own retry loop switched off so retries are not doubled;
- the Cloud/Server split: `search/jql` + `nextPageToken` on Cloud (the legacy
  `search` answers 410 there since 2025), `search` + `startAt` on Server/DC;
- turning `JIRAError`s into specific `ConnectorError`s that say what to do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from jira import JIRA, JIRAError

from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    PermissionDeniedError,
    TrackerUnavailableError,
    UnexpectedResponseError,
)
from connectors.http import NO_ANSWER_ERRORS, CallStats, install_http_policy, transport_error
from connectors.jira.config import JiraConfig
from connectors.pagination import NextPageTokenPaginator, StartAtPaginator

__all__ = ["BULK_CHANGELOG_MAX_ISSUES", "JiraClient"]

BULK_CHANGELOG_MAX_ISSUES = 1000
BULK_CHANGELOG_MAX_FIELDS = 10
CHANGELOG_PAGE_SIZE = 100
AGILE_PAGE_SIZE = 50
CENSUS_PAGE_SIZE = 5000
READ_RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST"})
"""A pull only POSTs read-only queries (search/jql, approximate-count, bulkfetch): all retryable."""


class JiraClient:
    """A run-scoped Jira client: counts its calls in `stats`."""

    def __init__(
        self,
        config: JiraConfig,
        stats: CallStats,
        *,
        retry_methods: frozenset[str] = READ_RETRY_METHODS,
    ) -> None:
        self.config = config
        self.stats = stats
        self.retry_methods = retry_methods
        self.is_cloud = config.deployment == "cloud"
        self._jira: JIRA | None = None

    # -- construction -------------------------------------------------------------------------

    @property
    def jira(self) -> JIRA:
        if self._jira is None:
            self._jira = self._build()
        return self._jira

    def _build(self) -> JIRA:
        token = self.config.token.get_secret_value()
        auth: dict[str, Any]
        if self.config.email:
            auth = {"basic_auth": (self.config.email, token)}
        else:
            auth = {"token_auth": token}
        with self.translate_errors("connect"):
            client = JIRA(
                server=str(self.config.url).rstrip("/"),
                options={"check_update": False},
                get_server_info=False,
                max_retries=0,
                timeout=self.config.timeout_seconds,
                **auth,
            )
        # The library asks /serverInfo to learn this; the config already says it.
        client.deploymentType = "Cloud" if self.is_cloud else "Server"
        install_http_policy(
            client._session,
            self.stats,
            timeout=self.config.timeout_seconds,
            max_retries=self.config.max_retries,
            max_retry_wait=self.config.max_retry_wait_seconds,
            retry_methods=self.retry_methods,
        )
        return client

    def seed_field_names(self, clause_to_id: dict[str, str]) -> None:
        """Give the library the field map it would otherwise fetch with `GET /field` per run."""
        self.jira._fields_cache_value = dict(clause_to_id) or {"id": "id"}

    def close(self) -> None:
        if self._jira is not None:
            self._jira.close()
            self._jira = None

    # -- errors --------------------------------------------------------------------------------

    @contextmanager
    def translate_errors(self, action: str) -> Iterator[None]:
        """Turn library and transport errors into messages an admin can act on."""
        try:
            yield
        except ConnectorError:
            raise
        except JIRAError as exc:
            raise self._from_jira_error(exc, action) from None
        except NO_ANSWER_ERRORS as exc:
            raise transport_error(
                exc,
                tracker="Jira",
                url=str(self.config.url),
                action=action,
                timeout=self.config.timeout_seconds,
                max_retries=self.config.max_retries,
            ) from None
        except (json.JSONDecodeError, requests.exceptions.JSONDecodeError) as exc:
            raise UnexpectedResponseError(
                f"Jira answered something that is not JSON while trying to {action}: {exc}"
            ) from None

    def _from_jira_error(self, exc: JIRAError, action: str) -> ConnectorError:
        status = exc.status_code
        text = (exc.text or "").strip() or "no details"
        who = self.config.email or "the token's account"
        if status == 401:
            return AuthenticationError(
                f"Jira rejected the credentials of {who} (HTTP 401) while trying to {action}: "
                "check the API token (and the email it belongs to)",
                status_code=401,
            )
        if status == 403:
            return PermissionDeniedError(
                f"{who} may not {action} (HTTP 403): {text}", status_code=403
            )
        if status == 410:
            return ConnectorError(
                f"Jira removed the endpoint used to {action} (HTTP 410): {text}. "
                "Is `deployment` right for this Jira?",
                status_code=410,
            )
        if status == 429 or (status is not None and status >= 500):
            return TrackerUnavailableError(
                f"Jira kept answering HTTP {status} while trying to {action}, "
                f"after {self.config.max_retries} retries: {text}",
                status_code=status,
            )
        if status == 400 and "for the field 'project'" in text:
            text += " (no such project, or the API user lacks Browse Projects on it)"
        return ConnectorError(
            f"Jira refused to {action} (HTTP {status}): {text}", status_code=status
        )

    # -- metadata ------------------------------------------------------------------------------

    def myself(self) -> dict[str, Any]:
        with self.translate_errors("read the API user (/myself)"):
            return self.jira.myself()

    def server_info(self) -> dict[str, Any]:
        with self.translate_errors("read the server info"):
            return self.jira._get_json("serverInfo")

    def fields(self) -> list[dict[str, Any]]:
        with self.translate_errors("list the fields"):
            return self.jira._get_json("field")

    def statuses(self) -> list[dict[str, Any]]:
        with self.translate_errors("list the statuses"):
            return self.jira._get_json("status")

    def project_versions(self, project_key: str) -> list[dict[str, Any]]:
        """Every version of a project (one call, not paged): the releases fix versions name."""
        with self.translate_errors(f"list the versions of project {project_key}"):
            return self.jira._get_json(f"project/{project_key}/versions")

    def my_permissions(self, project_key: str, permissions: list[str]) -> dict[str, Any]:
        with self.translate_errors(f"read permissions on project {project_key}"):
            answer = self.jira.my_permissions(
                projectKey=project_key, permissions=",".join(permissions)
            )
        return answer.get("permissions", {})

    # -- issues --------------------------------------------------------------------------------

    def search_pages(
        self, jql: str, fields: list[str], expand: str | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        """Yield raw search pages; the caller streams issues without holding every page."""
        if self.is_cloud:
            yield from self._search_jql_pages(jql, fields, expand, page_size)
        else:
            yield from self._legacy_search_pages(jql, fields, expand, page_size)

    def _search_jql_pages(
        self, jql: str, fields: list[str], expand: str | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        paginator = NextPageTokenPaginator()
        while paginator.has_more():
            with self.translate_errors("search issues"):
                page = self.jira.enhanced_search_issues(
                    jql,
                    nextPageToken=paginator.token,
                    maxResults=page_size,
                    fields=list(fields),
                    expand=expand,
                    json_result=True,
                )
            paginator.advance(page)
            yield page

    def _legacy_search_pages(
        self, jql: str, fields: list[str], expand: str | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        paginator = StartAtPaginator(page_size)
        while paginator.has_more():
            params = {
                "jql": jql,
                "startAt": paginator.start_at,
                "maxResults": page_size,
                "fields": ",".join(fields),
            }
            if expand:
                params["expand"] = expand
            with self.translate_errors("search issues"):
                page = self.jira._get_json("search", params=params)
            paginator.advance(page, len(page.get("issues", [])))
            yield page

    def issue_ids(self, jql: str) -> Iterator[str]:
        """Every issue id the JQL matches, at the cheapest cost (ids only, large pages)."""
        for page in self.search_pages(jql, ["id"], None, CENSUS_PAGE_SIZE):
            for issue in page.get("issues", []):
                yield str(issue["id"])

    def count(self, jql: str) -> int:
        """How many issues the JQL matches: one call on Cloud and on Server."""
        if self.is_cloud:
            with self.translate_errors("count issues"):
                answer = self.jira._get_json(
                    "search/approximate-count", params={"jql": jql}, use_post=True
                )
            return int(answer["count"])
        with self.translate_errors("count issues"):
            answer = self.jira._get_json(
                "search", params={"jql": jql, "maxResults": 0, "fields": "id"}
            )
        return int(answer["total"])

    def bulk_changelogs(
        self, issue_ids: list[str], field_ids: list[str]
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Full histories of up to 1000 issues, only for the fields that matter (Cloud)."""
        if len(issue_ids) > BULK_CHANGELOG_MAX_ISSUES:
            raise ValueError(f"at most {BULK_CHANGELOG_MAX_ISSUES} issues per bulk changelog call")
        paginator = NextPageTokenPaginator()
        while paginator.has_more():
            body: dict[str, Any] = {
                "issueIdsOrKeys": issue_ids,
                "fieldIds": field_ids[:BULK_CHANGELOG_MAX_FIELDS],
                "maxResults": 10000,
            }
            if paginator.token:
                body["nextPageToken"] = paginator.token
            with self.translate_errors("read changelogs in bulk"):
                page = self.jira._get_json("changelog/bulkfetch", params=body, use_post=True)
            paginator.advance(page)
            for entry in page.get("issueChangeLogs", []):
                yield str(entry["issueId"]), entry.get("changeHistories", [])

    def issue_changelog(self, issue_key: str) -> Iterator[dict[str, Any]]:
        """One issue's whole changelog, oldest first, 100 histories a call."""
        paginator = StartAtPaginator(CHANGELOG_PAGE_SIZE)
        while paginator.has_more():
            with self.translate_errors(f"read the changelog of {issue_key}"):
                page = self.jira._get_json(
                    f"issue/{issue_key}/changelog",
                    params={"startAt": paginator.start_at, "maxResults": CHANGELOG_PAGE_SIZE},
                )
            values = page.get("values", [])
            paginator.advance(page, len(values))
            yield from values

    # -- agile ---------------------------------------------------------------------------------

    def _agile_pages(self, path: str, params: dict[str, Any], action: str) -> Iterator[dict]:
        paginator = StartAtPaginator(AGILE_PAGE_SIZE)
        while paginator.has_more():
            page_params = {**params, "startAt": paginator.start_at, "maxResults": AGILE_PAGE_SIZE}
            with self.translate_errors(action):
                page = self.jira._get_json(path, params=page_params, base=self.jira.AGILE_BASE_URL)
            values = page.get("values", [])
            paginator.advance(page, len(values))
            yield from values

    def boards(self, project_key: str | None = None) -> Iterator[dict[str, Any]]:
        params = {"projectKeyOrId": project_key} if project_key else {}
        where = f" of project {project_key}" if project_key else ""
        yield from self._agile_pages("board", params, f"list the boards{where}")

    def board(self, board_id: int) -> dict[str, Any]:
        with self.translate_errors(f"read board {board_id}"):
            return self.jira._get_json(f"board/{board_id}", base=self.jira.AGILE_BASE_URL)

    def sprints(self, board_id: int, states: str | None = None) -> Iterator[dict[str, Any]]:
        params = {"state": states} if states else {}
        yield from self._agile_pages(
            f"board/{board_id}/sprint", params, f"list the sprints of board {board_id}"
        )

    def sprint(self, sprint_id: int) -> dict[str, Any]:
        with self.translate_errors(f"read sprint {sprint_id}"):
            return self.jira._get_json(f"sprint/{sprint_id}", base=self.jira.AGILE_BASE_URL)
