"""Rendering long operations for a person at a terminal: the sync summary and progress lines.

The summary is a table when the terminal is wide enough for every cell, and
the same facts as short lines per connector when it is not (80 columns), so
no cell is ever cut to `sand…`. Progress goes to stderr and only when stderr
is a terminal; while it is shown, log lines are printed above it through the
same console (`pmo_sync.logging.logs_to`), never into it.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from pmo_sync.common.layout import fits
from pmo_sync.logging import logs_to
from pmo_sync.sync import ProgressCallback, RunSummary

__all__ = [
    "print_sync_summaries",
    "step_progress",
    "stepping",
    "sync_progress",
    "sync_summary_lines",
]

T = TypeVar("T")

_STATUS_STYLE = {"success": "green", "partial": "yellow", "failed": "red"}

Step = Callable[[str], None]
"""Called once per finished step with the name of the next one (or of the one just done)."""


def _waits(s: RunSummary) -> str:
    return f"{s.rate_limit_waits} ({s.rate_limit_wait_seconds:g} s)" if s.rate_limit_waits else "0"


def _styled(status: str) -> str:
    style = _STATUS_STYLE.get(status, "")
    return f"[{style}]{escape(status)}[/{style}]" if style else escape(status)


def _summary_table(summaries: Sequence[RunSummary]) -> Table:
    table = Table(
        "connector", "status", "items seen", "inserted", "updated", "unchanged", "deleted",
        "API calls", "rate-limit waits", "seconds",
        title="sync",
    )  # fmt: skip
    for s in summaries:
        table.add_row(
            escape(s.connector),
            _styled(s.status),
            str(s.items_seen),
            str(s.items_inserted),
            str(s.items_updated),
            str(s.items_unchanged),
            str(s.items_deleted),
            str(s.api_calls),
            _waits(s),
            f"{s.duration_seconds:.1f}",
        )
    return table


def sync_summary_lines(s: RunSummary, width: int) -> list[str]:
    """One connector's summary as short plain lines (the narrow-terminal layout).

    `connector: status`, then the items (seen, and what became of them), then
    the cost (API calls, rate-limit waits, seconds), each wrapped at `width`.
    """
    facts = [
        f"{s.items_seen} items seen: {s.items_inserted} inserted, {s.items_updated} updated, "
        f"{s.items_unchanged} unchanged, {s.items_deleted} deleted",
        f"{s.api_calls} API calls, rate-limit waits {_waits(s)}, {s.duration_seconds:.1f} s",
    ]
    lines = [f"{s.connector}: {s.status}"]
    for fact in facts:
        lines += textwrap.wrap(
            fact, width=max(width, 40), initial_indent="  ", subsequent_indent="    "
        )
    return lines


def print_sync_summaries(console: Console, summaries: Sequence[RunSummary]) -> None:
    """One row per connector (or a few lines each when the table would not fit), then every
    error in full (errors never carry secrets)."""
    table = _summary_table(summaries)
    if fits(console, table):
        console.print(table)
    else:
        console.print("sync", highlight=False)
        for s in summaries:
            _, *rest = sync_summary_lines(s, console.width)  # the first line, styled:
            console.print(f"{escape(s.connector)}: {_styled(s.status)}", highlight=False)
            for line in rest:
                console.print(line, highlight=False, markup=False)
    for s in summaries:
        for error in s.errors:
            console.print(f"[red]{escape(s.connector)}[/red]: {escape(error)}", highlight=False)


def _live(console: Console, *columns: ProgressColumn) -> Progress:
    """A transient progress display. Output to stdout goes above it when stdout is the same
    terminal, and is left alone when piped (the data must not end up on stderr)."""
    try:
        stdout_is_terminal = sys.stdout.isatty()
    except (AttributeError, ValueError):
        stdout_is_terminal = False
    return Progress(*columns, console=console, transient=True, redirect_stdout=stdout_is_terminal)


def _log_writer(console: Console) -> Callable[[str], None]:
    """Log lines printed through `console`, so a live progress display stays below them."""

    def write(text: str) -> None:
        console.print(Text.from_ansi(text.rstrip("\n")), soft_wrap=True)

    return write


@contextmanager
def sync_progress(console: Console, *, enabled: bool) -> Iterator[ProgressCallback | None]:
    """A live line per connector and stream with its record count, only when `enabled`
    (stderr is a terminal); log lines print above it, never into it."""
    if not enabled:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with (
        _live(console, *columns) as progress,
        logs_to(_log_writer(progress.console)),
    ):
        tasks: dict[tuple[str, str], TaskID] = {}

        def update(connector: str, stream: str, count: int) -> None:
            key = (connector, stream)
            if key not in tasks:
                tasks[key] = progress.add_task("", total=None)
            progress.update(tasks[key], description=f"{connector} · {stream}: {count} records")

        yield update


@contextmanager
def step_progress(console: Console, what: str, total: int, *, enabled: bool) -> Iterator[Step]:
    """A live `what 2/5 name` line for a loop of `total` steps, only when `enabled`.

    For any command that works through a list (connectors to push, to check,
    fields to provision): call the yielded `step(name)` as each step starts;
    the count shows the steps finished. Disabled (stderr piped), `step` does
    nothing and nothing is printed. Log lines print above the line.
    """
    if not enabled:
        yield lambda name: None
        return
    columns = (
        SpinnerColumn(),
        TextColumn(escape(what)),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with (
        _live(console, *columns) as progress,
        logs_to(_log_writer(progress.console)),
    ):
        task = progress.add_task("", total=total)
        started = False

        def step(name: str) -> None:
            nonlocal started
            progress.update(task, advance=1 if started else 0, description=name)
            started = True

        yield step


def stepping(
    console: Console,
    what: str,
    items: Sequence[T],
    name: Callable[[T], str],
    *,
    enabled: bool,
) -> Iterator[T]:
    """`items`, one by one, with a `step_progress` line naming each as it starts.

    For a loop that should show progress without being re-indented:
    ``for config in stepping(err, "push", configs, lambda c: c.name, enabled=...)``.
    """
    with step_progress(console, what, len(items), enabled=enabled) as step:
        for item in items:
            step(name(item))
            yield item
