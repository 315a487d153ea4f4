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

__all__ = ["CONNECTORS_DIR", "ConfigLoad", "connector_models", "load_connector_configs"]

CONNECTORS_DIR = "connectors"


@dataclass(slots=True)
class ConfigLoad:
    """The valid configs, in file-name order, and every problem found on the way."""

    configs: list[ConnectorConfig] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    """The file each valid config came from, by connector name."""

    @property
    def ok(self) -> bool:
        return not self.errors


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
    models = connector_models() if models is None else models
    adapter = _connector_adapter(models) if models else None
    first_file: dict[str, Path] = {}
    for path, data in read_yaml_documents(config_dir / CONNECTORS_DIR):
        if isinstance(data, ConfigError):
            result.errors.append(data)
            continue
        outcome = _validate_connector(path, data, adapter, models)
        if isinstance(outcome, list):
            result.errors.extend(outcome)
        elif (earlier := first_file.get(outcome.name)) is not None:
            message = f"duplicate connector name {outcome.name!r} (also in {earlier})"
            result.errors.append(ConfigError(path, "name", message))
        else:
            first_file[outcome.name] = path
            result.configs.append(outcome)
            result.files[outcome.name] = path
    return result
