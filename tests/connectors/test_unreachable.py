"""A tracker nothing answers for: one attempt, one line; a dropped answer: retried, one line.

Every connector's client, against real sockets on 127.0.0.1: a port where nothing
listens (connection refused), a host that does not resolve, a listener that accepts
each connection and closes it unanswered (dropped mid-answer), a listener that never
answers (timed out). Connection attempts are counted where they start, in
`socket.getaddrinfo` (urllib3 resolves once per connection it opens), and by the
listeners' accepts.

Host names under `.invalid` (RFC 2606) never resolve; the resolver is patched to
refuse them at once, as a real one does (0.1 s here, but a machine without DNS could
take the resolver's whole timeout).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import urllib3
from pydantic import SecretStr
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProtocolError

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from connectors.base import CheckResult, Connector
from connectors.errors import TrackerUnreachableError, WriteOutcomeUnknownError
from connectors.http import (
    CallStats,
    TransportFailure,
    describe_transport_failure,
    install_http_policy,
    public_url,
)
from connectors.jira import JiraConfig, JiraConnector
from connectors.trello import TrelloClient, TrelloConfig, TrelloConnector
from pmo_sync.common.redaction import clear_secrets

UNREACHABLE = "is the url right and the tracker up?"
DROPPED = "try again later; if it keeps happening, a proxy may be cutting connections"
SLOW = "try again later, or raise timeout_seconds if the tracker is only slow"


# -- sockets and the resolver ------------------------------------------------------------------


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (host, port) resolved from now on; `.invalid` hosts fail as unknown names."""
    real = socket.getaddrinfo
    seen: list[tuple[str, int]] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((str(host), int(port)))
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return seen


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound once to find it, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Listener:
    """Accepts connections on 127.0.0.1; reads each request's head, then closes it unanswered
    (`close_unanswered=False` keeps it open without a byte: the client times out)."""

    close_unanswered: bool = True
    reply: bytes = b""  # sent before closing: a plain HTTP answer where TLS was expected
    accepted: int = 0
    _sock: socket.socket = field(default_factory=socket.socket)
    _open: list[socket.socket] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            head = b""
            while b"\r\n\r\n" not in head and not (self.reply and head):  # a TLS hello: once
                chunk = conn.recv(65536)
                if not chunk:
                    break
                head += chunk
            if self.close_unanswered:
                conn.sendall(self.reply)
                conn.close()
            else:
                self._open.append(conn)

    def close(self) -> None:
        """Stop accepting (the thread blocked in accept() is woken and ends) and close
        everything: a listening socket merely closed under a thread still in accept() would
        leave that thread behind, and its descriptor's number to the next socket made."""
        with contextlib.suppress(OSError):  # not listening any more
            self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._sock.close()
        for conn in self._open:
            conn.close()


