"""Who may read the pages when they are served beyond loopback.

Two ways, either or both: a token (`PMO_SYNC_DASHBOARD_TOKEN` or the file
named by `PMO_SYNC_DASHBOARD_TOKEN_FILE`), sent as `Authorization: Bearer
<token>` or as the password of HTTP Basic (any user name: a browser asks for
it); and a users file (`PMO_SYNC_DASHBOARD_USERS_FILE`) of `user:hash` lines,
the hashes made by `pmo-sync dashboard --hash-password`. Secrets are compared
in constant time and never logged or shown.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Request, Response
from werkzeug.security import check_password_hash

__all__ = ["DashboardAuth"]


@dataclass(frozen=True, slots=True)
class DashboardAuth:
    token: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)
    """user name → password hash (werkzeug's `scrypt:`/`pbkdf2:` format)."""

    @property
    def configured(self) -> bool:
        return bool(self.token) or bool(self.users)

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
        if stored is not None and check_password_hash(stored, password):
            return True
        return self._token_matches(password)

    def _token_matches(self, candidate: str) -> bool:
        return bool(self.token) and hmac.compare_digest(
            candidate.encode("utf-8"), (self.token or "").encode("utf-8")
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
