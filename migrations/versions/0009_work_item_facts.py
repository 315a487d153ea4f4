"""work_items.description, acceptance_criteria, parent_type, checklist: what the governance rules
read of an item, filled by the connectors at sync time (no more reading raw tracker JSON).

The three that the stored raw payloads already hold are filled from `raw_records` here, as the
connectors now fill them: the description as plain text (Jira's ADF or wiki text, Azure DevOps
HTML, Trello's markdown), Azure DevOps' acceptance criteria, Jira's parent type. So the findings
of an upgraded store stay what they were without a sync. What was never fetched before, the
Trello checklists and the Jira or Azure DevOps fields a config names (`acceptance_criteria_field`,
`checklist_field`), is filled when each item is next synced: `pmo-sync sync --full` fills every
item at once. The conversion below is a frozen copy of `connectors.richtext.plain_text` as it
was at this revision (migrations never import the app).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("acceptance_criteria", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("parent_type", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("checklist", sa.JSON(), nullable=False, server_default="[]"))
    _fill_from_raw_records(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_column("checklist")
        batch_op.drop_column("parent_type")
        batch_op.drop_column("acceptance_criteria")
        batch_op.drop_column("description")


# -- the fill ------------------------------------------------------------------------------------

_items = sa.table(
    "work_items",
    sa.column("id", sa.Integer),
    sa.column("source_id", sa.Integer),
    sa.column("external_id", sa.String),
    sa.column("description", sa.Text),
    sa.column("acceptance_criteria", sa.Text),
    sa.column("parent_type", sa.String),
)
_sources = sa.table("sources", sa.column("id", sa.Integer), sa.column("kind", sa.String))
_raw = sa.table(
    "raw_records",
    sa.column("source_id", sa.Integer),
    sa.column("external_id", sa.String),
    sa.column("payload", sa.LargeBinary),
)


def _fill_from_raw_records(conn: sa.Connection) -> None:
    query = (
        sa.select(_items.c.id, _sources.c.kind, _raw.c.payload)
        .select_from(
            _items.join(_sources, _sources.c.id == _items.c.source_id).join(
                _raw,
                (_raw.c.source_id == _items.c.source_id)
                & (_raw.c.external_id == _items.c.external_id),
            )
        )
        .where(_sources.c.kind.in_(("jira", "azure_devops", "trello")))
        .order_by(_items.c.id)
    )
    last_id = 0
    update = (
        sa.update(_items)
        .where(_items.c.id == sa.bindparam("_id"))
        .values(
            description=sa.bindparam("description"),
            acceptance_criteria=sa.bindparam("acceptance_criteria"),
            parent_type=sa.bindparam("parent_type"),
        )
    )
    while True:
        rows = conn.execute(query.where(_items.c.id > last_id).limit(BATCH)).all()
        if not rows:
            return
        values = []
        for row in rows:
            raw = json.loads(zlib.decompress(row.payload))
            facts = _facts(row.kind, raw.get("fields") or {})
            if any(v is not None for v in facts.values()):
                values.append({"_id": row.id, **facts})
        if values:
            conn.execute(update, values)
        last_id = rows[-1].id


_JIRA_TYPES = {
    "story": "story", "user story": "story", "bug": "bug", "defect": "bug", "task": "task",
    "epic": "epic", "sub-task": "subtask", "subtask": "subtask",
}  # fmt: skip


def _facts(kind: str, fields: Mapping[str, Any]) -> dict[str, str | None]:
    """What the connectors now put in the record, from the raw copy each one keeps."""
    criteria = parent_type = None
    if kind == "jira":
        description = fields.get("description")
        issuetype = ((fields.get("parent") or {}).get("fields") or {}).get("issuetype")
        if isinstance(issuetype, Mapping):
            name = str(issuetype.get("name", "")).lower()
            parent_type = "subtask" if issuetype.get("subtask") else _JIRA_TYPES.get(name, "other")
    elif kind == "azure_devops":
        description = fields.get("System.Description")
        text = _plain_text(fields.get("Microsoft.VSTS.Common.AcceptanceCriteria"))
        criteria = text if re.search(r"\w", text) else None
    else:
        description = fields.get("desc")
    return {
        "description": None if description is None else _plain_text(description),
        "acceptance_criteria": criteria,
        "parent_type": parent_type,
    }


# -- a frozen copy of connectors.richtext.plain_text -------------------------------------------

_BLOCKS = frozenset(
    {
        "paragraph", "heading", "listItem", "codeBlock", "blockquote", "rule", "tableRow",
        "panel", "taskItem", "decisionItem", "mediaSingle",
    }
)  # fmt: skip
_HTML = re.compile(r"\s*<(?:div|p|h[1-6]|ul|ol|li|br|span|b|strong|table|em|i)\b", re.IGNORECASE)
_HTML_BLOCKS = frozenset({"div", "p", "li", "tr", "ul", "ol", "table", "blockquote", "pre"})


def _plain_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _html_text(value) if _HTML.match(value) else value
    parts: list[str] = []
    _walk(value, parts)
    lines = "".join(parts).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _walk(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _walk(child, parts)
        return
    if not isinstance(node, Mapping):
        return
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), Mapping) else {}
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


class _HtmlText(HTMLParser):
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
