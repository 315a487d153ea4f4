"""What the CLI tests share: running `pmo-sync` in-process, and undoing what a run changes.

A command configures logging (a handler on the root logger writing to the runner's
stream, closed when the run ends), structlog, the cached settings and the secrets to
redact; each test gets them back as they were, so the next test's logs and settings
are its own.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pytest
import structlog
from typer.testing import CliRunner, Result

from pmo_sync.cli import app
from pmo_sync.common.redaction import clear_secrets
from pmo_sync.settings import get_settings

__all__ = ["cli_state_restored", "run_cli"]


@contextmanager
def cli_state_restored() -> Iterator[None]:
    """Put back the root logger's handlers and level, structlog, settings and secrets."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog_config = structlog.get_config()
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()
        clear_secrets()
        for handler in list(root.handlers):  # the CLI's handler writes to a closed stream
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        structlog.configure(**structlog_config)


def run_cli(args: Iterable[str], *, secrets: Iterable[str] = ()) -> Result:
    """Run `pmo-sync ARGS`; fail the test on a crash, or on a secret in stdout or stderr."""
    args = list(args)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, args)
    get_settings.cache_clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail(
            f"pmo-sync {' '.join(args)} crashed:\n"
            + "".join(traceback.format_exception(*result.exc_info))  # type: ignore[misc]
        )
    for secret in secrets:
        assert secret not in result.stdout, f"secret shown on stdout by {args}"
        assert secret not in result.stderr, f"secret shown on stderr by {args}"
    return result
