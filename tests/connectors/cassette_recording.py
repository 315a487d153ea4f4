"""Recording vcrpy cassettes from a sandbox tracker, as if from the public service.

Shared by each connector's `record_cassettes.py`: the sandbox's local URL becomes
the public one in every request and body, credentials and the headers that name
versions, times or sessions are dropped, and `Content-Length` is set to the
rewritten body's length, so re-recording gives identical files.

Credentials travel in a header (Jira, Azure DevOps: `Authorization`) or in the
query string (Trello: `key` and `token`); `filtered_query_parameters` drops the
latter from every recorded URL. A replay must then filter the same parameters
(vcrpy's `filter_query_parameters`) so that its requests match the recorded ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import vcr

from connectors.errors import ConnectorError

__all__ = ["public_recorder", "record_cassette"]


def public_recorder(
    cassettes: Path,
    local_url: str,
    public_url: str,
    *,
    dropped_request_headers: Iterable[str] = ("authorization", "user-agent"),
    dropped_response_headers: Iterable[str] = ("date", "server"),
    filtered_query_parameters: Iterable[str] = (),
) -> vcr.VCR:
    dropped = {h.lower() for h in dropped_response_headers}

    def public_request(request: Any) -> Any:
        request.uri = request.uri.replace(local_url, public_url)
        return request

    def public_response(response: dict[str, Any]) -> dict[str, Any]:
        body = response["body"]["string"]
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        response["body"]["string"] = body.replace(local_url, public_url).encode("utf-8")
        headers = {k: v for k, v in response["headers"].items() if k.lower() not in dropped}
        for name in list(headers):
            if name.lower() == "content-length":
                headers[name] = [str(len(response["body"]["string"]))]
        response["headers"] = headers
        return response

    return vcr.VCR(
        cassette_library_dir=str(cassettes),
        record_mode="all",
        filter_headers=list(dropped_request_headers),
        filter_query_parameters=list(filtered_query_parameters),
        decode_compressed_response=True,
        before_record_request=public_request,
        before_record_response=public_response,
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
    )


def record_cassette(recorder: vcr.VCR, name: str, action: Callable[[], Any]) -> None:
    """Record one cassette afresh; a connector error is part of what is recorded."""
    path = Path(recorder.cassette_library_dir) / name
    path.unlink(missing_ok=True)
    with recorder.use_cassette(name) as cassette:
        try:
            action()
        except ConnectorError as exc:
            print(f"  {name}: {type(exc).__name__}: {exc}")
    print(f"{name}: {len(cassette.data)} interaction(s), {path.stat().st_size} bytes")
