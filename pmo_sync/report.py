"""Rendering sync results for a person at a terminal: the summary table and the progress bar."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from pmo_sync.sync import ProgressCallback, RunSummary

__all__ = ["print_sync_summaries", "sync_progress"]

_STATUS_STYLE = {"success": "green", "partial": "yellow", "failed": "red"}


def print_sync_summaries(console: Console, summaries: Sequence[RunSummary]) -> None:
    """One row per connector, then every error in full (errors never carry secrets)."""
    table = Table(
        "connector", "status", "items seen", "inserted", "updated", "unchanged", "deleted",
        "API calls", "rate-limit waits", "seconds",
        title="sync",
    )  # fmt: skip
    for s in summaries:
        style = _STATUS_STYLE.get(s.status, "")
        waits = (
            f"{s.rate_limit_waits} ({s.rate_limit_wait_seconds:g} s)" if s.rate_limit_waits else "0"
        )
        table.add_row(
            s.connector,
            f"[{style}]{s.status}[/{style}]" if style else s.status,
            str(s.items_seen),
            str(s.items_inserted),
            str(s.items_updated),
            str(s.items_unchanged),
            str(s.items_deleted),
            str(s.api_calls),
            waits,
            f"{s.duration_seconds:.1f}",
        )
    console.print(table)
    for s in summaries:
        for error in s.errors:
            console.print(f"[red]{escape(s.connector)}[/red]: {escape(error)}", highlight=False)


@contextmanager
def sync_progress(console: Console, *, enabled: bool) -> Iterator[ProgressCallback | None]:
    """A live progress line per connector and stream, only on a terminal."""
    if not enabled:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[tuple[str, str], TaskID] = {}

        def update(connector: str, stream: str, count: int) -> None:
            key = (connector, stream)
            if key not in tasks:
                tasks[key] = progress.add_task("", total=None)
            progress.update(tasks[key], description=f"{connector} · {stream}: {count} records")

        yield update