@pytest.fixture
def dropping() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def plain_http() -> Iterator[Listener]:
    listener = Listener(reply=b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    yield listener
    listener.close()


@pytest.fixture
def silent() -> Iterator[Listener]:
    listener = Listener(close_unanswered=False)
    yield listener
    listener.close()


# -- the connectors, configured for a URL --------------------------------------------------------


def _tag() -> str:
    return uuid.uuid4().hex[:10]  # the Trello pacer's windows are per credential, process-wide


def jira(url: str, **extra: Any) -> Connector:
    data = {
        "name": "acme-jira",
        "url": url,
        "email": "bot@example.com",
        "token": SecretStr(f"reach-jira-{_tag()}"),
        "jql": "project = ABC",
        **extra,
    }
    return JiraConnector(JiraConfig.model_validate(data))


def ado(url: str, **extra: Any) -> Connector:
    data = {
        "name": "contoso-ado",
        "organization_url": f"{url}/contoso",
        "token": SecretStr(f"reach-ado-{_tag()}"),
        "project": "Fabrikam",
        **extra,
    }
    return AzureDevOpsConnector(AzureDevOpsConfig.model_validate(data))


def trello(url: str, **extra: Any) -> Connector:
    data = {
        "name": "acme-trello",
        "url": url,
        "api_key": SecretStr(f"reach-key-{_tag()}"),
        "token": SecretStr(f"reach-token-{_tag()}"),
        "boards": ["Team Alpha"],
        **extra,
    }
    return TrelloConnector(TrelloConfig.model_validate(data))


MakeConnector = Callable[..., Connector]
TRACKERS: dict[str, tuple[MakeConnector, str, str]] = {
    # kind: (connector, tracker's name in messages, path after the url in messages)
    "jira": (jira, "Jira", ""),
    "azure_devops": (ado, "Azure DevOps", "/contoso"),
    "trello": (trello, "Trello", ""),
}
READ_ACTION = {
    # What each connector's check asks first, as its message names it.
    "jira": "read the API user (/myself)",
    "azure_devops": "discover the API areas",
    "trello": "read the token's member (/members/me)",
}


@pytest.fixture(autouse=True)
def _forget_secrets(cold_ado_sdk_cache: None) -> Iterator[None]:
    """A cold Azure DevOps route cache (no earlier test's URL), and no secrets left behind."""
    yield
    clear_secrets()


@pytest.fixture(params=sorted(TRACKERS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- nothing reached: one attempt ------------------------------------------------------------


def test_connection_refused_is_one_attempt_and_one_reach_line(
    kind: str, free_port: int, lookups: list[tuple[str, int]]
) -> None:
    make, tracker, path = TRACKERS[kind]
    url = f"http://127.0.0.1:{free_port}"
    with make(url, max_retries=3) as connector:
        report = connector.check()
    assert report.results == [
        CheckResult(
            "reach",
            False,
            f"cannot reach {tracker} at {url}{path} (connection refused): {UNREACHABLE}",
        )
    ]
    assert lookups.count(("127.0.0.1", free_port)) == 1  # one attempt, no retry
    assert (connector.stats.api_calls, connector.stats.retries) == (1, 0)


def test_a_host_that_does_not_resolve_is_one_attempt_and_one_reach_line(
    kind: str, lookups: list[tuple[str, int]]
) -> None:
    make, tracker, path = TRACKERS[kind]
    with make("https://tracker.example.invalid", max_retries=3) as connector:
        report = connector.check()
    assert report.results == [
        CheckResult(
            "reach",
            False,
            f"cannot reach {tracker} at https://tracker.example.invalid{path} "
            f"(host not found: tracker.example.invalid): {UNREACHABLE}",
        )
    ]
    assert lookups == [("tracker.example.invalid", 443)]
    assert (connector.stats.api_calls, connector.stats.retries) == (1, 0)


# -- reached, then lost: retried, then one line ------------------------------------------------


def test_a_connection_dropped_mid_answer_is_retried_then_one_line(
    kind: str, dropping: Listener
) -> None:
    make, tracker, path = TRACKERS[kind]
    with make(dropping.url, max_retries=2, max_retry_wait_seconds=0) as connector:
        report = connector.check()
    assert report.results == [
        CheckResult(
            "reach",
            False,
            f"{tracker} at {dropping.url}{path} did not answer while trying to "
            f"{READ_ACTION[kind]} (connection dropped mid-answer; tried 3 times): {DROPPED}",
        )
    ]
    assert dropping.accepted == 3  # the first attempt and its two retries
    assert (connector.stats.api_calls, connector.stats.retries) == (3, 2)


def test_a_tracker_that_never_answers_times_out_retried_then_one_line(
    kind: str, silent: Listener
) -> None:
    make, tracker, path = TRACKERS[kind]
    extra = {"max_retries": 1, "max_retry_wait_seconds": 0, "timeout_seconds": 0.2}
    with make(silent.url, **extra) as connector:
        report = connector.check()
    assert report.results == [
        CheckResult(
            "reach",
            False,
            f"{tracker} at {silent.url}{path} did not answer while trying to "
            f"{READ_ACTION[kind]} (timed out after 0.2 s; tried 2 times): {SLOW}",
        )
    ]
    assert silent.accepted == 2


def test_a_trello_post_refused_was_never_sent_but_one_dropped_may_have_been(
    free_port: int, dropping: Listener
) -> None:
    """A write nothing reached is safe to send again; one dropped mid-answer is not retried
    and says it may have been carried out."""
    card = "5f0c0ffee0c0ffee0c0ffee0"
    refused = trello_client(f"http://127.0.0.1:{free_port}")
    with refused, pytest.raises(TrackerUnreachableError) as caught:
        refused.add_comment(card, "hello")
    assert not isinstance(caught.value, WriteOutcomeUnknownError)
    lost = trello_client(dropping.url)
    with lost, pytest.raises(WriteOutcomeUnknownError) as unknown:
        lost.add_comment(card, "hello")
    assert str(unknown.value) == (
        f"Trello at {dropping.url} did not answer while trying to comment on card {card} "
        "(connection dropped mid-answer): it may have been carried out; check before sending "
        "it again"
    )
    assert dropping.accepted == 1  # a POST is never re-sent after it may have arrived


def trello_client(url: str) -> TrelloClient:
    connector = trello(url, max_retries=3)
    assert isinstance(connector, TrelloConnector)
    return TrelloClient(connector.config, CallStats())


# -- the words, from the exception alone ---------------------------------------------------------


def _raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


def _session(retries: int = 0) -> requests.Session:
    session = requests.Session()
    install_http_policy(session, CallStats(), timeout=0.2, max_retries=retries, max_retry_wait=0)
    return session


def test_each_failure_is_worded_without_library_text(
    free_port: int,
    lookups: list[tuple[str, int]],
    dropping: Listener,
    silent: Listener,
    plain_http: Listener,
) -> None:
    session = _session()
    https_on_http = plain_http.url.replace("http://", "https://")
    cases = {
        "refused": _raised(lambda: session.get(f"http://127.0.0.1:{free_port}/x")),
        "dns": _raised(lambda: session.get("http://jira.example.invalid/x")),
        "dropped": _raised(lambda: session.get(f"{dropping.url}/x")),
        "slow": _raised(lambda: session.get(f"{silent.url}/x")),
        "https on an http port": _raised(lambda: session.get(f"{https_on_http}/x")),
        "connect timeout": requests.exceptions.ConnectTimeout(
            MaxRetryError(
                urllib3.HTTPConnectionPool("10.0.0.1"),
                "/x",
                ConnectTimeoutError(None, "Connection to 10.0.0.1 timed out. (connect timeout=30)"),
            )
        ),
        "dropped, bare": requests.exceptions.ConnectionError(
            ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))
        ),
        "cut off": requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
    }
    worded = {
        name: describe_transport_failure(exc, host="jira.example.invalid", timeout=30)
        for name, exc in cases.items()
    }
    assert worded == {
        "refused": TransportFailure("connection refused", False, UNREACHABLE),
        "dns": TransportFailure("host not found: jira.example.invalid", False, UNREACHABLE),
        "dropped": TransportFailure("connection dropped mid-answer", True, DROPPED),
        "slow": TransportFailure("timed out after 30 s", True, SLOW),
        "https on an http port": TransportFailure(
            "TLS handshake failed",
            False,
            "is the url right, and does this machine trust the tracker's certificate "
            "(REQUESTS_CA_BUNDLE)?",
        ),
        "connect timeout": TransportFailure("no connection within 30 s", False, UNREACHABLE),
        "dropped, bare": TransportFailure("connection dropped mid-answer", True, DROPPED),
        "cut off": TransportFailure("connection dropped mid-answer", True, DROPPED),
    }


def test_a_url_is_shown_without_password_query_or_trailing_slash() -> None:
    assert (
        public_url("https://bot:s3cret@jira.example.com:8443/jira/?token=abc#x")
        == "https://jira.example.com:8443/jira"
    )
    assert public_url("https://api.trello.com/") == "https://api.trello.com"
    assert public_url("http://user:pw@[::1]:8080/org") == "http://[::1]:8080/org"
