"""The `kind: trello` config file: the documented example, the optional keys, precise errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from connectors.trello import EstimateSource, SprintSource, TrelloConfig
from pmo_sync.config import load_connector_configs
from pmo_sync.domain import Stage

ISSUE_EXAMPLE = """\
name: acme-trello
kind: trello
url: https://api.trello.com      # optional; the default
api_key: ${TRELLO_API_KEY}
token: ${TRELLO_TOKEN}
boards: [Team Alpha, Team Beta]   # names or ids
"""


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLO_API_KEY", "key-0123456789")
    monkeypatch.setenv("TRELLO_TOKEN", "token-0123456789")


def load(tmp_path: Path, text: str) -> tuple[list[TrelloConfig], list[str]]:
    """Validate one file through the real loader: (configs, `field: message` errors)."""
    folder = tmp_path / "connectors"
    folder.mkdir(exist_ok=True)
    (folder / "acme.yaml").write_text(text, encoding="utf-8")
    result = load_connector_configs(tmp_path, models={"trello": TrelloConfig})
    return result.configs, [f"{e.field}: {e.message}" for e in result.errors]  # type: ignore[misc]


def with_extra(extra: dict) -> str:
    data = yaml.safe_load(ISSUE_EXAMPLE)
    data.update(extra)
    return yaml.safe_dump({k: v for k, v in data.items() if v is not None})


def test_the_documented_example_validates_with_its_defaults(tmp_path: Path) -> None:
    configs, errors = load(tmp_path, ISSUE_EXAMPLE)
    assert errors == []
    (config,) = configs
    assert config.name == "acme-trello" and config.kind == "trello"
    assert config.api_url == "https://api.trello.com/1"
    assert config.api_key.get_secret_value() == "key-0123456789"
    assert config.token.get_secret_value() == "token-0123456789"
    assert config.boards == ["Team Alpha", "Team Beta"]
    assert config.list_stages == {}
    assert config.estimate == EstimateSource(source="custom_field", name="Story Points")
    assert config.sprints == SprintSource(source="custom_field", name="Sprint")
    assert config.writeback.enabled is False
    assert config.schedule is None
    assert "0123456789" not in repr(config)


def test_url_is_optional_and_a_trailing_api_version_is_ignored(tmp_path: Path) -> None:
    configs, errors = load(tmp_path, with_extra({"url": None}))
    assert errors == [] and configs[0].api_url == "https://api.trello.com/1"
    configs, errors = load(tmp_path, with_extra({"url": "http://127.0.0.1:8082/1/"}))
    assert errors == [] and configs[0].api_url == "http://127.0.0.1:8082/1"


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("key-from-file\n")
    (tmp_path / "token").write_text("token-from-file\n")
    text = with_extra(
        {
            "api_key": None,
            "token": None,
            "api_key_file": str(tmp_path / "key"),
            "token_file": str(tmp_path / "token"),
        }
    )
    configs, errors = load(tmp_path, text)
    assert errors == []
    assert configs[0].api_key.get_secret_value() == "key-from-file"
    assert configs[0].token.get_secret_value() == "token-from-file"


def test_every_optional_key(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE + textwrap.dedent(
        """\
        list_stages:
          Blocked by vendor: in_progress
          QA: in_progress
          review: todo
        estimate: {from: title, pattern: "\\\\[(\\\\d+)\\\\]"}
        sprints: {from: list, pattern: "^Iteration "}
        writeback:
          enabled: true
          fields: {cycle_time_days: Cycle time}
        schedule: {interval_minutes: 30}
        timeout_seconds: 10
        max_retries: 2
        max_retry_wait_seconds: 30
        """
    )
    configs, errors = load(tmp_path, text)
    assert errors == []
    (config,) = configs
    assert config.estimate.source == "title"
    assert config.estimate.regex().search("[5] Fix login").group(1) == "5"
    assert config.sprints.source == "list" and config.sprints.regex().match("iteration 3")
    assert config.writeback.fields == {"cycle_time_days": "Cycle time"}
    assert config.schedule is not None and config.schedule.interval_minutes == 30
    assert (config.timeout_seconds, config.max_retries, config.max_retry_wait_seconds) == (
        10,
        2,
        30,
    )
    # configured names first (case-insensitive), then the defaults, else no stage
    assert config.stage_of_list("blocked BY vendor") == Stage.IN_PROGRESS
    assert config.stage_of_list("Review") == Stage.TODO
    assert config.stage_of_list("To Do") == Stage.TODO
    assert config.stage_of_list("  in   progress ") == Stage.IN_PROGRESS
    assert config.stage_of_list("DONE") == Stage.DONE
    assert config.stage_of_list("Ideas (old)") is None


def test_default_list_stages() -> None:
    config = TrelloConfig.model_validate(yaml.safe_load(ISSUE_EXAMPLE))
    expected = {
        "Backlog": Stage.TODO,
        "To Do": Stage.TODO,
        "Doing": Stage.IN_PROGRESS,
        "In Progress": Stage.IN_PROGRESS,
        "Review": Stage.IN_PROGRESS,
        "Done": Stage.DONE,
        "Blocked by vendor": None,
    }
    assert {name: config.stage_of_list(name) for name in expected} == expected


@pytest.mark.parametrize(
    ("block", "source", "default"),
    [
        ({"from": "label"}, "label", "5 pts"),
        ({"from": "title"}, "title", "(5) Fix the login"),
    ],
)
def test_estimate_patterns_have_defaults(block: dict, source: str, default: str) -> None:
    estimate = EstimateSource.model_validate(block)
    assert estimate.source == source and estimate.name is None
    assert estimate.regex().search(default).group(1) == "5"


def test_sprint_sources_have_defaults() -> None:
    assert SprintSource.model_validate({"from": "label"}).prefix == "Sprint "
    assert SprintSource.model_validate({"from": "list"}).regex().match("Sprint 12")
    assert SprintSource.model_validate({}).name == "Sprint"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"token": None},
            "token: field required (a ${ENV_VAR} reference, or token_file: <path>)",
        ),
        (
            {"api_key": "0123456789abcdef"},
            "api_key: must be a ${ENV_VAR} reference (or use the matching *_file key); "
            "secrets are never written inline in config files",
        ),
        (
            {"token": "${NOT_SET_ANYWHERE}"},
            "token: environment variable NOT_SET_ANYWHERE is not set",
        ),
        ({"boards": []}, "boards: List should have at least 1 item after validation, not 0"),
        (
            {"boards": ["Team Alpha", " team alpha"]},
            "boards: boards[1] 'team alpha' repeats boards[0]",
        ),
        ({"boards": ["Team Alpha", " "]}, "boards: boards[1] is empty"),
        ({"board": ["Team Alpha"]}, "board: unknown key (did you mean 'boards'?)"),
        (
            {"list_stages": {"Blocked": "blocked"}},
            "list_stages.Blocked: Input should be 'todo', 'in_progress' or 'done'",
        ),
        (
            {"list_stages": {"QA": "done", "qa ": "todo"}},
            "list_stages: 'QA' and 'qa ' name the same list (names ignore case)",
        ),
        (
            {"estimate": {"from": "points"}},
            "estimate.from: Input should be 'custom_field', 'label' or 'title'",
        ),
        (
            {"estimate": {"from": "label", "pattern": r"(\d+)(pts)"}},
            "estimate.pattern: must have exactly 1 capturing group (the number), found 2; "
            "use (?:...) for other groups",
        ),
        (
            {"estimate": {"from": "custom_field", "pattern": "x"}},
            "estimate.pattern: only used with from: label or from: title",
        ),
        (
            {"estimate": {"from": "title", "name": "Points"}},
            "estimate.name: only used with from: custom_field",
        ),
        (
            {"estimate": {"name": " "}},
            "estimate.name: must name the custom field holding the estimate",
        ),
        (
            {"estimate": {"from": "title", "patern": "x"}},
            "estimate.patern: unknown key (did you mean 'pattern'?)",
        ),
        (
            {"sprints": {"from": "label", "pattern": "x"}},
            "sprints.pattern: only used with from: list",
        ),
        ({"sprints": {"from": "label", "prefix": ""}}, "sprints.prefix: must not be empty"),
        (
            {"sprints": {"from": "list", "pattern": "("}},
            "sprints.pattern: is not a valid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        ({"url": "not a url"}, "url: Input should be a valid URL, relative URL without a base"),
        (
            {"url": "https://api.trello.com/?x=1"},
            "url: must be the API host only, without ?query or #fragment",
        ),
        (
            {"writeback": {"fields": {"cycle_time": "Cycle time"}}},
            "writeback.fields: unknown metric 'cycle_time' (did you mean 'cycle_time_days'?)",
        ),
        ({"max_retries": -1}, "max_retries: Input should be greater than or equal to 0"),
    ],
)
def test_precise_errors(tmp_path: Path, extra: dict, expected: str) -> None:
    configs, errors = load(tmp_path, with_extra(extra))
    assert configs == []
    assert errors == [expected]


def test_errors_never_echo_a_secret(tmp_path: Path) -> None:
    _, errors = load(tmp_path, with_extra({"token": "tok-SECRET-VALUE-123", "boards": []}))
    assert len(errors) == 2
    assert not any("SECRET-VALUE" in e for e in errors)
