"""Reading the admin's YAML files and turning validation errors into one line each.

Every config file pmo-sync reads (connectors, policies, KPI options) goes
through here: a file is read strictly (a duplicate key is an error, not a
silent overwrite) and each problem becomes a `ConfigError` that names the
file, the field and what is wrong, so a check can list every problem at once.
Messages pass through the secret redactor.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from pmo_sync.common.redaction import redact_text

__all__ = [
    "DIRECTORY_FIELD",
    "FILE_FIELD",
    "MODEL_FIELD",
    "ConfigError",
    "read_yaml_documents",
    "read_yaml_mapping",
    "translate_validation_error",
]

FILE_FIELD = "(file)"
"""The field of an error about the file as a whole (unreadable, not YAML, not a mapping)."""
MODEL_FIELD = "(config)"
"""The field of an error about several fields together that names none of them."""
DIRECTORY_FIELD = "(directory)"

_YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class ConfigError:
    """One problem in one file; `str()` gives `file: field: message` for the admin."""

    file: Path
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


# --- reading YAML ------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice: PyYAML would silently keep the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable key: construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_files(directory: Path) -> list[Path]:
    """`*.yaml` and `*.yml` files by name, skipping dot files (editor backups, `..data`)."""
    if not directory.is_dir():
        return []
    return sorted(
        (
            p
            for p in directory.iterdir()
            if p.suffix in _YAML_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ),
        key=lambda p: p.name,
    )


def read_yaml_mapping(path: Path) -> dict[str, Any] | ConfigError:
    """One YAML file's top-level mapping, or the error (file, reason) that stopped reading it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ConfigError(path, FILE_FIELD, "not UTF-8 text")
    except OSError as exc:
        return ConfigError(path, FILE_FIELD, f"cannot read: {exc.strerror or exc}")
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or str(exc)
        return ConfigError(path, FILE_FIELD, redact_text(f"not valid YAML: {where}{problem}"))
    except yaml.YAMLError as exc:
        return ConfigError(path, FILE_FIELD, redact_text(f"not valid YAML: {exc}"))
    if data is None:
        return ConfigError(path, FILE_FIELD, "must be a mapping of keys to values (file is empty)")
    if not isinstance(data, dict):
        return ConfigError(path, FILE_FIELD, "must be a mapping of keys to values")
    return data


def read_yaml_documents(directory: Path) -> Iterator[tuple[Path, dict[str, Any] | ConfigError]]:
    """Each YAML file of `directory` with its mapping, or the error that stopped reading it."""
    for path in _yaml_files(directory):
        yield path, read_yaml_mapping(path)


# --- turning pydantic errors into admin messages -----------------------------


def _field_path(loc: Sequence[int | str]) -> str:
    """`('schedule', 'cron')` -> `schedule.cron`; `('boards', 0)` -> `boards[0]`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or MODEL_FIELD


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def _model_at(root: type[BaseModel] | None, loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model whose fields sit at `loc` (through optionals, lists and dicts), if any."""
    current = root
    for part in loc:
        if current is None:
            return None
        info = current.model_fields.get(part) if isinstance(part, str) else None
        if info is not None:
            current = next(_models_in(info.annotation), None)
    return current


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    origin_args = get_args(annotation)
    is_union = isinstance(annotation, UnionType) or getattr(annotation, "__origin__", None) is Union
    return is_union and any(a is SecretStr for a in origin_args)


def _secret_fields(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if _is_secret(info.annotation)]


def _known_keys(model: type[BaseModel]) -> list[str]:
    """Keys a file may use for `model`: its fields and each secret field's `<name>_file`."""
    return [*model.model_fields, *(f"{name}_file" for name in _secret_fields(model))]


def _unknown_key_message(key: object, model: type[BaseModel] | None) -> str:
    if model is None or not isinstance(key, str):
        return "unknown key"
    close = difflib.get_close_matches(key, _known_keys(model), n=1, cutoff=0.6)
    return f"unknown key (did you mean {close[0]!r}?)" if close else "unknown key"


_VALUE_ERROR_PREFIX = re.compile(r"^(?:Value error|Assertion failed), ")
_LEADING_KEY = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*): (?P<rest>.+)$", re.DOTALL)
_LEADING_WORD = re.compile(r"^(?P<word>[A-Za-z_][A-Za-z0-9_]*)\b")


def _validator_message(error: ErrorDetails) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, BaseException) and str(cause):
        return str(cause)
    return _VALUE_ERROR_PREFIX.sub("", error["msg"])


def _locate_model_error(
    loc: Sequence[int | str], message: str, model: type[BaseModel] | None
) -> tuple[str, str]:
    """Find the field a whole-model validator complained about, from its message.

    `token_file: cannot read ...` names it as a prefix; `email is required ...`
    starts with it; anything else stays on the model (or the nested field).
    """
    if model is None:
        return _field_path(loc), message
    keys = set(_known_keys(model))
    prefixed = _LEADING_KEY.match(message)
    if prefixed and prefixed.group("key") in keys:
        return _field_path([*loc, prefixed.group("key")]), prefixed.group("rest")
    word = _LEADING_WORD.match(message)
    if word and word.group("word") in keys:
        return _field_path([*loc, word.group("word")]), message
    return _field_path(loc), message


def translate_validation_error(
    file: Path, exc: ValidationError, root: type[BaseModel] | None, loc_offset: int = 0
) -> list[ConfigError]:
    """One `ConfigError` per pydantic error, worded for an admin, never echoing the input.

    pydantic's own `str(exc)` shows each `input_value`, which for a secret
    field is the secret; only `type`, `loc`, `msg` and `ctx` are used here.
    `loc_offset` skips leading loc parts that are not fields (a union's tag).
    """
    errors: list[ConfigError] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"][loc_offset:]
        kind = error["type"]
        if kind == "missing":
            name = loc[-1] if loc else None
            parent = _model_at(root, loc[:-1])
            message = "field required"
            if parent is not None and name in _secret_fields(parent):
                message += f" (a ${{ENV_VAR}} reference, or {name}_file: <path>)"
            field_name = _field_path(loc)
        elif kind == "extra_forbidden":
            message = _unknown_key_message(loc[-1] if loc else None, _model_at(root, loc[:-1]))
            field_name = _field_path(loc)
        elif kind in ("value_error", "assertion_error"):
            field_name, message = _locate_model_error(
                loc, _validator_message(error), _model_at(root, loc)
            )
        else:
            message = error["msg"]
            field_name = _field_path(loc)
        errors.append(ConfigError(file, field_name, redact_text(message)))
    return errors
