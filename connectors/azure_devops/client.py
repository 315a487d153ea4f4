"""Every call pmo-sync makes to Azure DevOps, through the `azure-devops` SDK, quirks handled here.

Streams never see HTTP. The client owns

- the SDK `Connection` (PAT as basic auth with an empty user) and the three
  7.1 clients it needs: work item tracking, work, core;
- the shared HTTP policy of `connectors.http`, installed through msrest's own
  configuration rather than on a session. msrest keeps one `requests.Session`
  *per thread* (`RequestsHTTPSender.session` is thread-local) and, whenever it
  creates one, `_init_session` overwrites every adapter's `max_retries` with
  `config.retry_policy()`: a retry mounted on today's session would be lost on
  the next thread's, and one mounted before initialisation would be
  overwritten. So the policy is built once by `install_http_policy` on a
  template session and handed to msrest's knobs, which apply to every session
  msrest ever creates: `config.retry_policy` returns our `RecordingRetry`
  (429 with `Retry-After` on any method; 5xx on GET and on POST, because a
  pull only POSTs read-only queries: WIQL, workitemsbatch, reporting
  revisions — the SDK itself never retries a POST), `config.connection.timeout`
  is the configured timeout, and `config.hooks` carries the counting and
  HTML-refusal hooks (msrest passes them per request, where they replace the
  session's hooks);
- error translation: a 401, or a 203 with an HTML sign-in page (what Azure
  DevOps answers a bad PAT without `X-TFS-FedAuthRedirect`), becomes an
  `AuthenticationError` about the PAT; SDK and msrest exceptions become
  `ConnectorError`s an admin can act on. SDK exceptions carry no status code,
  so a response hook remembers the last status per thread.

The SDK's own resource-area lookup (`_apis/ResourceAreas`) is done here
instead, through a location client with the same policy (`_resource_areas`),
so it too is counted, timed out and retried. The SDK caches resource areas and
route options on disk for 12 hours, in `AZURE_DEVOPS_CACHE_DIR`, which
`connectors.azure_devops` points at pmo-sync's own cache directory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import requests
from azure.devops._file_cache import RESOURCE_CACHE as RESOURCE_FILE_CACHE
from azure.devops.connection import Connection
from azure.devops.exceptions import (
    AzureDevOpsAuthenticationError,
    AzureDevOpsServiceError,
)
from azure.devops.v7_1.location.location_client import LocationClient
from azure.devops.v7_1.work.models import TeamContext
from azure.devops.v7_1.work_item_tracking.models import Wiql, WorkItemBatchGetRequest
from msrest.authentication import BasicAuthentication
from msrest.exceptions import ClientException, ClientRequestError

from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    PermissionDeniedError,
    TrackerUnavailableError,
    UnexpectedResponseError,
)
from connectors.http import CallStats, install_http_policy, transport_error
from connectors.pagination import ContinuationTokenPaginator

__all__ = [
    "FIELD_NOT_FOUND_CODE",
    "MAX_BATCH",
    "READ_RETRY_METHODS",
    "WIQL_CAP_CODE",
    "AdoClient",
    "WiqlCapExceeded",
]

MAX_BATCH = 200
REVISIONS_PAGE = 200
WIQL_CAP_CODE = "VS402337"
FIELD_NOT_FOUND_CODE = "TF51535"
"""What Azure DevOps answers a read naming a field its organisation does not have (HTTP 400)."""
REPORTING_REVISIONS = "f828fe59-dd87-495d-a17c-7a8d6211ca6c"
WORK_ITEMS_BATCH = "908509b6-4248-4475-a1cd-829139ba419f"
"""wit/workitemsbatch's location id, as the SDK's `get_work_items_batch` sends it."""
READ_RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST"})
"""A pull only POSTs read-only queries (WIQL, workitemsbatch, reporting revisions): retryable."""


class WiqlCapExceeded(ConnectorError):
    """The WIQL query matched more items than the service returns (VS402337)."""


class AdoClient:
    """A run-scoped Azure DevOps client: counts its calls in `stats`."""

    def __init__(
        self,
        config: AzureDevOpsConfig,
        stats: CallStats,
        *,
        retry_methods: frozenset[str] = READ_RETRY_METHODS,
    ) -> None:
        self.config = config
        self.stats = stats
        self.project = config.project
        self._connection: Connection | None = None
        self._clients: dict[str, Any] = {}
        self._status = threading.local()
        template = requests.Session()
        install_http_policy(
            template,
            stats,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
            max_retry_wait=config.max_retry_wait_seconds,
            retry_methods=retry_methods,
        )
        adapter = template.get_adapter("https://")
        if not isinstance(adapter, requests.adapters.HTTPAdapter):
            raise TypeError(f"the HTTP policy mounted a {type(adapter).__name__}, no HTTPAdapter")
        self._retry = adapter.max_retries
        self._hooks = [self._remember_status, *template.hooks["response"]]
        template.close()

    # -- construction -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return str(self.config.organization_url).rstrip("/")

    def _remember_status(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._status.code = response.status_code

    def _client(self, kind: str) -> Any:
        if kind not in self._clients:
            factory = self._connect().clients_v7_1
            with self.translate_errors("discover the API routes"):
                client = {
                    "wit": factory.get_work_item_tracking_client,
                    "work": factory.get_work_client,
                    "core": factory.get_core_client,
                }[kind]()
            self._configure(client)
            self._clients[kind] = client
        return self._clients[kind]

    def _connect(self) -> Connection:
        """The SDK connection, its resource areas read through our policy."""
        if self._connection is None:
            pat = self.config.token.get_secret_value()
            connection = Connection(base_url=self.url, creds=BasicAuthentication("", pat))
            connection._resource_areas = self._resource_areas()
            self._connection = connection
        return self._connection

    def _resource_areas(self) -> list[Any]:
        """Where each API area lives, as the SDK's `Connection` would look it up, but counted.

        Left to itself the SDK asks through a `LocationClient` of its own: no
        timeout of ours, no retry, not counted. Asked here through `location`
        (our policy), with the SDK's own 12-hour file cache kept, so a warm run
        still costs nothing.
        """
        location = self.location
        cached = RESOURCE_FILE_CACHE[location.normalized_url]
        if cached:
            with suppress(Exception):  # an unreadable cache entry is simply asked again
                return list(
                    location._base_deserialize.deserialize_data(cached, "[ResourceAreaInfo]")
                )
        with self.translate_errors("discover the API areas"):
            areas = location.get_resource_areas() or []
        with suppress(Exception):  # a cache that cannot be written costs a call next run
            RESOURCE_FILE_CACHE[location.normalized_url] = location._base_serialize.serialize_data(
                areas, "[ResourceAreaInfo]"
            )
        return list(areas)

    def _configure(self, client: Any) -> None:
        """Hand the shared policy to msrest (see the module docstring for why not the session)."""
        config = client.config
        retry = self._retry
        config.retry_policy = lambda: retry
        config.connection.timeout = self.config.timeout_seconds
        config.hooks = list(self._hooks)
        sender = client._client.config.pipeline._sender.driver
        # A session msrest already created on this thread keeps its old retry: re-initialise it.
        existing = getattr(sender._session_mapping, "session", None)
        if existing is not None:
            sender.session = existing

    @property
    def location(self) -> LocationClient:
        """The organisation-level location client (`connectionData`, resource areas)."""
        if "location" not in self._clients:
            pat = self.config.token.get_secret_value()
            client = LocationClient(base_url=self.url, creds=BasicAuthentication("", pat))
            self._configure(client)
            self._clients["location"] = client
        return self._clients["location"]

    @property
    def wit(self) -> Any:
        return self._client("wit")

    @property
    def work(self) -> Any:
        return self._client("work")

    @property
    def core(self) -> Any:
        return self._client("core")

    def close(self) -> None:
        for client in self._clients.values():
            with suppress(Exception):  # closing must never fail a run
                client._client.close()
        self._clients.clear()
        self._connection = None

    # -- errors --------------------------------------------------------------------------------

    @contextmanager
    def translate_errors(self, action: str) -> Iterator[None]:
        """Turn SDK, msrest and transport errors into messages an admin can act on."""
        self._status.code = None
        try:
            yield
        except UnexpectedResponseError as exc:
            if exc.status_code == 203:
                raise self._bad_pat(action, 203) from None
            raise
        except ConnectorError:
            raise
        except AzureDevOpsAuthenticationError:
            raise self._bad_pat(action, 401) from None
        except AzureDevOpsServiceError as exc:
            raise self._from_service_error(exc, action) from None
        except ClientRequestError as exc:
            raise self._from_request_error(exc, action) from None
        except ClientException as exc:
            raise ConnectorError(f"Azure DevOps failed to {action}: {_short(exc)}") from None
        except ValueError as exc:
            if "is not registered" in str(exc):
                raise ConnectorError(
                    f"this Azure DevOps ({self.url}) has no API to {action}: {exc}", status_code=404
                ) from None
            raise
        except (json.JSONDecodeError, requests.exceptions.JSONDecodeError) as exc:
            raise UnexpectedResponseError(
                f"Azure DevOps answered something that is not JSON while trying to {action}: {exc}"
            ) from None

    def _bad_pat(self, action: str, status: int) -> AuthenticationError:
        how = "HTTP 401" if status == 401 else "a sign-in page (HTTP 203)"
        return AuthenticationError(
            f"Azure DevOps rejected the personal access token with {how} while trying to "
            f"{action} at {self.url}: check that the PAT is right, not expired, and issued "
            "for this organisation",
            status_code=status,
        )

    def _from_service_error(self, exc: AzureDevOpsServiceError, action: str) -> ConnectorError:
        status = getattr(self._status, "code", None)
        message = (exc.message or "no details").strip()
        if status == 401:
            return self._bad_pat(action, 401)
        if status == 403:
            return PermissionDeniedError(
                f"the PAT's user may not {action} (HTTP 403): {message}. Grant the PAT the "
                "Work Items (Read) and Project and Team (Read) scopes",
                status_code=403,
            )
        if WIQL_CAP_CODE in message or (exc.type_key or "").endswith("SizeLimitExceededException"):
            return WiqlCapExceeded(message, status_code=status)
        if status == 429 or (status is not None and status >= 500):
            return TrackerUnavailableError(
                f"Azure DevOps kept answering HTTP {status} while trying to {action}, "
                f"after {self.config.max_retries} retries: {message}",
                status_code=status,
            )
        if status == 404 and "project" in message.lower():
            message += f" (is `project: {self.project}` right, and may the PAT's user see it?)"
        if FIELD_NOT_FOUND_CODE in message:
            message += (
                " (the organisation's process has no such field: `pmo-sync connectors check` "
                "names a configured one; a full sync reads the field list again)"
            )
        return ConnectorError(
            f"Azure DevOps refused to {action} (HTTP {status}): {message}", status_code=status
        )

    def _from_request_error(self, exc: ClientRequestError, action: str) -> ConnectorError:
        inner = getattr(exc, "inner_exception", None)
        status = getattr(self._status, "code", None)
        if inner is None:
            if status == 401:
                return self._bad_pat(action, 401)
            if status == 429 or (status is not None and status >= 500):
                return TrackerUnavailableError(
                    f"Azure DevOps kept answering HTTP {status} while trying to {action}, "
                    f"after {self.config.max_retries} retries: {_short(exc)}",
                    status_code=status,
                )
            return ConnectorError(
                f"Azure DevOps refused to {action} (HTTP {status}): {_short(exc)}",
                status_code=status,
            )
        return transport_error(
            inner,
            tracker="Azure DevOps",
            url=self.url,
            action=action,
            timeout=self.config.timeout_seconds,
            max_retries=self.config.max_retries,
        )

    # -- core and work -------------------------------------------------------------------------

    def projects(self) -> list[dict[str, Any]]:
        with self.translate_errors("list the projects"):
            return [p.serialize() for p in self.core.get_projects()]

    def project_info(self) -> dict[str, Any]:
        with self.translate_errors(f"read project {self.project}"):
            return self.core.get_project(self.project).serialize()

    def teams(self) -> list[dict[str, Any]]:
        with self.translate_errors(f"list the teams of project {self.project}"):
            return [t.serialize() for t in self.core.get_teams(self.project)]

    def team_area_paths(self, team: str) -> list[str] | None:
        """The team's area paths (`teamfieldvalues`), or None where that API is missing."""
        try:
            with self.translate_errors(f"read the area paths of team {team}"):
                answer = self.work.get_team_field_values(
                    TeamContext(project=self.project, team=team)
                )
        except ConnectorError as exc:
            if exc.status_code == 404:
                return None
            raise
        return [str(v.value) for v in (answer.values or [])] if answer else None

    def team_iterations(self, team: str) -> list[dict[str, Any]]:
        with self.translate_errors(f"list the iterations of team {team}"):
            found = self.work.get_team_iterations(TeamContext(project=self.project, team=team))
        return [it.serialize() for it in found or []]

    def work_item_fields(self) -> dict[str, str] | None:
        """The organisation's work item fields, reference name -> name (`GET _apis/wit/fields`,
        one call): what a read may ask for. None where the server has no field list (404)."""
        try:
            with self.translate_errors("list the work item fields"):
                found = self.wit.get_work_item_fields()
        except ConnectorError as exc:
            if exc.status_code == 404:
                return None
            raise
        return {str(f.reference_name): str(f.name or f.reference_name) for f in found or []}

    def states(self, work_item_type: str) -> list[dict[str, Any]]:
        with self.translate_errors(f"list the states of {work_item_type}"):
            found = self.wit.get_work_item_type_states(self.project, work_item_type)
        return [s.serialize() for s in found or []]

    # -- work items ----------------------------------------------------------------------------

    def work_item_ids(self, wiql: str, top: int | None = None) -> list[int]:
        """Ids a WIQL query matches (raises `WiqlCapExceeded` beyond the service's cap)."""
        with self.translate_errors("run a WIQL query"):
            answer = self.wit.query_by_wiql(
                Wiql(query=wiql), team_context=TeamContext(project=self.project), top=top
            )
        return [int(ref.id) for ref in answer.work_items or []]

    def work_items_batch(self, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        """Current fields of up to 200 items; deleted ones are left out."""
        if len(ids) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} ids per workitemsbatch call")
        request = WorkItemBatchGetRequest(ids=ids, fields=fields, error_policy="omit")
        found = self._work_items_batch(request, "read work items in bulk")
        return [{"id": w.get("id"), "rev": w.get("rev"), "fields": w.get("fields")} for w in found]

    def work_item_relations(self, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The current relations (`rel`, `url`, `attributes`) of up to 200 items, by id; deleted
        ones are left out. `$expand: relations` takes no field list, so each item comes whole:
        the relations are all that is kept of it."""
        if len(ids) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} ids per workitemsbatch call")
        request = WorkItemBatchGetRequest(ids=ids, expand="relations", error_policy="omit")
        found = self._work_items_batch(request, "read the links of work items")
        return {
            int(w["id"]): [
                {
                    "rel": r.get("rel"),
                    "url": r.get("url"),
                    "attributes": dict(r.get("attributes") or {}),
                }
                for r in w.get("relations") or []
            ]
            for w in found
        }

    def _work_items_batch(self, request: Any, action: str) -> list[dict[str, Any]]:
        """POST wit/workitemsbatch as the SDK's `get_work_items_batch` does (same route, version
        and body), its answer's items as parsed JSON; the deleted ones (null with the `omit`
        policy) left out, and no `value` read as none, as the SDK's collection did.

        Not through the SDK's deserialiser: it rebuilds every field value of every item
        through msrest's generic-object path (an `eval` per value), which cost more than the
        rest of a full sync's conversion, to give back the very values the JSON holds.
        """
        wit = self.wit
        with self.translate_errors(action):
            response = wit._send(
                http_method="POST",
                location_id=WORK_ITEMS_BATCH,
                version="7.1-preview.1",
                route_values={"project": wit._serialize.url("project", self.project, "str")},
                content=wit._serialize.body(request, "WorkItemBatchGetRequest"),
            )
            page = response.json()
        values = page.get("value") if isinstance(page, dict) else None
        return [w for w in values or [] if isinstance(w, dict) and w]

    def revisions(self, item_id: int) -> list[dict[str, Any]]:
        """Every revision of one item, 200 a call; [] when it is gone."""
        result: list[dict[str, Any]] = []
        while True:
            try:
                with self.translate_errors(f"read the revisions of work item {item_id}"):
                    page = self.wit.get_revisions(
                        item_id, self.project, top=REVISIONS_PAGE, skip=len(result)
                    )
            except ConnectorError as exc:
                if exc.status_code == 404:
                    return []
                raise
            result.extend({"id": w.id, "rev": w.rev, "fields": w.fields} for w in page or [])
            if len(page or []) < REVISIONS_PAGE:
                return result

    def reporting_revisions(
        self,
        continuation_token: str | None,
        fields: list[str],
        include_deleted: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Pages of the project's revision stream, from a continuation token to the last batch.

        Sent through the SDK's `_send` and parsed here: the SDK's batch model maps
        no attribute, so its deserialised answer is empty. A page handing back a token
        already sent raises `UnexpectedResponseError` (`ContinuationTokenPaginator`).
        """
        action = "read the work item revisions"
        pager = ContinuationTokenPaginator(
            continuation_token, tracker="Azure DevOps", action=action
        )
        body = {"fields": fields, "includeDeleted": include_deleted, "includeIdentityRef": False}
        while pager.has_more():
            query = {"continuationToken": pager.token} if pager.token else {}
            with self.translate_errors(action):
                response = self.wit._send(
                    http_method="POST",
                    location_id=REPORTING_REVISIONS,
                    version="7.1-preview.2",
                    route_values={"project": self.project},
                    query_parameters=query,
                    content=body,
                )
                page = response.json()
            if not isinstance(page, dict) or "values" not in page:
                raise UnexpectedResponseError(
                    "Azure DevOps answered the revisions request without `values`"
                )
            next_token = page.get("continuationToken")
            pager.advance(
                str(next_token) if next_token else None, last=bool(page.get("isLastBatch", True))
            )
            yield page


def _short(exc: BaseException) -> str:
    """An SDK error's own text, cut short (transport errors go to `transport_error`)."""
    return str(exc)[:300]
