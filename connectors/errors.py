"""Errors a connector raises, each saying what went wrong and what to do about it.

The sync engine catches `ConnectorError` per connector, records its message in
the run and goes on with the other connectors; anything else is a bug.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConnectorError",
    "PermissionDeniedError",
    "TrackerUnavailableError",
    "UnexpectedResponseError",
]


class ConnectorError(Exception):
    """A tracker call failed in a way the admin can act on."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationError(ConnectorError):
    """The tracker rejected the credentials (401, or a sign-in page)."""


class PermissionDeniedError(ConnectorError):
    """The credentials are valid but lack a permission (403)."""


class UnexpectedResponseError(ConnectorError):
    """The tracker answered something that is not the API's JSON (an HTML page, a bad shape)."""


class TrackerUnavailableError(ConnectorError):
    """The tracker kept failing (5xx, 429, timeouts) after every retry."""
