"""The trackers' rich text as the plain text the records carry, and checklists read from it.

`plain_text` flattens a description (or any rich-text field) into lines the governance
rules read: a Jira Cloud (REST v3) Atlassian Document Format document, or the HTML Azure
DevOps keeps in `System.Description`; wiki or markdown text (Jira REST v2, Trello) stays
as it is. Each block ends a line; a heading becomes ``h<level>. <text>`` (wiki markup, which
the acceptance-criteria rule's section finder knows); a list item starts with ``* ``.

`checklist_items` reads a checklist kept in a field: a list of item objects (Jira checklist
apps answer `[{"name", "checked"}, ...]`), an ADF task list, or text with one item a line
(``- [x] done``, ``- [ ] to do``, Smart Checklist's ``+ done`` / ``- to do``, or a plain
line: not checked). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

from pmo_sync.domain import CheckItem

__all__ = ["checklist_items", "plain_text", "text_or_none", "written_text"]

_WORD = re.compile(r"\w")
_BLOCKS = frozenset(
    {
        "paragraph",
        "heading",
        "listItem",
        "codeBlock",
        "blockquote",
        "rule",
        "tableRow",
        "panel",
        "taskItem",
        "decisionItem",
        "mediaSingle",
    }
)


def plain_text(value: Any) -> str:
    """A description as plain text: a string as it is (HTML flattened); an ADF document
    flattened. Mentions, emoji and dates keep their visible text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _html_text(value) if _HTML.match(value) else value
    parts: list[str] = []
    _walk(value, parts)
    lines = "".join(parts).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def text_or_none(value: Any) -> str | None:
    """`plain_text` of a field's value; None for a field the tracker left null."""
    return None if value is None else plain_text(value)


def written_text(value: Any) -> str | None:
    """`plain_text` of a field's value when it says something (a word); else None: a field
    left null, blank, or an empty document or HTML block."""
    text = None if value is None else plain_text(value)
    return text if text is not None and _WORD.search(text) else None


def _attrs(node: Mapping[str, Any]) -> Mapping[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, Mapping) else {}


def _walk(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _walk(child, parts)
        return
    if not isinstance(node, Mapping):
        return
    kind = node.get("type")
    attrs = _attrs(node)
    if kind == "text":
        parts.append(str(node.get("text", "")))
        return
    if kind == "hardBreak":
        parts.append("\n")
        return
    if kind in ("mention", "emoji", "status", "date", "inlineCard"):
        parts.append(str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or ""))
        return
    if kind == "heading":
        parts.append(f"h{attrs.get('level', 1)}. ")
    elif kind in ("listItem", "taskItem"):
        parts.append("* ")
    _walk(node.get("content", []), parts)
    if kind in _BLOCKS:
        parts.append("\n")
    elif kind == "tableCell" or kind == "tableHeader":
        parts.append(" | ")


_HTML = re.compile(r"\s*<(?:div|p|h[1-6]|ul|ol|li|br|span|b|strong|table|em|i)\b", re.IGNORECASE)
_HTML_BLOCKS = frozenset({"div", "p", "li", "tr", "ul", "ol", "table", "blockquote", "pre"})


class _HtmlText(HTMLParser):
    """Azure DevOps rich text → the same line shapes `_walk` gives ADF: a heading as
    ``h<level>. text``, a list item as ``* text``, each block on its own line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.parts.append(f"\nh{tag[1]}. ")
        elif tag == "li":
            self.parts.append("\n* ")
        elif tag in _HTML_BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_BLOCKS or (len(tag) == 2 and tag[0] == "h" and tag[1].isdigit()):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data.replace("\xa0", " "))


def _html_text(value: str) -> str:
    parser = _HtmlText()
    parser.feed(value)
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line.strip())


# -- checklists ------------------------------------------------------------------------------

_TEXT_KEYS = ("name", "text", "title", "summary")
_CHECKED_KEYS = ("checked", "isChecked", "done", "complete")
_DONE_STATES = frozenset({"complete", "completed", "done", "checked", "true"})
_BOX = re.compile(r"^(?:[-*+]\s+)?\[([ xX✓✔]?)\]\s*(.*)$")
"""A markdown task-list line: ``- [x] text``, ``* [ ] text``, ``[x] text``."""
_BULLET = re.compile(r"^([-*+~])\s+(.*)$")
"""A bulleted line: ``+ text`` is checked (Smart Checklist's done), the others are not."""
_HEADER = re.compile(r"^(?:#{1,6}\s|h[1-6]\.\s)", re.IGNORECASE)


def checklist_items(value: Any) -> tuple[CheckItem, ...]:
    """The checklist a field holds, in its order; items without text are left out."""
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple):
        items = (_object_item(v) for v in value)
        return tuple(i for i in items if i is not None)
    if isinstance(value, Mapping):
        tasks: list[CheckItem] = []
        _tasks(value, tasks)
        return tuple(tasks) if tasks else _lines(plain_text(value))
    return _lines(plain_text(str(value)))


def _object_item(value: Any) -> CheckItem | None:
    """One item of a list: an object (`name`/`text`, `checked`/`state`) or a plain string."""
    if isinstance(value, str):
        found = _lines(value)
        return found[0] if found else None
    if not isinstance(value, Mapping) or value.get("isHeader"):
        return None
    text = next((str(value[k]) for k in _TEXT_KEYS if value.get(k) not in (None, "")), "")
    if not text.strip():
        return None
    checked = next((bool(value[k]) for k in _CHECKED_KEYS if k in value), None)
    if checked is None:
        state = value.get("state") or value.get("status")
        if isinstance(state, Mapping):
            state = state.get("name") or state.get("id")
        checked = str(state or "").strip().lower() in _DONE_STATES
    return CheckItem(plain_text(text).strip(), checked)


def _tasks(node: Any, found: list[CheckItem]) -> None:
    """The task items of an ADF document (`taskItem`, `attrs.state` DONE or TODO)."""
    if isinstance(node, list):
        for child in node:
            _tasks(child, found)
        return
    if not isinstance(node, Mapping):
        return
    if node.get("type") == "taskItem":
        parts: list[str] = []
        _walk(node.get("content", []), parts)
        text = " ".join("".join(parts).split())
        if text:
            attrs = _attrs(node)
            found.append(CheckItem(text, str(attrs.get("state", "")).upper() == "DONE"))
        return
    _tasks(node.get("content", []), found)


def _lines(text: str) -> tuple[CheckItem, ...]:
    items = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _HEADER.match(line):
            continue
        box = _BOX.match(line)
        if box is not None:
            mark, body = box.groups()
            if body.strip():
                items.append(CheckItem(body.strip(), mark not in ("", " ")))
            continue
        bullet = _BULLET.match(line)
        if bullet is not None:
            mark, body = bullet.groups()
            if body.strip():
                items.append(CheckItem(body.strip(), mark == "+"))
            continue
        items.append(CheckItem(line, False))
    return tuple(items)
