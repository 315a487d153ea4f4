"""Loading the admin's connector files: one file per connector under `<config_dir>/connectors/`.

Loading never stops at the first problem: every file is read and validated,
and each problem becomes a `ConfigError` that names the file, the field and
what is wrong, so `pmo-sync connectors validate` can list them all at once and
the service can run the connectors whose files are valid.

A file's `kind` picks the connector's config model through a pydantic
discriminated union built from the installed connectors. Secret values
resolved while validating (`${ENV_VAR}` or `*_file`) are registered with the
log redactor before any connector can log them. Reading the files and
translating validation errors is `pmo_sync.common.configfiles`, shared with the
policy and KPI files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args

from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError

from connectors.base import ConnectorConfig
from pmo_sync.common.configfiles import (
    DIRECTORY_FIELD,
    ConfigError,
    read_yaml_documents,
    translate_validation_error,
)
from pmo_sync.common.redaction import redact_text, register_secret

__all__ = [
    "CONNECTORS_DIR",
    "EXAMPLES_DIR",
    "ConfigLoad",
    "ConnectorFileRow",
    "InvalidFile",
    "configured_connectors",
    "connector_file_rows",
    "connector_models",
    "load_connector_configs",
    "no_connector_files_message",
]

CONNECTORS_DIR = "connectors"
EXAMPLES_DIR = "config/examples/connectors/"
"""Where the shipped example connector files live (in the repository and the image's docs):
never under a config directory's `connectors/`, so an example missing its token cannot
stand beside the admin's own file and fail the run."""


@dataclass(frozen=True, slots=True)
class InvalidFile:
    """A connector file that did not validate: skipped, with everything wrong in it.

    `name` and `kind` are what the file says, when it says them as text: enough to
    tell `--connector NAME` "that one is invalid" rather than "no such connector",
    and to show the file in `connectors list` and `status`.
    """

    path: Path
    name: str | None
    kind: str | None
    errors: tuple[ConfigError, ...]

    @property
    def label(self) -> str:
        """How lists name it: its connector name, else its file name."""
        return self.name or self.path.name


@dataclass(slots=True)
class ConfigLoad:
    """The valid configs, in file-name order, and every problem found on the way."""

    configs: list[ConnectorConfig] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    """Every problem: the invalid files' errors, and the directory's own (missing)."""
    files: dict[str, Path] = field(default_factory=dict)
    """The file each valid config came from, by connector name."""
    invalid: list[InvalidFile] = field(default_factory=list)
    """The files skipped, in file-name order, each with its errors."""
    directory: Path | None = None
    """The `connectors/` folder read (None when the config directory itself is missing)."""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def no_files(self) -> bool:
        """The config directory exists but holds no connector file at all."""
        return self.directory is not None and not self.configs and not self.invalid

    def invalid_named(self, name: str) -> InvalidFile | None:
        """The invalid file that declares connector `name`, if one does."""
        return next((f for f in self.invalid if f.name == name), None)


def no_connector_files_message(directory: Path) -> str:
    """What `sync`, `push`, `serve` and `connectors list` say when there is nothing to run."""
    return f"no connector files in {directory}: copy one from {EXAMPLES_DIR} (see config/README.md)"


# --- connectors ----------------------------------------------------------------


def connector_models() -> dict[str, type[ConnectorConfig]]:
    """The config model of every installed connector, by kind (built-ins and plug-ins)."""
    from connectors.registry import connector_classes

    return {kind: cls.config_model for kind, cls in connector_classes().items()}


def _tags(model: type[ConnectorConfig]) -> tuple[Any, ...]:
    info = model.model_fields.get("kind")
    return get_args(info.annotation) if info is not None else ()


def _connector_adapter(models: Mapping[str, type[ConnectorConfig]]) -> TypeAdapter[Any]:
    members = tuple(dict.fromkeys(models.values()))  # one member per model, in order
    # The union is built at run time from the registered kinds: a value, not a static type.
    discriminated: Any = Annotated[Union[members], Field(discriminator="kind")]  # noqa: UP007
    return TypeAdapter(discriminated)


def _register_secrets(value: Any) -> None:
    """Hand every `SecretStr` inside a validated config to the log redactor."""
    if isinstance(value, SecretStr):
        register_secret(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _register_secrets(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            _register_secrets(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _register_secrets(item)


def _validate_connector(
    path: Path,
    data: dict[str, Any],
    adapter: TypeAdapter[Any] | None,
    models: Mapping[str, type[ConnectorConfig]],
) -> ConnectorConfig | list[ConfigError]:
    known = ", ".join(sorted(models)) or "none installed"
    if adapter is None:
        return [ConfigError(path, "kind", f"unknown connector kind (known: {known})")]
    try:
        config = adapter.validate_python(data)
    except ValidationError as exc:
        by_tag = {tag: model for model in models.values() for tag in _tags(model)}
        errors: list[ConfigError] = []
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "union_tag_invalid":
                tag = (error.get("ctx") or {}).get("tag", data.get("kind"))
                message = f"unknown connector kind {tag!r} (known: {known})"
                errors.append(ConfigError(path, "kind", redact_text(message)))
            elif error["type"] == "union_tag_not_found":
                errors.append(ConfigError(path, "kind", f"field required (known: {known})"))
        if errors:
            return errors
        first = exc.errors(include_url=False, include_input=False)[0]["loc"]
        root = by_tag.get(first[0]) if first else None
        return translate_validation_error(path, exc, root, loc_offset=1)
    _register_secrets(config)
    return config


def load_connector_configs(
    config_dir: Path | str,
    models: Mapping[str, type[ConnectorConfig]] | None = None,
) -> ConfigLoad:
    """Validate `<config_dir>/connectors/*.yaml|*.yml`, in file-name order.

    `models` maps each kind to its config model; by default the installed
    connectors' (`connectors.registry`). A missing `connectors/` folder means
    no connectors; a missing `config_dir` is an error (most likely a wrong
    `PMO_SYNC_CONFIG_DIR`). A name used by an earlier file makes the later
    file an error, so the run is the same whatever else changes.
    """
    config_dir = Path(config_dir)
    result = ConfigLoad()
    if not config_dir.is_dir():
        problem = "does not exist" if not config_dir.exists() else "is not a directory"
        result.errors.append(ConfigError(config_dir, DIRECTORY_FIELD, problem))
        return result
    result.directory = config_dir / CONNECTORS_DIR
    models = connector_models() if models is None else models
    adapter = _connector_adapter(models) if models else None
    first_file: dict[str, Path] = {}

    def skip(path: Path, data: dict[str, Any] | None, errors: list[ConfigError]) -> None:
        result.errors.extend(errors)
        result.invalid.append(
            InvalidFile(path, _text(data, "name"), _text(data, "kind"), tuple(errors))
        )

    for path, data in read_yaml_documents(result.directory):
        if isinstance(data, ConfigError):
            skip(path, None, [data])
            continue
        outcome = _validate_connector(path, data, adapter, models)
        if isinstance(outcome, list):
            skip(path, data, outcome)
        elif (earlier := first_file.get(outcome.name)) is not None:
            message = f"duplicate connector name {outcome.name!r} (also in {earlier})"
            skip(path, data, [ConfigError(path, "name", message)])
        else:
            first_file[outcome.name] = path
            result.configs.append(outcome)
            result.files[outcome.name] = path
    return result


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def _text(data: Mapping[str, Any] | None, key: str) -> str | None:
    """What an invalid file gives as `key`, when it looks like a name (so nothing else a
    file holds, a pasted token say, is ever echoed in a list)."""
    value = data.get(key) if data is not None else None
    return value if isinstance(value, str) and _WORD.fullmatch(value) else None


# --- what `connectors list` shows ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectorFileRow:
    """One connector file as `connectors list` shows it: what will run, or why not."""

    file: Path
    name: str | None
    kind: str | None
    where: str | None
    schedule: str
    state: str  # ok | invalid
    errors: tuple[str, ...]
    """`key: problem` of each error (the file is the row's)."""

    @property
    def label(self) -> str:
        """The connector's name, else (a file that names none) the file's name."""
        return self.name or self.file.name

    @property
    def short_where(self) -> str:
        """`acme.atlassian.net`: the URL without scheme and trailing slash, for a table."""
        if not self.where:
            return "-"
        return self.where.split("://", 1)[-1].rstrip("/")

    def state_cell(self) -> str:
        """`ok`, or `invalid: <first error>`."""
        return "ok" if not self.errors else f"invalid: {self.errors[0]}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "name": self.name,
            "kind": self.kind,
            "where": self.where,
            "schedule": self.schedule,
            "state": self.state,
            "errors": list(self.errors),
        }


def connector_file_rows(loaded: ConfigLoad) -> list[ConnectorFileRow]:
    """Every connector file of a load, valid or not, in file-name order."""
    from connectors.base import describe_schedule

    rows: list[ConnectorFileRow] = []
    for config in loaded.configs:
        where = getattr(config, "url", None) or getattr(config, "organization_url", None)
        rows.append(
            ConnectorFileRow(
                file=loaded.files[config.name],
                name=config.name,
                kind=config.kind,
                where=str(where) if where else None,
                schedule=describe_schedule(config.schedule) if config.schedule else "by hand",
                state="ok",
                errors=(),
            )
        )
    for invalid in loaded.invalid:
        rows.append(
            ConnectorFileRow(
                file=invalid.path,
                name=invalid.name,
                kind=invalid.kind,
                where=None,
                schedule="-",
                state="invalid",
                errors=tuple(f"{e.field}: {e.message}" for e in invalid.errors),
            )
        )
    return sorted(rows, key=lambda row: row.file.name)


def configured_connectors(config_dir: Path) -> set[str]:
    """The `name` of each connector file, read without validating the rest of the file: what
    kpis.yaml and portfolio.yaml check a connector name against (a file broken elsewhere still
    names its connector)."""
    return {
        data["name"]
        for _path, data in read_yaml_documents(config_dir / CONNECTORS_DIR)
        if isinstance(data, dict) and isinstance(data.get("name"), str)
    }
