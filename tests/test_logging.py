"""Logging: JSON and console output, bound context, and secrets masked on every path."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from pmo_sync.common.redaction import (
    MASK,
    clear_secrets,
    is_secret_key,
    redact_text,
    redact_value,
    register_secret,
)
from pmo_sync.logging import configure_logging, redact_secrets

TOKEN = "ATATT3xFfGF0-runtime-token-7c41"
BASIC = "cG1vLWJvdEBhY21lLmV4YW1wbGU6c2VjcmV0LXRva2Vu"  # base64 of email:token


@pytest.fixture(autouse=True)
def isolated_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    clear_secrets()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# --- which keys are secret ----------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "api_token",
        "access_token",
        "accessToken",
        "password",
        "db_password",
        "client_secret",
        "secret",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "Authorization",
        "proxy-authorization",
        "pat",
        "azure_pat",
        "cookie",
        "Set-Cookie",
        "auth",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["path", "pattern", "key", "issue_key", "author", "token_file", "name", "event", 3]
)
def test_ordinary_keys(key: object) -> None:
    assert not is_secret_key(key)


# --- structured values ---------------------------------------------------------------


def test_secret_keys_are_masked_at_any_depth() -> None:
    event = {
        "event": "request",
        "token": "t-1",
        "request": {
            "headers": {"Authorization": "Basic abc", "Accept": "application/json"},
            "params": [{"api_key": "k-1", "startAt": 0}, ("x", {"password": "p-1"})],
        },
        "has_token": True,
        "cookie": None,
    }
    assert redact_secrets(None, "info", event) == {
        "event": "request",
        "token": MASK,
        "request": {
            "headers": {"Authorization": MASK, "Accept": "application/json"},
            "params": [{"api_key": MASK, "startAt": 0}, ("x", {"password": MASK})],
        },
        "has_token": True,
        "cookie": None,
    }


def test_the_callers_objects_are_not_changed() -> None:
    headers = {"Authorization": "Bearer abcdefghijkl"}
    redact_value({"headers": headers})
    assert headers == {"Authorization": "Bearer abcdefghijkl"}


# --- text patterns ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Basic {BASIC}", "Authorization: Basic ***"),
        ("authorization=Bearer eyJhbGciOi.payload.sig", "authorization=Bearer ***"),
        ("{'Authorization': 'token-abc-123'}", "{'Authorization': '***'}"),
        (f"sent Basic {BASIC} to Jira", "sent Basic *** to Jira"),
        ("header Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "header Bearer ***"),
        ("Basic authentication is deprecated", "Basic authentication is deprecated"),
        ("Bearer token required", "Bearer token required"),
        (
            "postgresql+psycopg://pmo:s3cr3t-pw@db:5432/pmo",
            "postgresql+psycopg://pmo:***@db:5432/pmo",
        ),
        ("https://user:pw-1234@jira.example/rest", "https://user:***@jira.example/rest"),
        ("https://jira.example:8443/rest/api/2", "https://jira.example:8443/rest/api/2"),
        (
            "GET https://api.trello.com/1/boards?key=k-123&token=t-456&fields=name",
            "GET https://api.trello.com/1/boards?key=***&token=***&fields=name",
        ),
        (
            "/oauth?api_key=abc&access_token=def&startAt=50#top",
            "/oauth?api_key=***&access_token=***&startAt=50#top",
        ),
        (
            "/rest/api/2/search?jql=project%3DABC&maxResults=100",
            "/rest/api/2/search?jql=project%3DABC&maxResults=100",
        ),
        ("JiraAuth(token='abc123', user='bot')", "JiraAuth(token='***', user='bot')"),
        ("token=SecretStr('**********')", "token=SecretStr('**********')"),
    ],
)
def test_text_patterns(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_registered_secrets_are_masked_anywhere() -> None:
    assert redact_text(f"bad token {TOKEN}!") == f"bad token {TOKEN}!"
    register_secret(TOKEN)
    assert redact_text(f"bad token {TOKEN}!") == "bad token ***!"
    assert redact_text(f"prefix{TOKEN}suffix") == "prefix***suffix"
    assert redact_value({"detail": [f"x {TOKEN}"]}) == {"detail": ["x ***"]}


def test_url_encoded_form_of_a_registered_secret_is_masked() -> None:
    register_secret("a b/c+d=e")
    assert redact_text("/x?q=a%20b%2Fc%2Bd%3De") == "/x?q=***"
    assert redact_text("/x?q=a+b%2Fc%2Bd%3De") == "/x?q=***"


def test_very_short_values_are_not_registered() -> None:
    register_secret("abc")
    register_secret("")
    register_secret(None)
    assert redact_text("abc abc") == "abc abc"


def test_objects_whose_repr_holds_a_secret_are_replaced() -> None:
    register_secret(TOKEN)
    error = RuntimeError(f"401 for {TOKEN}")
    assert redact_value(error) == "RuntimeError('401 for ***')"
    harmless = RuntimeError("timeout")
    assert redact_value(harmless) is harmless


# --- the full pipeline ------------------------------------------------------------------


def test_json_lines_are_redacted_and_carry_context() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    structlog.contextvars.bind_contextvars(run_id="run-42")
    structlog.get_logger("pmo_sync.test").info(
        "calling",
        url=f"https://api.trello.com/1/cards?key=k-secret-1&token={TOKEN}",
        headers={"Authorization": f"Basic {BASIC}"},
        password="pw-secret-2",
    )
    output = stream.getvalue()
    for secret in ("k-secret-1", TOKEN, BASIC, "pw-secret-2"):
        assert secret not in output
    (line,) = json_lines(stream)
    assert line["event"] == "calling"
    assert line["level"] == "info"
    assert line["logger"] == "pmo_sync.test"
    assert line["run_id"] == "run-42"
    assert line["timestamp"].endswith("Z")
    assert line["url"] == "https://api.trello.com/1/cards?key=***&token=***"
    assert line["headers"] == {"Authorization": MASK}
    assert line["password"] == MASK


def test_exception_with_a_registered_token_is_redacted_in_json() -> None:
    register_secret(TOKEN)
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    log = structlog.get_logger("pmo_sync.test")
    try:
        raise RuntimeError(f"Jira rejected token {TOKEN}")
    except RuntimeError as exc:
        log.exception("sync_failed", error=exc, detail=str(exc))
    assert TOKEN not in stream.getvalue()
    (line,) = json_lines(stream)
    assert "RuntimeError: Jira rejected token ***" in line["exception"]
    assert "Traceback" in line["exception"]
    assert line["error"] == "RuntimeError('Jira rejected token ***')"
    assert line["detail"] == "Jira rejected token ***"


def test_stdlib_loggers_are_redacted() -> None:
    register_secret(TOKEN)
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream=stream)
    structlog.contextvars.bind_contextvars(run_id="run-7")
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    urllib3_log.debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "api.trello.com",
        443,
        "GET",
        "/1/boards/abc/cards?key=k-secret-1&token=t-secret-2",
        "HTTP/1.1",
        200,
        None,
    )
    jira_log = logging.getLogger("jira")
    try:
        raise ValueError(f"cannot use {TOKEN}")
    except ValueError:
        jira_log.exception("Authorization: Bearer %s failed", "abcdefghijklmnop")
    output = stream.getvalue()
    for secret in ("k-secret-1", "t-secret-2", TOKEN, "abcdefghijklmnop"):
        assert secret not in output
    first, second = json_lines(stream)
    assert first["logger"] == "urllib3.connectionpool"
    assert first["level"] == "debug"
    assert first["run_id"] == "run-7"
    assert "?key=***&token=***" in first["event"]
    assert second["event"] == "Authorization: Bearer *** failed"
    assert "ValueError: cannot use ***" in second["exception"]


def test_console_output_is_redacted_including_tracebacks() -> None:
    register_secret(TOKEN)
    stream = io.StringIO()
    configure_logging("console", "INFO", stream=stream)
    log = structlog.get_logger("pmo_sync.test")
    log.info("connect", token="plain-secret-9", url="https://bot:pw-secret-8@jira.example/")
    try:
        raise RuntimeError(f"boom {TOKEN}")
    except RuntimeError:
        log.exception("failed")
    logging.getLogger("jira").warning("retrying with %s", TOKEN)
    output = stream.getvalue()
    for secret in ("plain-secret-9", "pw-secret-8", TOKEN):
        assert secret not in output
    assert "RuntimeError: boom ***" in output
    assert "retrying with ***" in output
    assert "\x1b[" not in output  # no colours when the stream is not a terminal


def test_level_filters_structlog_and_stdlib() -> None:
    stream = io.StringIO()
    configure_logging("json", "WARNING", stream=stream)
    structlog.get_logger("a").info("hidden")
    logging.getLogger("b").info("hidden")
    structlog.get_logger("a").warning("shown")
    assert [line["event"] for line in json_lines(stream)] == ["shown"]


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", "INFO", stream=first)
    configure_logging("json", "INFO", stream=second)
    structlog.get_logger().info("once")
    assert first.getvalue() == ""
    assert [line["event"] for line in json_lines(second)] == ["once"]


def test_unknown_format_or_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log format must be 'json' or 'console'"):
        configure_logging("xml", "INFO", stream=io.StringIO())
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("json", "LOUD", stream=io.StringIO())
