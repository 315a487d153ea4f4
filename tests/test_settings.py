"""Process settings: defaults, `PMO_SYNC_*` overrides, `.env`, and validation."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from pmo_sync.settings import Settings, default_log_format, get_settings


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No PMO_SYNC_* variables and no .env from the developer's machine."""
    for name in ("DATABASE_URL", "CONFIG_DIR", "LOG_FORMAT", "LOG_LEVEL"):
        monkeypatch.delenv(f"PMO_SYNC_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Stream(tty=False))
    settings = Settings()
    assert settings.database_url == "sqlite:///./data/pmo-sync.sqlite3"
    assert settings.config_dir == Path("./config")
    assert settings.log_format == "json"
    assert settings.log_level == "INFO"
    assert settings.log_level_number == 20


def test_log_format_defaults_to_console_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Stream(tty=True))
    assert default_log_format() == "console"
    assert Settings().log_format == "console"


def test_log_format_defaults_to_json_without_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", None)
    assert default_log_format() == "json"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", "postgresql+psycopg://pmo@db/pmo")
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", "/etc/pmo-sync")
    monkeypatch.setenv("PMO_SYNC_LOG_FORMAT", "Console")
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "debug")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://pmo@db/pmo"
    assert settings.config_dir == Path("/etc/pmo-sync")
    assert settings.log_format == "console"
    assert settings.log_level == "DEBUG"


def test_warn_is_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "warn")
    assert Settings().log_level == "WARNING"


def test_dotenv_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "PMO_SYNC_CONFIG_DIR=/srv/config\nPMO_SYNC_LOG_LEVEL=ERROR\nJIRA_API_TOKEN=unrelated\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    settings = Settings()
    assert settings.config_dir == Path("/srv/config")
    assert settings.log_level == "WARNING"


def test_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError) as exc_info:
        Settings()
    (error,) = exc_info.value.errors()
    assert error["loc"] == ("log_level",)
    assert "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in error["msg"]


def test_unknown_log_format_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMO_SYNC_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError) as exc_info:
        Settings()
    assert exc_info.value.errors()[0]["loc"] == ("log_format",)


def test_get_settings_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "ERROR")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().log_level == "ERROR"
