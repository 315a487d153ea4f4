"""Process-wide settings: where the store and the config files are, and how to log.

These are deployment choices (one per process), so they come from the
environment (`PMO_SYNC_*`) or a `.env` file beside the process, never from
the per-connector YAML files. A `.env` file only feeds these settings: the
`${ENV_VAR}` secret references in connector files are resolved from the real
process environment, so a secret is never read from a file nobody declared.
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LOG_LEVELS", "LogFormat", "Settings", "default_log_format", "get_settings"]

LogFormat = Literal["json", "console"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def default_log_format() -> LogFormat:
    """Console lines for a person at a terminal, JSON lines for a service's log collector."""
    stream = sys.stderr
    try:
        is_tty = stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        is_tty = False
    return "console" if is_tty else "json"


class Settings(BaseSettings):
    """Settings read from `PMO_SYNC_<NAME>` variables, then `.env`, then the defaults."""

    model_config = SettingsConfigDict(
        env_prefix="PMO_SYNC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",  # a shared .env may hold other tools' variables
    )

    database_url: str = Field(
        default="sqlite:///./data/pmo-sync.sqlite3",
        min_length=1,
        description="SQLAlchemy URL of the store; the default is a SQLite file under ./data/",
    )
    config_dir: Path = Field(
        default=Path("./config"),
        description="directory holding connectors/*.yaml (and later policies/)",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="caches (the Azure DevOps SDK's routes); default $XDG_CACHE_HOME/pmo-sync "
        "or ~/.cache/pmo-sync. Read from the environment when the connector is imported "
        "(connectors/azure_devops/sdk_cache.py), before settings exist",
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="address `serve` binds /healthz, /readyz, /metrics and the dashboard to",
    )
    http_port: int = Field(default=9464, ge=0, le=65535, description="0 picks a free port")
    dashboard: bool = Field(
        default=True,
        description="`serve` serves the dashboard beside the endpoints; off serves only "
        "/healthz, /readyz and /metrics (a container that only needs probes)",
    )
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="the dashboard's token (Bearer, or the password of HTTP Basic); never "
        "shown: a SecretStr",
    )
    dashboard_token_file: Path | None = Field(
        default=None, description="a file holding the dashboard's token (a container secret)"
    )
    dashboard_users_file: Path | None = Field(
        default=None,
        description="`user:hash` lines (`pmo-sync dashboard --hash-password`) allowed to read "
        "the dashboard",
    )
    log_format: LogFormat = Field(default_factory=default_log_format)
    log_level: str = "INFO"

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_level(cls, value: object) -> str:
        name = str(value).strip().upper()
        if name == "WARN":
            name = "WARNING"
        if name not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return name

    @property
    def log_level_number(self) -> int:
        """The level as the stdlib `logging` number, for handlers and filters."""
        return logging.getLevelNamesMapping()[self.log_level]


@cache
def get_settings() -> Settings:
    """The settings of this process, read once; tests call `get_settings.cache_clear()`."""
    return Settings()
