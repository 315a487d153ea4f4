"""The one bot comment per item: its text, rendered from the item's governance findings.

The body is a pure function of the findings (no timestamps, no counts that
grow with the clock: `Finding.message` is already stable), so the ledger's
hash of it changes only when the findings really change, and the comment is
edited only then. Lines are ordered worst first (critical, warning, info),
then by rule id, so the same findings in any order give the same text.

Format (Jira REST v2 wiki markup that reads as plain text)::

    [pmo-sync] 2 governance findings on ABC-12:
    - critical, required: ABC-12 has no acceptance criteria (rule acceptance-criteria)
    - warning: ABC-12 has been in progress with no update for more than 5 days (rule stale)

    Managed by pmo-sync: edited in place when these findings change, deleted when ...

An open request (an item at portfolio.yaml's request levels) also carries its
stakeholder sentence (`pmo_sync.portfolio.overview.stakeholder_sentence`), on its
own line above its findings, so the comment is there with no finding at all::

    [pmo-sync] ABC-12
    When: 85% likely done by 2027-01-20; due 2027-01-15: 62% likely by then; waiting on DEF-3
    1 governance finding:
    - warning: ABC-12 waits on DEF-3: ... (rule dependency-at-risk)

    Managed by pmo-sync: edited in place when its forecast or findings change, deleted when ...

The sentence holds the forecast's dates and percent, never today's date, so the
text changes only when the forecast does.

The marker starts the first line, verbatim, so the transport can find the
comment again by `is_bot_comment` when the ledger does not know it (lost
ledger, a write whose answer never came back). Text from the data (keys,
messages, rule ids) is escaped where Jira would read it as markup (a sprint
called ``{code}`` or ``*Q3*`` would otherwise break or restyle the comment);
the marker is not, since a transport matching it must see it unchanged.
Emoticon shorthands such as ``(x)`` are not escaped: rule messages do not
produce them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pmo_sync.common.writeback_config import DEFAULT_MARKER, OnClear
from pmo_sync.governance.model import SEVERITIES, Finding

__all__ = ["escape_wiki", "is_bot_comment", "render_comment", "resolved_comment"]

_ALWAYS = frozenset("{}[]|!")
"""Macros, links, table cells and images: markup wherever they stand."""
_EFFECTS = frozenset("*_+^~-")
"""Bold, italic, underline, superscript, subscript, strikethrough: markup only at a word's edge."""

_FOOTER = {
    "delete": (
        "Managed by pmo-sync: edited in place when these findings change, "
        "deleted when they are all resolved. Changes made here by hand are overwritten."
    ),
    "resolve": (
        "Managed by pmo-sync: edited in place when these findings change, "
        "marked resolved when they are all resolved. Changes made here by hand are overwritten."
    ),
}
_REQUEST_FOOTER = {
    "delete": (
        "Managed by pmo-sync: edited in place when its forecast or findings change, "
        "deleted when it is done and no finding remains. Changes made here by hand are "
        "overwritten."
    ),
    "resolve": (
        "Managed by pmo-sync: edited in place when its forecast or findings change, "
        "marked resolved when it is done and no finding remains. Changes made here by hand "
        "are overwritten."
    ),
}
_RESOLVED_FOOTER = "Managed by pmo-sync: edited in place if new findings appear."


def escape_wiki(text: str) -> str:
    """`text` on one line, with the characters Jira wiki markup would interpret escaped.

    ``{ } [ ] | !`` are always escaped. ``* _ + ^ ~ -`` are escaped only where
    they could open or close a text effect: at the start of a word and
    followed by a non-space, or at the end of one and preceded by a
    non-space. Inside a word (``ABC-12``, ``customfield_10042``) and between
    spaces (``a - b``) they are left alone, so issue keys still auto-link
    and ordinary text stays readable. ``??`` (citation) is escaped as a
    pair. Line breaks and tabs become spaces: a finding is one line.
    """
    flat = " ".join(text.split())
    out: list[str] = []
    n = len(flat)
    for i, ch in enumerate(flat):
        before = flat[i - 1] if i > 0 else " "
        after = flat[i + 1] if i + 1 < n else " "
        if ch in _ALWAYS:
            out.append("\\" + ch)
        elif ch in _EFFECTS:
            opens = not before.isalnum() and not after.isspace()
            closes = not before.isspace() and not after.isalnum()
            out.append("\\" + ch if opens or closes else ch)
        elif ch == "?" and (before == "?" or after == "?"):
            out.append("\\?")
        else:
            out.append(ch)
    return "".join(out)


def _rank(finding: Finding) -> tuple[int, str, str]:
    return (-SEVERITIES.index(finding.severity), finding.rule_id, finding.message)


def _line(finding: Finding) -> str:
    label = f"{finding.severity}, required" if finding.required else finding.severity
    return f"- {label}: {escape_wiki(finding.message)} (rule {escape_wiki(finding.rule_id)})"


def render_comment(
    key: str,
    findings: Sequence[Finding],
    marker: str = DEFAULT_MARKER,
    *,
    on_clear: OnClear = "delete",
    when: str | None = None,
) -> str | None:
    """The bot comment for item `key`: its `when` sentence and its `findings`; None when it
    has neither.

    One line per finding, worst first then by rule id; an enforced rule's
    finding says "required". `when` is an open request's stakeholder
    sentence: with it the comment opens with ``When: <sentence>`` and lives as
    long as the request is open, findings or not (see the module docstring).
    `on_clear` only changes the footer's promise of what happens when the
    findings clear. Findings with mode ``off`` are left out (the engine does
    not produce them; a hand-built list might).
    """
    shown = sorted((f for f in findings if f.mode != "off"), key=_rank)
    count = f"{len(shown)} governance finding" + ("" if len(shown) == 1 else "s")
    if when is not None:
        lines = [f"{marker} {escape_wiki(key)}", f"When: {escape_wiki(when)}"]
        if shown:
            lines += [f"{count}:", *(_line(f) for f in shown)]
        return "\n".join([*lines, "", _REQUEST_FOOTER[on_clear]])
    if not shown:
        return None
    lines = [f"{marker} {count} on {escape_wiki(key)}:", *(_line(f) for f in shown)]
    return "\n".join([*lines, "", _FOOTER[on_clear]])


def resolved_comment(key: str, marker: str = DEFAULT_MARKER) -> str:
    """What the comment becomes when its findings clear and `on_clear` is ``resolve``.

    Constant for an item (no date), so it is written once and then left
    alone until new findings appear.
    """
    head = f"{marker} All governance findings on {escape_wiki(key)} are resolved."
    return "\n".join([head, "", _RESOLVED_FOOTER])


def is_bot_comment(body: str, marker: str = DEFAULT_MARKER) -> bool:
    """Whether a comment's body is pmo-sync's: it starts with the marker.

    A prefix test, not a substring one, so a person quoting the marker in
    their own comment never has that comment adopted or deleted. Pair it
    with an author check (the service account) in the transport.
    """
    return body.startswith(marker)
