"""The container's contract: its HEALTHCHECK command against a real `serve`, and the image's and
compose example's settings are ones pmo-sync knows (no Docker engine is needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pmo_sync.dashboard.auth import auth_from_settings, is_loopback
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.settings import Settings

from .serve_helpers import PMO_SYNC, start_serve, write_jira_config

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((ROOT / "compose.example.yaml").read_text(encoding="utf-8"))
SETTINGS = {f"PMO_SYNC_{name.upper()}" for name in Settings.model_fields}


def _instruction(name: str) -> list[str]:
    """Every value of one Dockerfile instruction (continuation lines joined)."""
    text = DOCKERFILE.replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.+)$", text, re.MULTILINE)]


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=3) as sandbox:
        yield sandbox


@pytest.mark.slow
def test_the_images_healthcheck_command_tells_a_running_service_from_a_stopped_one(
    jira: JiraSandbox, tmp_path: Path
) -> None:
    (healthcheck,) = _instruction("HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[0] == "pmo-sync"
    write_jira_config(tmp_path / "config", jira.url, jira.email, seconds=3600)
    serve = start_serve(tmp_path, f"sqlite:///{tmp_path / 's.db'}", tmp_path / "config", jira.token)
    env = {**os.environ, "PMO_SYNC_HTTP_PORT": str(serve.port), "PMO_SYNC_HTTP_HOST": "0.0.0.0"}
    argv = [str(PMO_SYNC), *command[1:]]
    try:
        alive = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        assert alive.returncode == 0, alive.stderr
        assert alive.stdout.strip() == f"healthy: http://127.0.0.1:{serve.port}/healthz"
    finally:
        assert serve.stop() == 0
    dead = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert dead.returncode == 1
    assert dead.stderr.startswith(f"unhealthy: http://127.0.0.1:{serve.port}/healthz")


def test_the_image_runs_serve_as_a_non_root_user_with_settings_pmo_sync_knows() -> None:
    assert _instruction("ENTRYPOINT") == ['["pmo-sync"]']
    assert _instruction("CMD")[-1] == '["serve"]'
    (user,) = _instruction("USER")
    assert user not in ("root", "0")
    assert f"--uid 10001 {user}" in DOCKERFILE
    names = set(re.findall(r"\b(PMO_SYNC_[A-Z_]+)=", DOCKERFILE))
    assert names and names <= SETTINGS, names - SETTINGS
    assert "PMO_SYNC_HTTP_PORT=9464" in DOCKERFILE and _instruction("EXPOSE") == ["9464"]


def test_the_compose_example_runs_replicas_only_on_postgresql() -> None:
    service = COMPOSE["services"]["pmo-sync"]
    environment = service["environment"]
    assert set(k for k in environment if k.startswith("PMO_SYNC_")) <= SETTINGS
    assert environment["PMO_SYNC_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert service["deploy"]["replicas"] > 1  # allowed on PostgreSQL, refused on SQLite
    assert service["depends_on"]["db"]["condition"] == "service_healthy"
    assert service["command"] == ["serve"]
    assert set(service["secrets"]) == set(COMPOSE["secrets"])


def _dockerfile_environment() -> dict[str, str]:
    return dict(re.findall(r"\b(PMO_SYNC_[A-Z_]+)=(\S+)", " ".join(_instruction("ENV"))))


def _settings(environment: dict[str, str]) -> Settings:
    values = {k.removeprefix("PMO_SYNC_").lower(): v for k, v in environment.items()}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_image_binding_every_address_serves_the_dashboard_only_behind_authentication() -> None:
    """Beyond loopback `serve` refuses to start with the dashboard on and no authentication:
    the image, given no secret, serves only the probes."""
    settings = _settings(_dockerfile_environment())
    assert not is_loopback(settings.http_host)
    assert auth_from_settings(settings) is None
    assert settings.dashboard is False


def test_the_compose_example_serves_the_dashboard_behind_its_token_secret(tmp_path: Path) -> None:
    service = COMPOSE["services"]["pmo-sync"]
    environment = {k: str(v) for k, v in service["environment"].items() if k.startswith("PMO_")}
    token_file = Path(environment["PMO_SYNC_DASHBOARD_TOKEN_FILE"])
    assert token_file.parent == Path("/run/secrets")
    assert token_file.name in service["secrets"]
    assert COMPOSE["secrets"][token_file.name] == {"file": f"./secrets/{token_file.name}"}
    local = tmp_path / token_file.name  # what the secret mount holds
    local.write_text("a-token\n", encoding="utf-8")
    settings = _settings({**environment, "PMO_SYNC_DASHBOARD_TOKEN_FILE": str(local)})
    assert settings.dashboard is True
    auth = auth_from_settings(settings)
    assert auth is not None and auth.allows("Bearer a-token")
