"""`JiraSandbox`: the sandbox Jira over real HTTP, for the real `jira` client.

A stdlib `ThreadingHTTPServer` on 127.0.0.1 and a random port. On top of the
endpoints (`api.JiraApi`) it adds what a test needs around them: basic
(and, in server mode, bearer) authentication, fault injection — 429s with
Retry-After, 5xx, an HTML sign-in page served with 200, 403s — and a log of
every request with the status it got.

Faults work for writes too: `inject(method="PUT", path=r"/issue/ABC-1$", status=429)`
refuses the edit, while `applied=True` carries the write out and *then* answers
with the fault (a 504 after the comment was stored), which is how a retrying
client ends up with duplicate comments. `writes` is the log of state-changing
requests (POST/PUT/DELETE, minus the read-only POST searches).

    with JiraSandbox(forbidden_projects={"GHI"}) as sandbox:
        client = jira.JIRA(sandbox.url, basic_auth=sandbox.basic_auth)
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping
from typing import Any

from pmo_sync.sandbox.harness import Fault, RecordedRequest, SandboxHarness
from pmo_sync.sandbox.jira.api import JSON_CONTENT_TYPE, ApiResponse, JiraApi, error_body
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.model import User

__all__ = ["SIGN_IN_PAGE", "Fault", "JiraSandbox", "RecordedRequest"]

SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
    '<h1>Sign in to continue</h1><form action="/login" method="post">'
    '<input name="username"><input name="password" type="password"></form></body></html>'
)


class JiraSandbox(SandboxHarness):
    """A running sandbox Jira; a context manager that starts and stops the server."""

    NAME = "SandboxJira"
    # POSTs that only read: searches, counts and bulk changelog fetches.
    READ_ONLY_POST = re.compile(
        r"^/rest/api/[23]/(search(/jql|/approximate-count)?|changelog/bulkfetch)/?$"
    )
    DEFAULT_FAULT_MESSAGES = {
        401: "Client must be authenticated to access this resource.",
        403: "You do not have permission to access this resource.",
        404: "The requested resource does not exist.",
        429: "Rate limit exceeded.",
        500: "Internal server error.",
        502: "Bad gateway.",
        503: "Service unavailable. Please try again later.",
        504: "Gateway timeout.",
    }
    SIGN_IN_PAGE = SIGN_IN_PAGE
    HTML_CONTENT_TYPE = "text/html;charset=UTF-8"
    JSON_CONTENT_TYPE = JSON_CONTENT_TYPE
    RESPONSE = ApiResponse
    INVALID_JSON_MESSAGE = (
        "Invalid request payload. Refer to the REST API documentation and try again."
    )

    def __init__(
        self,
        dataset: JiraDataset | None = None,
        *,
        seed: object = 7,
        issues_per_project: int = 100,
        deployment: str = "cloud",
        email: str = "pmo-bot@acme.example",
        token: str = "sandbox-token",
        forbidden_projects: Collection[str] = frozenset(),
        admin: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`admin`: whether the API user has the Administer Jira global permission
        (needed for POST /field and POST /screens/addToDefault/{fieldId})."""
        self.dataset = dataset or JiraDataset.generate(
            seed=seed, issues_per_project=issues_per_project
        )
        self.deployment = deployment
        self.email = email
        self.token = token
        self.api = JiraApi(
            self.dataset,
            deployment=deployment,
            email=email,
            forbidden_projects=frozenset(forbidden_projects),
            admin=admin,
        )
        super().__init__(host, port)

    @property
    def url(self) -> str:
        return self.root_url

    @property
    def basic_auth(self) -> tuple[str, str]:
        """(email, token), as `jira.JIRA(basic_auth=...)` takes it."""
        return (self.email, self.token)

    @property
    def api_user(self) -> User:
        """The API user (the bot): author of every write made through the API."""
        return self.api.api_user

    @property
    def account_id(self) -> str:
        """The API user's accountId, as /myself reports it."""
        return self.api.api_user.account_id

    # -- one request -----------------------------------------------------------------------

    def _error_body(self, message: str) -> Any:
        return error_body(message)

    def _authenticated(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.email}:{self.token}"
        if scheme == "bearer" and self.deployment == "server":
            return value.strip() == self.token
        return False

    def _admit(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: Mapping[str, str],
    ) -> ApiResponse | None:
        """Basic auth (bearer too, in server mode); Jira's 401 names the realm and the reason."""
        if self._authenticated(headers.get("Authorization")):
            return None
        return ApiResponse(
            401,
            error_body("Client must be authenticated to access this resource."),
            {
                "WWW-Authenticate": 'Basic realm="protected-area"',
                "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
            },
        )

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, admitted: None
    ) -> ApiResponse:
        return self.api.handle(method, path, query, body, self.url)
