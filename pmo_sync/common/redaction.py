"""Masking secrets in text and values: the one redactor logs, errors and messages pass through.

Kept apart from the logging set-up so the connectors (which must not import the
service's layers) can mask what they echo, and register the secrets they
resolve, with the same rules the logs use:

- values under keys that name a secret (`token`, `password`, `api_key`,
  `Authorization`, `cookie`, `pat`, ...), at any depth;
- `Authorization: Basic ...` / `Bearer ...` text, `user:password@` in URLs and
  secret-looking query parameters (`?token=...&key=...`), wherever they occur
  in text;
- every secret value registered at runtime (`register_secret`): config loading
  registers each resolved `SecretStr`, so a token echoed back in an exception
  message is masked even though no pattern could recognise it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "clear_secrets",
    "is_secret_key",
    "redact_item",
    "redact_text",
    "redact_value",
    "register_secret",
]

MASK = "***"
_MIN_SECRET_LENGTH = 4
"""Shorter values are not registered: masking every 'abc' would garble logs and protect nothing."""

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
        return {k: redact_item(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact_value(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return _redact_object(value)


def redact_item(key: object, value: Any) -> Any:
    """`value` as it may be shown under `key`: masked whole when the key names a secret."""
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
