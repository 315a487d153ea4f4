"""Secret references in connector configs: `${ENV_VAR}` or a `*_file:` path, never inline.

A secret field is declared as `SecretRef`; its value in YAML must be a
`${NAME}` reference, resolved from the environment when the config is
validated. A sibling `<field>_file` key names a file to read it from instead
(Docker and Kubernetes secrets). The resolved value is a `SecretStr`, which
prints as `**********`, so it cannot leak through a repr or a log line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr

__all__ = ["SecretRef", "resolve_secret_files", "resolve_secret_reference"]

_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def resolve_secret_reference(value: Any) -> Any:
    """Turn `${NAME}` into the environment variable's value; refuse an inline secret."""
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a ${ENV_VAR} reference")
    match = _REFERENCE.match(value.strip())
    if match is None:
        raise ValueError(
            "must be a ${ENV_VAR} reference (or use the matching *_file key); "
            "secrets are never written inline in config files"
        )
    name = match.group(1)
    resolved = os.environ.get(name)
    if resolved is None:
        raise ValueError(f"environment variable {name} is not set")
    if not resolved.strip():  # `export X=` or `X=` in an env file: set, but no secret in it
        raise ValueError(f"environment variable {name} is set but empty")
    return SecretStr(resolved)


def resolve_secret_files(data: Any, secret_fields: tuple[str, ...]) -> Any:
    """Replace `<field>_file: path` by the file's stripped content under `<field>`."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for name in secret_fields:
        file_key = f"{name}_file"
        if file_key not in data:
            continue
        if name in data:
            raise ValueError(f"give either {name} or {file_key}, not both")
        path = Path(str(data.pop(file_key))).expanduser()
        try:
            content = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"{file_key}: cannot read {path}: {exc.strerror}") from None
        if not content:
            raise ValueError(f"{file_key}: {path} is empty")
        data[name] = SecretStr(content)
    return data


SecretRef = Annotated[SecretStr, BeforeValidator(resolve_secret_reference)]
"""A secret given as `${ENV_VAR}` in YAML (or through a `*_file` key)."""
