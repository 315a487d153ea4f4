"""Structured logging for the CLI and the service, with secrets masked on every line.

Everything — structlog events and the stdlib loggers of the tracker libraries
(`jira`, `urllib3`, `requests`) — goes through one `ProcessorFormatter`, so a
single processor chain adds timestamps and the bound context (the run id of a
sync) and masks secrets before anything is rendered:

- values under keys that name a secret (`token`, `password`, `api_key`,
  `Authorization`, `cookie`, `pat`, ...), at any depth;
- `Authorization: Basic ...` / `Bearer ...` text, `user:password@` in URLs and
  secret-looking query parameters (`?token=...&key=...`), wherever they occur
  in text — urllib3 logs full request URLs, Trello puts its key and token in
  the query string;
- every secret value known at runtime: config loading calls `register_secret`
  for each resolved `SecretStr`, so a token echoed back in an exception message
  or a traceback is masked even though no pattern could recognise it.

Exceptions are rendered to text *before* the masking runs, so a traceback is
masked like any other value.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

import structlog
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

__all__ = [
    "MASK",
    "clear_secrets",
    "configure_logging",
    "is_secret_key",
    "redact_secrets",
    "redact_text",
    "redact_value",
    "register_secret",
]

MASK = "***"
_MIN_SECRET_LENGTH = 4
"""Shorter values are not registered: masking every 'abc' would garble logs and protect nothing."""

_HANDLER_MARK = "_pmo_sync_handler"

# --- which keys hold secrets -------------------------------------------------

_SECRET_WORDS = frozenset(
    {
        "token",
        "password",
        "passwd",
        "pwd",
        "secret",
        "authorization",
        "auth",
        "cookie",
        "pat",
        "apikey",
        "credential",
        "credentials",
    }
)
_SECRET_COMPOUNDS = ("apikey", "accesskey", "privatekey", "secretkey", "sessionid")
_NOT_SECRET_SUFFIXES = frozenset({"file", "path", "env", "var"})
"""`token_file: /run/secrets/jira` is where the secret lives, not the secret."""
_SECRET_QUERY_PARAMS = frozenset({"key", "sig", "signature", "code"})
"""Query parameters that carry secrets without saying so (Trello's `key`, signed URLs)."""

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def is_secret_key(key: object) -> bool:
    """True when a key like `api_token`, `X-Api-Key` or `accessToken` names a secret.

    Keys are split into words, so `path` or `pattern` never match `pat`.
    """
    if not isinstance(key, str):
        return False
    words = [w for w in _NON_ALNUM.split(_CAMEL_BOUNDARY.sub("_", key).lower()) if w]
    if not words or words[-1] in _NOT_SECRET_SUFFIXES:
        return False
    if _SECRET_WORDS.intersection(words):
        return True
    joined = "".join(words)
    return any(compound in joined for compound in _SECRET_COMPOUNDS)


# --- secrets known at runtime ------------------------------------------------

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secrets_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Mask `value` (and its URL-encoded forms) wherever it later appears in a log line."""
    global _secrets_pattern
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    variants = {value, quote(value, safe=""), quote_plus(value)}
    with _secrets_lock:
        if variants <= _secrets:
            return
        _secrets.update(variants)
        ordered = sorted(_secrets, key=len, reverse=True)  # longest first: no partial masks
        _secrets_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def clear_secrets() -> None:
    """Forget every registered secret (for tests, and a process that reloads its configs)."""
    global _secrets_pattern
    with _secrets_lock:
        _secrets.clear()
        _secrets_pattern = None


# --- masking text ------------------------------------------------------------

_SCHEMES = frozenset({"basic", "bearer", "token", "digest", "negotiate", "ntlm"})
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
    rf"(?:(?P<scheme>{'|'.join(sorted(_SCHEMES))})\s+)?"
    r"(?P<value>[^\s\"',;}\]]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<scheme>bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE)
_BASIC = re.compile(r"\b(?P<scheme>Basic)\s+[A-Za-z0-9+/]{16,}={0,2}")
_URL_USERINFO = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@\"']*):(?P<password>[^/\s@\"']+)@"
)
_QUERY_PARAM = re.compile(r"(?P<head>[?&](?P<name>[^=&#\s?\"']+)=)(?P<value>[^&#\s\"'<>]+)")
_ASSIGNMENT = re.compile(
    r"(?P<head>\b(?P<name>[A-Za-z_][A-Za-z0-9_\-]*)\s*=\s*[\"']?)"
    r"(?P<value>[^\s\"'&,;()]++)(?!\()"  # not `token=SecretStr(...)`: already masked
)


def _mask_auth_header(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    return f"{match.group('head')}{scheme} {MASK}" if scheme else f"{match.group('head')}{MASK}"


def _mask_query_param(match: re.Match[str]) -> str:
    name = match.group("name")
    if is_secret_key(name) or name.lower() in _SECRET_QUERY_PARAMS:
        return f"{match.group('head')}{MASK}"
    return match.group(0)


def _mask_assignment(match: re.Match[str]) -> str:
    value = match.group("value")
    # `authorization=Bearer ***` was masked by the header pattern; keep its scheme
    if is_secret_key(match.group("name")) and value != MASK and value.lower() not in _SCHEMES:
        return f"{match.group('head')}{MASK}"
    return match.group(0)


def redact_text(text: str) -> str:
    """Mask registered secrets, auth headers, URL passwords, secret query parameters
    and `token=...`-style assignments (the repr of an object holding a plain-str secret)."""
    pattern = _secrets_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _AUTH_HEADER.sub(_mask_auth_header, text)
    text = _BEARER.sub(lambda m: f"{m.group('scheme')} {MASK}", text)
    text = _BASIC.sub(lambda m: f"{m.group('scheme')} {MASK}", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    text = _QUERY_PARAM.sub(_mask_query_param, text)
    return _ASSIGNMENT.sub(_mask_assignment, text)


# --- masking structured values -----------------------------------------------


def redact_value(value: Any) -> Any:
    """A copy of `value` with secret keys masked and every string passed through `redact_text`.

    Containers are copied, never changed in place: they may be the caller's own
    objects. Any other object is left as is unless its repr holds a secret (an
    exception whose message echoes a token), in which case the masked repr
    replaces it.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return redact_value(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {k: _redact_item(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact_value(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return _redact_object(value)


def _redact_item(key: object, value: Any) -> Any:
    if is_secret_key(key) and value is not None and not isinstance(value, bool):
        return MASK
    return redact_value(value)


def _redact_object(value: object) -> object:
    try:
        shown = repr(value)
    except Exception:  # a broken __repr__ must not break logging
        return f"<unprintable {type(value).__name__}>"
    masked = redact_text(shown)
    return value if masked == shown else masked


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets in every value of the event (see `redact_value`).

    `exc_info` is left alone for the renderer; the chains built by
    `configure_logging` turn it into text first (JSON) or mask the rendered
    traceback (console).
    """
    return {
        key: value if key == "exc_info" else _redact_item(key, value)
        for key, value in event_dict.items()
    }


def redacted_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    """`ConsoleRenderer` exception formatter: a plain traceback, masked before it is written.

    Plain rather than Rich: Rich shows local variables and wraps long lines,
    either of which could put a secret on screen unmasked.
    """
    sio.write("\n" + redact_text("".join(traceback.format_exception(*exc_info))))


# --- wiring ------------------------------------------------------------------


def _shared_processors() -> list[Processor]:
    """What both structlog events and stdlib records get before rendering."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _render_processors(fmt: str, colors: bool) -> list[Processor]:
    if fmt == "json":
        return [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.processors.JSONRenderer(),
        ]
    if fmt == "console":
        return [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_secrets,
            structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=redacted_traceback),
        ]
    raise ValueError(f"log format must be 'json' or 'console', not {fmt!r}")


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_logging(fmt: str, level: str | int, stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logging to `stream` (stderr) as JSON or console lines.

    Safe to call again (tests, a CLI option overriding the settings): the
    handler installed by an earlier call is replaced, others are kept.
    """
    stream = stream if stream is not None else sys.stderr
    level_number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(level_number, int):
        raise ValueError(f"unknown log level {level!r}")
    shared = _shared_processors()

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=_render_processors(fmt, colors=_is_tty(stream)),
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in _our_handlers(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level_number)
    # Alembic narrates every migration step at INFO; pmo-sync migrates on every start.
    logging.getLogger("alembic").setLevel(max(level_number, logging.WARNING))

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        # Not cached: module-level loggers created before configure_logging
        # (and tests reconfiguring) must pick up the current chain.
        cache_logger_on_first_use=False,
    )


def _our_handlers(handlers: Iterable[logging.Handler]) -> list[logging.Handler]:
    return [h for h in handlers if getattr(h, _HANDLER_MARK, False)]
