"""Loading connector files: every kind of mistake is reported as `file: field: message`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from connectors.azure_devops.config import AzureDevOpsConfig
from connectors.base import ConnectorConfig
from connectors.jira.config import JiraConfig
from connectors.trello.config import TrelloConfig
from pmo_sync.common.configfiles import ConfigError
from pmo_sync.common.redaction import clear_secrets, redact_text
from pmo_sync.config import ConfigLoad, load_connector_configs

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"
EXAMPLES = REPO_CONFIG / "examples"  # a config dir of its own: examples/connectors/*.yaml
MODELS = {"jira": JiraConfig}
REPO_MODELS = {"jira": JiraConfig, "azure_devops": AzureDevOpsConfig, "trello": TrelloConfig}
TOKEN = "tok-4f9d2c81e7b3a6"  # distinctive, so any echo of it is found

VALID = """\
name: acme-jira
kind: jira
url: https://acme.atlassian.net
email: pmo-bot@acme.example
token: ${JIRA_API_TOKEN}
jql: project in (ABC, DEF)
"""


class DummyConfig(ConnectorConfig):
    kind: Literal["dummy"] = "dummy"
    path: str


@pytest.fixture(autouse=True)
def token_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)
    yield
    clear_secrets()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "connectors").mkdir()
    return tmp_path


def write(config_dir: Path, name: str, text: str) -> Path:
    path = config_dir / "connectors" / name
    path.write_text(text, encoding="utf-8")
    return path


def load(config_dir: Path, models: dict[str, type[ConnectorConfig]] | None = None) -> ConfigLoad:
    return load_connector_configs(config_dir, MODELS if models is None else models)


def replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def only_error(config_dir: Path, text: str, name: str = "acme.yaml") -> ConfigError:
    path = write(config_dir, name, text)
    result = load(config_dir)
    assert result.configs == []
    assert len(result.errors) == 1, result.errors
    (error,) = result.errors
    assert error.file == path
    return error


# --- the example file ----------------------------------------------------------


def test_example_files_are_valid_when_the_tokens_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADO_PAT", "ado-pat-5e1b")
    monkeypatch.setenv("TRELLO_API_KEY", "trello-key-0c1d")
    monkeypatch.setenv("TRELLO_TOKEN", "trello-token-7a2b")
    result = load(EXAMPLES, REPO_MODELS)
    assert result.errors == []
    config, trello, ado = result.configs  # in file-name order
    assert isinstance(trello, TrelloConfig)
    assert (trello.name, trello.api_url, trello.boards) == (
        "acme-trello",
        "https://api.trello.com/1",
        ["Team Alpha", "Team Beta"],
    )
    assert trello.token.get_secret_value() == "trello-token-7a2b"
    assert isinstance(ado, AzureDevOpsConfig)
    assert (ado.name, str(ado.organization_url), ado.project) == (
        "contoso-ado",
        "https://dev.azure.com/contoso",
        "Fabrikam",
    )
    assert ado.token.get_secret_value() == "ado-pat-5e1b"
    assert isinstance(config, JiraConfig)
    assert config.name == "acme-jira"
    assert str(config.url) == "https://acme.atlassian.net/"
    assert config.email == "pmo-bot@acme.example"
    assert config.token.get_secret_value() == TOKEN
    assert config.jql == "project in (ABC, DEF)"


def test_example_file_fails_precisely_without_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIRA_API_TOKEN")
    monkeypatch.setenv("ADO_PAT", "ado-pat-5e1b")
    monkeypatch.setenv("TRELLO_API_KEY", "trello-key-0c1d")
    monkeypatch.setenv("TRELLO_TOKEN", "trello-token-7a2b")
    result = load(EXAMPLES, REPO_MODELS)
    # the other files still load
    assert [c.name for c in result.configs] == ["acme-trello", "contoso-ado"]
    assert result.errors == [
        ConfigError(
            EXAMPLES / "connectors" / "acme-jira.yaml",
            "token",
            "environment variable JIRA_API_TOKEN is not set",
        )
    ]


def test_example_file_is_exactly_the_pinned_one() -> None:
    text = (EXAMPLES / "connectors" / "acme-jira.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "\n".join(lines) + "\n" == VALID


def test_the_azure_devops_example_is_exactly_the_issues_file() -> None:
    text = (EXAMPLES / "connectors" / "contoso-ado.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == [
        "name: contoso-ado",
        "kind: azure_devops",
        "organization_url: https://dev.azure.com/contoso",
        "token: ${ADO_PAT}",
        "project: Fabrikam",
    ]


def test_error_string_is_file_field_message() -> None:
    error = ConfigError(Path("config/connectors/acme.yaml"), "token", "is wrong")
    assert str(error) == "config/connectors/acme.yaml: token: is wrong"


# --- one error of each kind ------------------------------------------------------


def test_unset_environment_variable(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIRA_API_TOKEN")
    error = only_error(config_dir, VALID)
    assert str(error) == (
        f"{config_dir}/connectors/acme.yaml: token: environment variable JIRA_API_TOKEN is not set"
    )


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_environment_variable_is_named_as_empty_not_missing(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", value)
    error = only_error(config_dir, VALID)
    assert str(error) == (
        f"{config_dir}/connectors/acme.yaml: token: environment variable JIRA_API_TOKEN "
        "is set but empty"
    )


def test_unknown_kind(config_dir: Path) -> None:
    error = only_error(config_dir, replace(VALID, "kind: jira", "kind: jiraa"))
    assert (error.field, error.message) == ("kind", "unknown connector kind 'jiraa' (known: jira)")


def test_unknown_kind_lists_every_known_kind(config_dir: Path) -> None:
    write(config_dir, "acme.yaml", replace(VALID, "kind: jira", "kind: trello"))
    result = load(config_dir, {"jira": JiraConfig, "dummy": DummyConfig})
    assert [(e.field, e.message) for e in result.errors] == [
        ("kind", "unknown connector kind 'trello' (known: dummy, jira)")
    ]


def test_missing_kind(config_dir: Path) -> None:
    error = only_error(config_dir, replace(VALID, "kind: jira\n", ""))
    assert (error.field, error.message) == ("kind", "field required (known: jira)")


def test_union_picks_the_model_by_kind(config_dir: Path) -> None:
    write(config_dir, "a.yaml", VALID)
    write(config_dir, "b.yaml", "name: local\nkind: dummy\npath: /tmp/x\n")
    result = load(config_dir, {"jira": JiraConfig, "dummy": DummyConfig})
    assert result.errors == []
    assert [type(c) for c in result.configs] == [JiraConfig, DummyConfig]


def test_no_connector_kinds_installed(config_dir: Path) -> None:
    write(config_dir, "acme.yaml", VALID)
    result = load(config_dir, {})
    assert [(e.field, e.message) for e in result.errors] == [
        ("kind", "unknown connector kind (known: none installed)")
    ]


def test_invalid_url(config_dir: Path) -> None:
    error = only_error(config_dir, replace(VALID, "https://acme.atlassian.net", "acme"))
    assert (error.field, error.message) == (
        "url",
        "Input should be a valid URL, relative URL without a base",
    )


def test_missing_field(config_dir: Path) -> None:
    error = only_error(config_dir, replace(VALID, "jql: project in (ABC, DEF)\n", ""))
    assert str(error).endswith("acme.yaml: jql: field required")


def test_missing_secret_says_how_to_give_it(config_dir: Path) -> None:
    error = only_error(config_dir, replace(VALID, "token: ${JIRA_API_TOKEN}\n", ""))
    assert (error.field, error.message) == (
        "token",
        "field required (a ${ENV_VAR} reference, or token_file: <path>)",
    )


def test_invalid_yaml_gives_line_and_column(config_dir: Path) -> None:
    error = only_error(config_dir, "name: a\nkind: jira\njql: x\n  token: y\n")
    assert (error.field, error.message) == (
        "(file)",
        "not valid YAML: line 4, column 8: mapping values are not allowed here",
    )


def test_duplicate_yaml_key(config_dir: Path) -> None:
    error = only_error(config_dir, VALID + "jql: project = XYZ\n")
    assert (error.field, error.message) == (
        "(file)",
        "not valid YAML: line 7, column 1: duplicate key 'jql'",
    )


def test_yaml_merge_keys_may_be_overridden(config_dir: Path) -> None:
    text = VALID + "schedule:\n  <<: {interval_minutes: 5}\n  interval_minutes: 10\n"
    write(config_dir, "acme.yaml", text)
    result = load(config_dir)
    assert result.errors == []
    assert result.configs[0].schedule.interval_minutes == 10


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_not_a_mapping(config_dir: Path, text: str) -> None:
    error = only_error(config_dir, text)
    assert (error.field, error.message) == ("(file)", "must be a mapping of keys to values")


def test_empty_file(config_dir: Path) -> None:
    error = only_error(config_dir, "# nothing yet\n")
    assert (error.field, error.message) == (
        "(file)",
        "must be a mapping of keys to values (file is empty)",
    )


def test_not_utf8(config_dir: Path) -> None:
    path = config_dir / "connectors" / "acme.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    (error,) = load(config_dir).errors
    assert (error.file, error.field, error.message) == (path, "(file)", "not UTF-8 text")


def test_unknown_key_suggests_the_closest(config_dir: Path) -> None:
    write(config_dir, "acme.yaml", replace(VALID, "jql:", "jqll:"))
    result = load(config_dir)
    assert [str(e) for e in result.errors] == [
        f"{config_dir}/connectors/acme.yaml: jql: field required",
        f"{config_dir}/connectors/acme.yaml: jqll: unknown key (did you mean 'jql'?)",
    ]


def test_unknown_key_without_a_close_match(config_dir: Path) -> None:
    error = only_error(config_dir, VALID + "colour: blue\n")
    assert (error.field, error.message) == ("colour", "unknown key")


def test_unknown_key_suggests_a_secret_file_key(config_dir: Path) -> None:
    write(config_dir, "acme.yaml", replace(VALID, "token: ${JIRA_API_TOKEN}", "token_fil: /x"))
    result = load(config_dir)
    assert [(e.field, e.message) for e in result.errors] == [
        ("token", "field required (a ${ENV_VAR} reference, or token_file: <path>)"),
        ("token_fil", "unknown key (did you mean 'token_file'?)"),
    ]


def test_unknown_nested_key_uses_the_nested_model(config_dir: Path) -> None:
    error = only_error(config_dir, VALID + "schedule:\n  crn: '0 6 * * *'\n")
    assert (error.field, error.message) == ("schedule.crn", "unknown key (did you mean 'cron'?)")


def test_nested_validator_error_names_the_nested_field(config_dir: Path) -> None:
    error = only_error(config_dir, VALID + "schedule:\n  cron: '* *'\n")
    assert (error.field, error.message) == (
        "schedule.cron",
        "cron '* *' must have five fields: minute hour day month weekday",
    )


def test_nested_model_error_without_a_field(config_dir: Path) -> None:
    text = VALID + "schedule:\n  interval_minutes: 5\n  cron: '0 6 * * *'\n"
    error = only_error(config_dir, text)
    assert (error.field, error.message) == (
        "schedule",
        "give exactly one of interval_minutes, interval_seconds or cron",
    )


def test_list_items_are_indexed(config_dir: Path) -> None:
    error = only_error(config_dir, VALID + "boards: [12, x]\n")
    assert (error.field, error.message) == (
        "boards[1]",
        "Input should be a valid integer, unable to parse string as an integer",
    )


def test_dict_values_are_named_by_key(config_dir: Path) -> None:
    error = only_error(config_dir, VALID + "status_map:\n  In Review: reviewing\n")
    assert (error.field, error.message) == (
        "status_map.In Review",
        "Input should be 'todo', 'in_progress' or 'done'",
    )


def test_model_validator_naming_a_field(config_dir: Path) -> None:
    error = only_error(config_dir, replace(VALID, "email: pmo-bot@acme.example\n", ""))
    assert (error.field, error.message) == (
        "email",
        "email is required for Jira Cloud (the API token's account)",
    )


def test_server_deployment_needs_no_email(config_dir: Path) -> None:
    text = replace(VALID, "email: pmo-bot@acme.example\n", "deployment: server\n")
    write(config_dir, "acme.yaml", text)
    result = load(config_dir)
    assert result.errors == []


# --- secrets -----------------------------------------------------------------------


def test_inline_token_is_refused(config_dir: Path) -> None:
    error = only_error(config_dir, replace(VALID, "${JIRA_API_TOKEN}", "hunter2-inline-token"))
    assert (error.field, error.message) == (
        "token",
        "must be a ${ENV_VAR} reference (or use the matching *_file key); "
        "secrets are never written inline in config files",
    )
    assert "hunter2-inline-token" not in repr(error)


def test_token_file(config_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "jira_token"
    secret.write_text("file-token-93c1d7e2\n", encoding="utf-8")
    write(
        config_dir, "acme.yaml", replace(VALID, "token: ${JIRA_API_TOKEN}", f"token_file: {secret}")
    )
    result = load(config_dir)
    assert result.errors == []
    assert result.configs[0].token.get_secret_value() == "file-token-93c1d7e2"


def test_missing_token_file(config_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    error = only_error(
        config_dir, replace(VALID, "token: ${JIRA_API_TOKEN}", f"token_file: {missing}")
    )
    assert (error.field, error.message) == (
        "token_file",
        f"cannot read {missing}: No such file or directory",
    )


def test_empty_token_file(config_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    error = only_error(
        config_dir, replace(VALID, "token: ${JIRA_API_TOKEN}", f"token_file: {empty}")
    )
    assert (error.field, error.message) == ("token_file", f"{empty} is empty")


def test_token_and_token_file_together(config_dir: Path, tmp_path: Path) -> None:
    error = only_error(config_dir, VALID + f"token_file: {tmp_path}/t\n")
    assert (error.field, error.message) == ("(config)", "give either token or token_file, not both")


def test_secret_values_never_appear_in_errors(config_dir: Path) -> None:
    text = (
        replace(VALID, "https://acme.atlassian.net", "not a url")
        + f"tokn: {TOKEN}\n"
        + f"page_size: {TOKEN}\n"
        + "boards: [x]\n"
    )
    write(config_dir, "acme.yaml", text)
    result = load(config_dir)
    assert len(result.errors) == 4
    for error in result.errors:
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)


def test_valid_configs_register_their_secrets(config_dir: Path) -> None:
    assert redact_text(f"x {TOKEN} y") == f"x {TOKEN} y"
    write(config_dir, "acme.yaml", VALID)
    assert load(config_dir).errors == []
    assert redact_text(f"x {TOKEN} y") == "x *** y"


# --- directory handling -------------------------------------------------------------


def test_duplicate_names_name_both_files(config_dir: Path) -> None:
    first = write(config_dir, "a.yaml", VALID)
    second = write(config_dir, "b.yml", VALID)
    result = load(config_dir)
    assert [c.name for c in result.configs] == ["acme-jira"]
    assert result.errors == [
        ConfigError(second, "name", f"duplicate connector name 'acme-jira' (also in {first})")
    ]


def test_files_load_in_name_order_and_others_are_ignored(config_dir: Path) -> None:
    write(config_dir, "b.yaml", replace(VALID, "acme-jira", "second"))
    write(config_dir, "a.yml", replace(VALID, "acme-jira", "first"))
    write(config_dir, ".a.yaml.swp.yaml", "not: [valid")
    write(config_dir, "notes.txt", "not yaml: [")
    write(config_dir, "c.yaml.example", "not yaml: [")
    (config_dir / "connectors" / "d.yaml").mkdir()
    result = load(config_dir)
    assert result.errors == []
    assert [c.name for c in result.configs] == ["first", "second"]


def test_one_bad_file_does_not_stop_the_others(config_dir: Path) -> None:
    write(config_dir, "a.yaml", "name: [")
    write(config_dir, "b.yaml", VALID)
    result = load(config_dir)
    assert [c.name for c in result.configs] == ["acme-jira"]
    assert [e.file.name for e in result.errors] == ["a.yaml"]
    assert not result.ok
    (skipped,) = result.invalid
    assert (skipped.path.name, skipped.name, skipped.label) == ("a.yaml", None, "a.yaml")


def test_an_invalid_file_keeps_the_name_and_kind_it_declares(config_dir: Path) -> None:
    write(config_dir, "a.yaml", VALID)
    duplicate = write(config_dir, "b.yaml", VALID)
    typo = write(config_dir, "c.yaml", replace(VALID, "acme-jira", "other").replace("jql", "jqll"))
    result = load(config_dir)
    assert [(f.path, f.name, f.kind, len(f.errors)) for f in result.invalid] == [
        (duplicate, "acme-jira", "jira", 1),
        (typo, "other", "jira", 2),  # jqll unknown, jql missing
    ]
    assert result.invalid_named("other") is result.invalid[1]
    assert result.invalid_named("acme-jira") is result.invalid[0]
    assert result.invalid_named("nobody") is None


def test_an_invalid_file_shows_no_name_that_is_not_a_name(config_dir: Path) -> None:
    write(config_dir, "a.yaml", replace(VALID, "name: acme-jira", f"name: 'Bearer {TOKEN}'"))
    (skipped,) = load(config_dir).invalid
    assert (skipped.name, skipped.kind, skipped.label) == (None, "jira", "a.yaml")


def test_the_repository_config_dir_runs_no_example_connector() -> None:
    """The shipped examples sit in config/examples/: a user's own file in config/connectors/
    never stands beside an example that lacks its token."""
    result = load(REPO_CONFIG, REPO_MODELS)
    assert (result.configs, result.invalid, result.no_files) == ([], [], True)


def test_empty_connectors_dir(config_dir: Path) -> None:
    result = load(config_dir)
    assert (result.configs, result.errors, result.ok, result.no_files) == ([], [], True, True)


def test_config_dir_without_connectors_dir(tmp_path: Path) -> None:
    result = load(tmp_path)
    assert (result.configs, result.errors) == ([], [])


def test_missing_config_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = load_connector_configs(str(missing), MODELS)
    assert result.errors == [ConfigError(missing, "(directory)", "does not exist")]


def test_default_models_come_from_the_registry(config_dir: Path) -> None:
    pytest.importorskip("connectors.jira", exc_type=ImportError)
    write(config_dir, "acme.yaml", VALID)
    result = load_connector_configs(config_dir)
    assert result.errors == []
    assert result.configs[0].kind == "jira"
