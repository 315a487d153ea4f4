"""Custom field types the sandbox can create, and how their values are checked and shown.

Three types cover what pmo-sync writes back: a number (Jira's "float"), a date
("datepicker") and a single-line text ("textfield"). Values are checked the
way Jira checks an edit, with Jira's error messages, and written to changelog
items the way Jira writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pmo_sync.sandbox.jira.model import CustomField

__all__ = [
    "CUSTOM_TYPES",
    "TEXT_LIMIT",
    "CustomType",
    "FieldValueError",
    "change_value",
    "coerce",
    "number_string",
    "type_for",
]

_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"
TEXT_LIMIT = 255
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class CustomType:
    kind: str  # the sandbox's short name
    type_key: str
    schema_type: str
    default_searcher: str


CUSTOM_TYPES: dict[str, CustomType] = {
    t.kind: t
    for t in (
        CustomType("number", f"{_PREFIX}float", "number", f"{_PREFIX}exactnumber"),
        CustomType("date", f"{_PREFIX}datepicker", "date", f"{_PREFIX}daterange"),
        CustomType("string", f"{_PREFIX}textfield", "string", f"{_PREFIX}textsearcher"),
    )
}
_BY_KEY = {t.type_key: t for t in CUSTOM_TYPES.values()}


def type_for(name: str) -> CustomType:
    """A type by short name ("number") or full key ("...customfieldtypes:float"); KeyError."""
    found = CUSTOM_TYPES.get(name) or _BY_KEY.get(name)
    if found is None:
        raise KeyError(name)
    return found


class FieldValueError(ValueError):
    """A value a field does not accept; `message` is Jira's text for it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def coerce(field: CustomField, value: Any) -> Any:
    """The stored form of `value` for `field` (None clears it); FieldValueError if invalid.

    Numbers are stored as floats (Jira keeps a float field as a double and
    returns 3.0 for 3), dates as ISO "YYYY-MM-DD" strings, text as given.
    """
    if value is None:
        return None
    if field.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldValueError("Operation value must be a number")
        return float(value)
    if field.kind == "date":
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            return value.isoformat()
        text = str(value)
        try:
            if not _ISO_DATE.match(text):
                raise ValueError(text)
            return date.fromisoformat(text).isoformat()
        except ValueError as exc:
            raise FieldValueError(f"Error parsing date string: {value}") from exc
    if not isinstance(value, str):
        raise FieldValueError("Operation value must be a string")
    if len(value) > TEXT_LIMIT:
        raise FieldValueError(
            f"The entered text is too long. It exceeds the allowed limit of {TEXT_LIMIT} "
            "characters."
        )
    return value or None


def number_string(value: float | None) -> str | None:
    """A number as Jira writes it in a changelog: "3", "2.5"."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def change_value(field: CustomField, value: Any) -> tuple[str | None, str | None]:
    """(from/to, fromString/toString) of a changelog item for a stored value.

    Number and text items carry only the string; a date item carries the ISO
    date as the raw value and Jira's d/MMM/yy display form as the string.
    """
    if value is None:
        return None, None
    if field.kind == "number":
        return None, number_string(value)
    if field.kind == "date":
        day = date.fromisoformat(value)
        return value, f"{day.day}/{day:%b}/{day:%y}"
    return None, str(value)
