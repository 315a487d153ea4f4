"""Who may read the pages when they are served beyond loopback.

Two ways, either or both: a token (`PMO_SYNC_DASHBOARD_TOKEN` or the file
named by `PMO_SYNC_DASHBOARD_TOKEN_FILE`), sent as `Authorization: Bearer
<token>` or as the password of HTTP Basic (any user name: a browser asks for
it); and a users file (`PMO_SYNC_DASHBOARD_USERS_FILE`) of `user:hash` lines,
the hashes made by `pmo-sync dashboard --hash-password`. Secrets are compared
in constant time and never logged or shown: the token is a `SecretStr`, and an
error about the users file names the file and line, never the line's text
(it could be a password pasted where its hash belongs).

`auth_from_settings` builds the `DashboardAuth` from the settings (None when
none is configured); `refusal` is the one line `serve` and `dashboard` stop
with when the address they are given reaches beyond this machine and nobody
configured who may read.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from flask import Request, Response
from pydantic import SecretStr
from werkzeug.security import check_password_hash, generate_password_hash

from pmo_sync.common.redaction import register_secret
from pmo_sync.settings import Settings


@cache
def _unknown_user_hash() -> str:
    """A hash no password matches, made once, checked for user names the file lacks."""
    return generate_password_hash(secrets.token_urlsafe(32))


__all__ = [
    "AUTH_SETTINGS",
    "DashboardAuth",
    "DashboardAuthError",
    "auth_from_settings",
    "is_loopback",
    "read_users_file",
    "refusal",
]

AUTH_SETTINGS = (
    "PMO_SYNC_DASHBOARD_TOKEN",
    "PMO_SYNC_DASHBOARD_TOKEN_FILE",
    "PMO_SYNC_DASHBOARD_USERS_FILE",
)
_HASH_METHODS = ("scrypt", "pbkdf2")


class DashboardAuthError(ValueError):
    """The authentication settings cannot be used (a file missing, empty or malformed)."""


@dataclass(frozen=True, slots=True)
class DashboardAuth:
    token: SecretStr | str | None = None
    """A plain `str` is taken as a convenience (tests) and kept as a `SecretStr`."""
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    """user name → password hash (werkzeug's `scrypt:`/`pbkdf2:` format)."""

    def __post_init__(self) -> None:
        if isinstance(self.token, str):
            object.__setattr__(self, "token", SecretStr(self.token))

    @property
    def configured(self) -> bool:
        return bool(self._secret()) or bool(self.users)

    def allows(self, authorization: str | None) -> bool:
        """Whether an `Authorization` header value carries a valid token or user's password."""
        if not authorization:
            return False
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return self._token_matches(credentials.strip())
        if scheme != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        stored = self.users.get(user)
        # an unknown user costs one hash check too: the answer's time never tells which
        # user names exist
        if check_password_hash(stored or _unknown_user_hash(), password) and stored is not None:
            return True
        return self._token_matches(password)

    def _secret(self) -> str:
        token = self.token
        return token.get_secret_value() if isinstance(token, SecretStr) else (token or "")

    def _token_matches(self, candidate: str) -> bool:
        secret = self._secret()
        return bool(secret) and hmac.compare_digest(
            candidate.encode("utf-8"), secret.encode("utf-8")
        )

    def challenge(self, request: Request) -> Response | None:
        """None when the request may proceed, else the 401 that asks a browser to log in."""
        if self.allows(request.headers.get("Authorization")):
            return None
        return Response(
            "authentication required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Basic realm="pmo-sync", charset="UTF-8"'},
        )


def auth_from_settings(settings: Settings) -> DashboardAuth | None:
    """Who may read, from the settings; None when neither a token nor a users file is set.

    Raises `DashboardAuthError` (one line naming the setting or the file and
    line) for a token file or users file that is missing, empty or malformed,
    and for a token given both ways.
    """
    token = _token(settings)
    users = read_users_file(settings.dashboard_users_file) if settings.dashboard_users_file else {}
    if token is None and not users:
        return None
    if token is not None:  # masked wherever the logs' redactor meets it
        register_secret(token.get_secret_value())
    return DashboardAuth(token=token, users=users)


def _token(settings: Settings) -> SecretStr | None:
    given, path = settings.dashboard_token, settings.dashboard_token_file
    if given is not None and path is not None:
        raise DashboardAuthError(
            "set PMO_SYNC_DASHBOARD_TOKEN or PMO_SYNC_DASHBOARD_TOKEN_FILE, not both"
        )
    if path is None:
        return given if given is not None and given.get_secret_value() else None
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise DashboardAuthError(
            f"PMO_SYNC_DASHBOARD_TOKEN_FILE {path}: cannot read it ({reason})"
        ) from None
    if not text:
        raise DashboardAuthError(f"PMO_SYNC_DASHBOARD_TOKEN_FILE {path}: the file is empty")
    if "\n" in text:
        raise DashboardAuthError(
            f"PMO_SYNC_DASHBOARD_TOKEN_FILE {path}: the token must be one line"
        )
    return SecretStr(text)


def read_users_file(path: Path) -> dict[str, str]:
    """The `user:hash` lines of a users file (`#` comments and blank lines skipped).

    A line that is not `user:hash` with a werkzeug hash (a password pasted
    as is, say) is an error naming the file and the line, not its text.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise DashboardAuthError(
            f"PMO_SYNC_DASHBOARD_USERS_FILE {path}: cannot read it ({reason})"
        ) from None
    users: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, _, hashed = line.partition(":")
        user, hashed = user.strip(), hashed.strip()
        if not user or not _looks_hashed(hashed):
            raise DashboardAuthError(
                f"{path}:{number}: expected `user:hash`, the hash made by "
                "`pmo-sync dashboard --hash-password`"
            )
        if user in users:
            raise DashboardAuthError(f"{path}:{number}: user {user!r} is already on a line above")
        users[user] = hashed
    if not users:
        raise DashboardAuthError(f"PMO_SYNC_DASHBOARD_USERS_FILE {path}: no `user:hash` line")
    return users


def _looks_hashed(value: str) -> bool:
    """werkzeug's `method$salt$hash`, method scrypt or pbkdf2 (never a plain password)."""
    parts = value.split("$")
    return len(parts) == 3 and parts[0].split(":")[0] in _HASH_METHODS and all(parts[1:])


def is_loopback(host: str) -> bool:
    """Whether an address to bind only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(host: str, *, probes_only_setting: bool) -> str:
    """The one line a command refuses to serve the pages beyond loopback without auth with."""
    shown = host or "every address"
    line = (
        f"error: refusing to serve the dashboard on {shown} without authentication: "
        f"set {', '.join(AUTH_SETTINGS[:-1])} or {AUTH_SETTINGS[-1]}, or bind 127.0.0.1"
    )
    if probes_only_setting:
        line += " (PMO_SYNC_DASHBOARD=off serves only /healthz, /readyz and /metrics)"
    return line
