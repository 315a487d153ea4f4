"""Structured logging for the CLI and the service, with secrets masked on every line
(by `pmo_sync.common.redaction`).

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

urllib3 warns `Retrying (Retry(total=...)) after connection broken by ...` for each
retry of a dropped connection or a read timeout: raw library text on the admin's
terminal, for something pmo-sync already counts (`CallStats`) and reports in one
line when the retries run out. Those notices are logged at debug level instead
(`RetryNoticesToDebug`), so `--debug` still shows them.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

import structlog
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

from pmo_sync.common.redaction import redact_item, redact_text

__all__ = [
    "RetryNoticesToDebug",
    "configure_logging",
    "logs_to",
    "redact_secrets",
    "redacted_traceback",
]

_HANDLER_MARK = "_pmo_sync_handler"


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets in every value of the event (see `redact_value`).

    `exc_info` is left alone for the renderer; the chains built by
    `configure_logging` turn it into text first (JSON) or mask the rendered
    traceback (console).
    """
    return {
        key: value if key == "exc_info" else redact_item(key, value)
        for key, value in event_dict.items()
    }


def redacted_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    """`ConsoleRenderer` exception formatter: a plain traceback, masked before it is written.

    Plain rather than Rich: Rich shows local variables and wraps long lines,
    either of which could put a secret on screen unmasked.
    """
    sio.write("\n" + redact_text("".join(traceback.format_exception(*exc_info))))


class RetryNoticesToDebug(logging.Filter):
    """Demote urllib3's `Retrying (...)` warnings to debug (see the module docstring).

    Installed on the `urllib3.connectionpool` logger, where the record is made: a
    demoted record is let through only when that logger is enabled for debug,
    since a propagated record is not checked against the root's level again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or not str(record.msg).startswith("Retrying ("):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


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
    pool_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RetryNoticesToDebug) for f in pool_log.filters):
        pool_log.addFilter(RetryNoticesToDebug())

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


class _LineWriter:
    """A text stream whose every write (one formatted record and its newline) goes to `write`."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write

    def write(self, text: str) -> int:
        self._write(text)
        return len(text)

    def flush(self) -> None:
        pass


@contextmanager
def logs_to(write: Callable[[str], object]) -> Iterator[None]:
    """While the block runs, the log lines `configure_logging` set up go through `write`.

    A live progress display redraws its line on the terminal; a log line
    written straight to stderr lands inside it. Giving the display's own
    console here prints each log line above the display instead. The lines
    are formatted (and masked) as before; only where they are written changes.
    """
    handlers = [
        h
        for h in _our_handlers(logging.getLogger().handlers)
        if isinstance(h, logging.StreamHandler)
    ]
    streams = [h.stream for h in handlers]
    writer = _LineWriter(write)
    for handler in handlers:
        handler.setStream(writer)
    try:
        yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
