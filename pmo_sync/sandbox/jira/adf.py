"""Plain text <-> Atlassian Document Format, as far as comment bodies need it.

REST v2 takes and returns comment bodies as plain text, REST v3 as ADF. The
sandbox stores a body exactly as it was written and converts it on the way out:
`plain_doc` wraps text in a minimal document (a paragraph per blank-line
separated block, a hardBreak per single newline) and `doc_text` flattens any
document back to text, so text -> ADF -> text is the identity for ordinary text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["body_text", "doc_text", "is_doc", "plain_doc"]

# Nodes whose children are blocks: their blocks are separated by one newline.
_INLINE_CONTAINERS = frozenset({"paragraph", "heading"})


def is_doc(value: Any) -> bool:
    """Whether `value` looks like an ADF document (a dict with type "doc" and content)."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and isinstance(value.get("content", []), list)
    )


def plain_doc(text: str) -> dict[str, Any]:
    """A minimal ADF document holding `text`."""
    content: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        if not block:
            continue
        inline: list[dict[str, Any]] = []
        for n, line in enumerate(block.split("\n")):
            if n:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    return {"type": "doc", "version": 1, "content": content}


def _node_text(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date", "inlineCard"):
        attrs = node.get("attrs") or {}
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or "")
    children = node.get("content") or []
    if kind in _INLINE_CONTAINERS:
        return "".join(_node_text(c) for c in children)
    return "\n".join(t for t in (_node_text(c) for c in children) if t)


def doc_text(doc: Any) -> str:
    """The text of an ADF document: top-level blocks joined by blank lines."""
    if not isinstance(doc, dict):
        return ""
    blocks = [_node_text(c) for c in doc.get("content") or []]
    return "\n\n".join(b for b in blocks if b)


def body_text(body: str | dict[str, Any]) -> str:
    """A stored body (text or ADF) as plain text."""
    return body if isinstance(body, str) else doc_text(body)
