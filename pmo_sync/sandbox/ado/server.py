"""`AdoSandbox`: the sandbox Azure DevOps over real HTTP, for the unmodified SDK.

A stdlib `ThreadingHTTPServer` on 127.0.0.1 and a random port; `url` is the
organisation URL (`http://127.0.0.1:PORT/contoso`), what `azure.devops.connection.
Connection(base_url=...)` takes. Around the routes (`api.AdoApi`) it adds:

- authentication: basic with any user and the PAT. A wrong or missing PAT gets 401
  when the request carries `X-TFS-FedAuthRedirect: Suppress` (the SDK always sends
  it) and otherwise 203 with an HTML sign-in page, as the real service does. Route
  discovery (`OPTIONS …/_apis`, `_apis/ResourceAreas`) is anonymous, so a bad PAT
  shows at the first real call;
- fault injection (`inject`): 429 with Retry-After and the X-RateLimit-* headers,
  5xx, sign-in pages; `applied=True` carries the write out and then answers with the
  fault (a lost response);
- a log of every request with the status it got (`requests`, `writes`).

    with AdoSandbox() as sandbox:
        conn = Connection(base_url=sandbox.url, creds=BasicAuthentication("", sandbox.pat))
        wit = conn.clients_v7_1.get_work_item_tracking_client()

The SDK caches discovery on disk for 12 h, in `AZURE_DEVOPS_CACHE_DIR` as it was
when the SDK was first imported (`connectors.azure_devops` points it under
pmo-sync's cache directory; tests/conftest.py empties it per test).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from pmo_sync.sandbox.ado.api import AdoApi, ApiResponse, error_body
from pmo_sync.sandbox.ado.generator import AdoDataset, Person
from pmo_sync.sandbox.ado.process import AdoProcess
from pmo_sync.sandbox.harness import Fault, RecordedRequest, SandboxHarness

__all__ = ["SIGN_IN_PAGE", "AdoSandbox", "Fault", "RecordedRequest"]

SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body>"
    '<h1>Sign in to your account</h1><form action="https://login.microsoftonline.com/" '
    'method="post"><input name="loginfmt" type="email"></form></body></html>'
)
_ANONYMOUS = re.compile(r"/_apis(/resourceareas(/.*)?)?/?$", re.I)


class AdoSandbox(SandboxHarness):
    """A running sandbox Azure DevOps; a context manager that starts and stops the server."""

    NAME = "SandboxAzureDevOps"
    READ_ONLY_POST = re.compile(
        r"/_apis/wit/(wiql|workitemsbatch|reporting/workitemrevisions)/?$", re.I
    )
    PATH_FLAGS = re.I
    RATE_LIMIT_HEADERS = {
        "Retry-After": "1",
        "X-RateLimit-Resource": "ATCPU",
        "X-RateLimit-Delay": "1.5",
        "X-RateLimit-Limit": "200",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1800000000",
    }
    DEFAULT_FAULT_MESSAGES = {
        401: "TF400813: The user is not authorized to access this resource.",
        403: "TF400813: Access denied.",
        404: "The resource cannot be found.",
        429: "TF400733: The request has been throttled: the request rate exceeded the limit.",
        500: "VS402999: Internal server error.",
        502: "Bad gateway.",
        503: "TF400898: An Internal Error Occurred. Service unavailable.",
        504: "Gateway timeout.",
    }
    SIGN_IN_PAGE = SIGN_IN_PAGE
    HTML_CONTENT_TYPE = "text/html; charset=utf-8"
    JSON_CONTENT_TYPE = "application/json; charset=utf-8"
    RESPONSE = ApiResponse
    EXTRA_RESPONSE_HEADERS = {"ActivityId": "00000000-0000-0000-0000-000000000000"}
    RECORD_HEADERS = True
    INVALID_JSON_MESSAGE = "The request body is not valid JSON."

    def __init__(
        self,
        dataset: AdoDataset | None = None,
        *,
        seed: object = 7,
        size: int = 300,
        pat: str = "sandbox-pat",
        read_only_pat: str | None = None,
        wiql_cap: int = 20000,
        max_batch: int = 200,
        identity: Person | None = None,
        process: AdoProcess | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.dataset = dataset or AdoDataset.generate(seed=seed, size=size)
        self.pat = pat
        self.read_only_pat = read_only_pat  # reads only: every write answers 401 (PAT scope)
        self.api = AdoApi(
            self.dataset,
            wiql_cap=wiql_cap,
            max_batch=max_batch,
            identity=identity,
            process=process,  # which fields exist (`process.AdoProcess`: default, Agile + KPIs)
        )
        super().__init__(host, port)

    @property
    def url(self) -> str:
        """The organisation URL, e.g. http://127.0.0.1:PORT/contoso."""
        return f"{self.root_url}/{self.dataset.org}"

    @property
    def identity(self) -> Person:
        """Who the PAT belongs to: System.ChangedBy of every API write."""
        return self.api.identity

    # -- one request ---------------------------------------------------------------------------

    def _error_body(self, message: str) -> Any:
        return error_body(message, "VssServiceException")

    def _authenticated(self, header: str | None) -> bool:
        return self._token(header) in {self.pat, self.read_only_pat} - {None}

    @staticmethod
    def _token(header: str | None) -> str | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            return decoded.partition(":")[2]
        if scheme.lower() == "bearer":
            return value.strip()
        return None

    def _admit(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: Mapping[str, str],
    ) -> ApiResponse | str | None:
        """The PAT (None when absent or unreadable), or the refusal of a wrong one.

        Route discovery is anonymous, so a bad PAT shows at the first real call. Without
        `X-TFS-FedAuthRedirect: Suppress` the service answers a browser: 203 and a sign-in
        page, which a client that checks only for 4xx takes for success."""
        anonymous = method == "OPTIONS" or (method == "GET" and _ANONYMOUS.search(path))
        if anonymous or self._authenticated(headers.get("Authorization")):
            return self._token(headers.get("Authorization"))
        if (headers.get("X-TFS-FedAuthRedirect") or "").lower() == "suppress":
            return ApiResponse(
                401,
                "Access Denied: The Personal Access Token used has expired or is invalid.",
                {
                    "WWW-Authenticate": 'Basic realm="https://dev.azure.com/"',
                    "X-TFS-FedAuthRealm": "https://app.vssps.visualstudio.com/",
                },
                "text/plain; charset=utf-8",
            )
        return ApiResponse(203, SIGN_IN_PAGE, {}, "text/html; charset=utf-8")

    def _authorize(
        self, method: str, path: str, headers: Mapping[str, str], admitted: str | None
    ) -> ApiResponse | None:
        """The read-only PAT lacks the write scope: every write it makes answers 401."""
        if admitted is None or admitted != self.read_only_pat or not self._is_write(method, path):
            return None
        message = (
            "TF400813: The user 'pmo-bot@contoso.example' is not authorized to access this "
            "resource. The personal access token lacks the vso.work_write scope."
        )
        return ApiResponse(401, error_body(message, "UnauthorizedRequestException"))

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, admitted: str | None
    ) -> ApiResponse:
        return self.api.handle(method, path, query, body, self.url)
