"""`TrelloSandbox`: the sandbox Trello over real HTTP, with Trello's authentication and limits.

A stdlib `ThreadingHTTPServer` on 127.0.0.1 and a random port; `url` is the API
base (`http://127.0.0.1:PORT/1`, what `https://api.trello.com/1` is for the real
service). Around the routes (`api.TrelloApi`) it adds:

- authentication by the `key` and `token` query (or body) parameters, or an
  `Authorization: OAuth oauth_consumer_key="...", oauth_token="..."` header. A
  wrong key answers 401 `invalid key`, a wrong token 401 `invalid token`, a
  missing one 401 `unauthorized permission requested` — plain text, as Trello.
  Each token belongs to a member (`token_for(person)` makes one), who authors
  that token's writes and is the only one who may edit or delete their comments;
- Trello's rate limits: 100 requests per 10 s per token and 300 per 10 s per key,
  as sliding windows (`token_limit`, `key_limit`, `rate_window_seconds`, and a
  `rate_clock` a test can drive; None turns a limit off). Over a limit: 429 with
  `{"message": ..., "error": "API_TOKEN_LIMIT_EXCEEDED"}` (or API_KEY_…), and no
  Retry-After: the official docs promise none, so a client must pace itself.
  Every answer carries `x-rate-limit-api-token-*` / `x-rate-limit-api-key-*`
  headers (interval-ms, max, remaining). Refused requests do not count;
- fault injection (`inject`) and stalls (`hold`) from the harness: an injected
  429 gets the token-limit body and headers; `applied=True` carries the write
  out first (a lost response);
- a log of every request with the status it got (`requests`, `writes`).

    with TrelloSandbox() as sandbox:
        requests.get(f"{sandbox.url}/members/me/boards",
                     params={"key": sandbox.key, "token": sandbox.token})
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote

from pmo_sync.sandbox.harness import Fault, RecordedRequest, SandboxHarness
from pmo_sync.sandbox.trello.api import (
    JSON_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    ApiResponse,
    TrelloApi,
)
from pmo_sync.sandbox.trello.generator import Member, TrelloDataset

__all__ = [
    "KEY_LIMIT_EXCEEDED",
    "RATE_LIMIT_MESSAGE",
    "TOKEN_LIMIT_EXCEEDED",
    "Fault",
    "RateLimiter",
    "RecordedRequest",
    "TrelloSandbox",
]

TOKEN_LIMIT_EXCEEDED = "API_TOKEN_LIMIT_EXCEEDED"
KEY_LIMIT_EXCEEDED = "API_KEY_LIMIT_EXCEEDED"
RATE_LIMIT_MESSAGE = "Rate limit exceeded"
SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Log in to Trello</title></head><body>"
    '<h1>Log in to continue to Trello</h1><form action="https://id.atlassian.com/login" '
    'method="post"><input name="username" type="email"></form></body></html>'
)
_OAUTH_PAIR = re.compile(r'(\w+)="([^"]*)"')


class RateLimiter:
    """Sliding windows of admitted requests per token and per key (Trello's two limits).

    `clock` is any monotonic seconds source: time.monotonic, or a test's fake."""

    def __init__(
        self,
        token_limit: int | None = 100,
        key_limit: int | None = 300,
        window_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_limit = token_limit
        self.key_limit = key_limit
        self.window_seconds = window_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._by_token: dict[str, deque[float]] = {}
        self._by_key: dict[str, deque[float]] = {}

    def admit(self, key: str, token: str) -> tuple[str | None, dict[str, str]]:
        """(None, headers) when the request may go on; (the error name, headers) when not."""
        with self._lock:
            now = self.clock()
            token_hits = self._window(self._by_token, token, now)
            key_hits = self._window(self._by_key, key, now)
            refused = None
            if self.token_limit is not None and len(token_hits) >= self.token_limit:
                refused = TOKEN_LIMIT_EXCEEDED
            elif self.key_limit is not None and len(key_hits) >= self.key_limit:
                refused = KEY_LIMIT_EXCEEDED
            else:
                token_hits.append(now)
                key_hits.append(now)
            return refused, self._headers(len(token_hits), len(key_hits))

    def _window(self, table: dict[str, deque[float]], name: str, now: float) -> deque[float]:
        hits = table.setdefault(name, deque())
        while hits and hits[0] <= now - self.window_seconds:
            hits.popleft()
        return hits

    def _headers(self, token_used: int, key_used: int) -> dict[str, str]:
        interval = str(round(self.window_seconds * 1000))
        headers: dict[str, str] = {}
        for scope, limit, used in (
            ("token", self.token_limit, token_used),
            ("key", self.key_limit, key_used),
        ):
            if limit is None:
                continue
            headers[f"x-rate-limit-api-{scope}-interval-ms"] = interval
            headers[f"x-rate-limit-api-{scope}-max"] = str(limit)
            headers[f"x-rate-limit-api-{scope}-remaining"] = str(max(0, limit - used))
        return headers


class _Admitted(NamedTuple):
    """What `TrelloSandbox._admit` hands on: whose token, the request's parameters (body and
    query), and the rate headers every admitted answer carries."""

    member: Member
    params: dict[str, Any]
    rate_headers: dict[str, str]


def rate_limit_body(error: str) -> dict[str, str]:
    """Trello's 429 body: which limit in `error`."""
    return {"message": RATE_LIMIT_MESSAGE, "error": error}


class TrelloSandbox(SandboxHarness):
    """A running sandbox Trello; a context manager that starts and stops the server."""

    NAME = "SandboxTrello"
    READ_ONLY_POST = re.compile(r"(?!)")  # every Trello POST writes
    RATE_LIMIT_HEADERS = {
        "x-rate-limit-api-token-interval-ms": "10000",
        "x-rate-limit-api-token-max": "100",
        "x-rate-limit-api-token-remaining": "0",
        "x-rate-limit-api-key-interval-ms": "10000",
        "x-rate-limit-api-key-max": "300",
        "x-rate-limit-api-key-remaining": "0",
    }
    DEFAULT_FAULT_MESSAGES = {
        400: "invalid request",
        401: "unauthorized permission requested",
        403: "forbidden",
        404: "The requested resource was not found.",
        429: RATE_LIMIT_MESSAGE,
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    SIGN_IN_PAGE = SIGN_IN_PAGE
    # The harness sends str bodies with this type: Trello's are plain text, not HTML.
    HTML_CONTENT_TYPE = TEXT_CONTENT_TYPE
    JSON_CONTENT_TYPE = JSON_CONTENT_TYPE
    RESPONSE = ApiResponse
    INVALID_JSON_MESSAGE = "Invalid JSON"

    def __init__(
        self,
        dataset: TrelloDataset | None = None,
        *,
        seed: object = 7,
        cards_per_board: int = 150,
        key: str = "sandbox-key",
        token: str = "sandbox-token",
        tokens: Mapping[str, Member | str] | None = None,
        token_limit: int | None = 100,
        key_limit: int | None = 300,
        rate_window_seconds: float = 10.0,
        rate_clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`token` belongs to the bot member; `tokens` maps more tokens to members (or
        usernames). The rate limits default to Trello's."""
        self.dataset = dataset or TrelloDataset.generate(seed=seed, cards_per_board=cards_per_board)
        self.key = key
        self.token = token
        self._tokens: dict[str, Member] = {token: self.dataset.bot}
        for extra, who in (tokens or {}).items():
            self._tokens[extra] = self.dataset.member(who)
        self.limiter = RateLimiter(token_limit, key_limit, rate_window_seconds, rate_clock)
        self.api = TrelloApi(self.dataset)
        super().__init__(host, port)

    @property
    def url(self) -> str:
        """The API base, e.g. http://127.0.0.1:PORT/1 (https://api.trello.com/1 for real)."""
        return f"{self.root_url}/1"

    @property
    def member(self) -> Member:
        """Who `token` belongs to: the bot, author of the default token's writes."""
        return self.dataset.bot

    @property
    def auth(self) -> dict[str, str]:
        """The default credentials as query parameters."""
        return {"key": self.key, "token": self.token}

    def token_for(self, who: Member | str) -> str:
        """A token of `who` (a member or username), made on first use."""
        member = self.dataset.member(who)
        token = f"sandbox-token-{member.username}"
        with self._lock:
            self._tokens[token] = member
        return token

    # -- one request ---------------------------------------------------------------------------

    def _error_body(self, message: str) -> Any:
        if message == RATE_LIMIT_MESSAGE:
            return rate_limit_body(TOKEN_LIMIT_EXCEEDED)
        return message  # Trello's errors are plain text

    @staticmethod
    def _credentials(
        params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> tuple[str | None, str | None]:
        key, token = params.get("key"), params.get("token")
        header = headers.get("Authorization") or ""
        if header[:6].lower() == "oauth ":
            pairs = dict(_OAUTH_PAIR.findall(header))
            key = key or unquote(pairs.get("oauth_consumer_key", "")) or None
            token = token or unquote(pairs.get("oauth_token", "")) or None
        return (
            key if isinstance(key, str) else None,
            token if isinstance(token, str) else None,
        )

    def _form_body(self, headers: Mapping[str, str], raw_body: bytes) -> dict[str, str] | None:
        """Trello takes form-encoded parameters as well as JSON (the last of a repeated name)."""
        content_type = (headers.get("Content-Type") or "").lower()
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return None
        form = parse_qs(raw_body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in form.items()}

    def _admit(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: Mapping[str, str],
    ) -> ApiResponse | _Admitted:
        """Key, then token, then the rate limits; the request's parameters are the body's
        overlaid with the query's, where the credentials may be too. Only admitted
        requests count against the limits."""
        params: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
        params.update({k: v[-1] for k, v in query.items() if v})
        key, token = self._credentials(params, headers)
        if key != self.key:
            return ApiResponse(401, "invalid key")
        if not token:
            return ApiResponse(401, "unauthorized permission requested")
        with self._lock:
            member = self._tokens.get(token)
        if member is None:
            return ApiResponse(401, "invalid token")
        refused, rate_headers = self.limiter.admit(key, token)
        if refused is not None:
            return ApiResponse(429, rate_limit_body(refused), rate_headers)
        return _Admitted(member, params, rate_headers)

    def _invalid_json(self, admitted: _Admitted) -> ApiResponse:
        """Past the rate limiter, so it carries the rate headers like any answer."""
        return ApiResponse(400, self.INVALID_JSON_MESSAGE, admitted.rate_headers)

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, admitted: _Admitted
    ) -> ApiResponse:
        response = self.api.handle(method, unquote(path), admitted.params, admitted.member)
        response.headers.update(admitted.rate_headers)
        return response
