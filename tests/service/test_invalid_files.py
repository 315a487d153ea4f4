"""The service with an invalid connector file: it runs the valid ones and reports the other.

`/readyz` stays 200 (the service is ready for what it can run) and lists the file
under `invalid`; a probe asking about that file's connector gets 503. On SIGHUP, a
connector whose file turned invalid keeps running its previous config.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.service.runner import Service

from ..schema_helpers import migrated_engine
from .serve_helpers import (
    TOKEN_VARIABLE,
    ok_cycles,
    start_serve,
    wait_for,
    write_jira_config,
)


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox(issues_per_project=5) as sandbox:
        yield sandbox


def _typo(config_dir: Path, url: str, email: str, name: str = "typo") -> Path:
    """A connector file with an unknown key (`jqll`): invalid."""
    path = write_jira_config(config_dir, url, email, seconds=3600, name=name)
    path.write_text(path.read_text(encoding="utf-8").replace("jql:", "jqll:"), encoding="utf-8")
    return path


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_service_runs_the_valid_connectors_and_reports_the_invalid_file(
    jira: JiraSandbox, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, jira.token)
    config_dir = tmp_path / "config"
    good = write_jira_config(config_dir, jira.url, jira.email, seconds=3600, name="good")
    write_jira_config(config_dir, jira.url, jira.email, seconds=3600, name="other")
    typo = _typo(config_dir, jira.url, jira.email)
    service = Service(engine, config_dir)
    assert service.start() == []
    try:
        wait_for(lambda: ok_cycles(engine, "good"), what="the valid connector's cycle")
        ready, body = service.readiness()
        typo_ready, typo_body = service.readiness("typo")
        with pytest.raises(KeyError):
            service.readiness("nobody")

        # SIGHUP's reload: the running connector's file turns invalid: it keeps running
        good_text = good.read_text(encoding="utf-8")
        good.write_text(good_text.replace("jql:", "jqll:"), encoding="utf-8")
        assert service.reload() == []
        assert service.config is not None
        assert sorted(service.config.connectors) == ["good", "other"]
        kept_ready, kept = service.readiness("good")
        # fixed: nothing invalid is left but the other file
        good.write_text(good_text, encoding="utf-8")
        assert service.reload() == []
        _, fixed = service.readiness()
    finally:
        service.stop()
    assert ready, body
    assert list(body["connectors"]) == ["good", "other"]
    unknown_jqll = f"{typo}: jqll: unknown key (did you mean 'jql'?)"
    jql_required = f"{typo}: jql: field required"
    invalid = {
        "file": str(typo),
        "connector": "typo",
        "errors": [jql_required, unknown_jqll],
        "running_previous_config": False,
    }
    assert body["invalid"] == [invalid]
    assert not typo_ready
    assert typo_body["connectors"] == {} and typo_body["invalid"] == [invalid]
    assert kept_ready  # its previous config still runs: judged by its cycles
    assert list(kept["connectors"]) == ["good"]
    assert kept["invalid"] == [
        {
            "file": str(good),
            "connector": "good",
            "errors": [
                f"{good}: jql: field required",
                f"{good}: jqll: unknown key (did you mean 'jql'?)",
            ],
            "running_previous_config": True,
        }
    ]
    assert fixed["invalid"] == [invalid]
    assert list(fixed["connectors"]) == ["good", "other"]


@pytest.mark.slow
def test_serve_starts_with_the_valid_connectors_and_readyz_lists_the_invalid_file(
    jira: JiraSandbox, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    engine = migrated_engine(url)
    config_dir = tmp_path / "config"
    write_jira_config(config_dir, jira.url, jira.email, seconds=3600, name="good")
    typo = _typo(config_dir, jira.url, jira.email)
    serve = start_serve(tmp_path, url, config_dir, jira.token)
    try:
        wait_for(lambda: ok_cycles(engine, "good"), what="the valid connector's cycle")
        status, body = _get(f"{serve.url}/readyz")
        one_status, _ = _get(f"{serve.url}/readyz?connector=typo")
        serve.signal(signal.SIGHUP)
        wait_for(lambda: "config_reloaded" in serve.logs(), what="the reload")
        assert serve.stop() == 0
    finally:
        if serve.process.poll() is None:
            serve.kill()
        engine.dispose()
    assert status == 200, body
    readyz = json.loads(body)
    assert list(readyz["connectors"]) == ["good"] and readyz["connectors"]["good"]["ready"]
    assert [(i["connector"], i["errors"][0]) for i in readyz["invalid"]] == [
        ("typo", f"{typo}: jql: field required")
    ]
    assert one_status == 503
    logged = [json.loads(line) for line in serve.logs().splitlines() if line.startswith("{")]
    skipped = [e for e in logged if e["event"] == "connector_file_skipped"]
    assert [(e["event"], e["connector"]) for e in skipped] == [
        ("connector_file_skipped", "typo"),
        ("connector_file_skipped", "typo"),  # its two errors, at start
        ("connector_file_skipped", "typo"),
        ("connector_file_skipped", "typo"),  # and again on the reload
    ]
