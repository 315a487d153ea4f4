"""Security headers on every response: no remote origin, no framing, no sniffing.

The policy allows scripts and styles from this server only (Plotly adds the
`style` elements it measures with, hence `'unsafe-inline'` for styles, never
for scripts); images may be data URLs (Plotly's icons). Nothing may frame a
page, and no page is cached by a shared proxy.
"""

from __future__ import annotations

from flask import Response

__all__ = ["CONTENT_SECURITY_POLICY", "add_security_headers"]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if not response.cache_control.public:
        response.cache_control.private = True
        response.cache_control.no_store = True
    return response
