"""The bot comment's exact text: order, required marks, escaping, the marker, the footer."""

from __future__ import annotations

from pmo_sync.governance.model import Finding, Mode, Severity, finding_identity
from pmo_sync.writeback.comment import (
    escape_wiki,
    is_bot_comment,
    render_comment,
    resolved_comment,
)


def finding(rule_id: str, severity: Severity, message: str, mode: Mode = "advisory") -> Finding:
    return Finding(
        rule_id=rule_id,
        rule=rule_id,
        severity=severity,
        mode=mode,
        scope="item",
        scope_key="ABC-12",
        team="Alpha",
        source="jira",
        message=message,
        details={"age_days": 9.0},  # grows with time: never in the comment
        identity=finding_identity(rule_id, "item", "jira", "ABC-12"),
    )


STALE = finding(
    "stale", "warning", "ABC-12 has been in progress with no update for more than 5 days"
)
NO_AC = finding(
    "acceptance-criteria",
    "critical",
    "ABC-12 has no acceptance criteria (looked in the description's 'Acceptance Criteria' section)",
    mode="enforced",
)
NO_ESTIMATE = finding("estimate", "warning", "ABC-12 has no estimate", mode="enforced")
UNASSIGNED = finding("assignee", "info", "ABC-12 is in progress with no assignee")


def test_the_comment_is_exact_worst_first_then_by_rule_id() -> None:
    text = render_comment("ABC-12", [UNASSIGNED, STALE, NO_AC, NO_ESTIMATE], "[pmo-sync]")
    assert text == (
        "[pmo-sync] 4 governance findings on ABC-12:\n"
        "- critical, required: ABC-12 has no acceptance criteria (looked in the description's"
        " 'Acceptance Criteria' section) (rule acceptance-criteria)\n"
        "- warning, required: ABC-12 has no estimate (rule estimate)\n"
        "- warning: ABC-12 has been in progress with no update for more than 5 days (rule stale)\n"
        "- info: ABC-12 is in progress with no assignee (rule assignee)\n"
        "\n"
        "Managed by pmo-sync: edited in place when these findings change, deleted when they are"
        " all resolved. Changes made here by hand are overwritten."
    )


def test_the_text_does_not_depend_on_the_findings_order() -> None:
    findings = [UNASSIGNED, STALE, NO_AC, NO_ESTIMATE]
    assert render_comment("ABC-12", findings) == render_comment("ABC-12", findings[::-1])


def test_one_finding_and_the_resolve_footer() -> None:
    assert render_comment("ABC-12", [STALE], "<<bot>>", on_clear="resolve") == (
        "<<bot>> 1 governance finding on ABC-12:\n"
        "- warning: ABC-12 has been in progress with no update for more than 5 days (rule stale)\n"
        "\n"
        "Managed by pmo-sync: edited in place when these findings change, marked resolved when"
        " they are all resolved. Changes made here by hand are overwritten."
    )


def test_no_findings_no_comment() -> None:
    assert render_comment("ABC-12", []) is None
    assert render_comment("ABC-12", [finding("x", "info", "off", mode="off")]) is None


def test_the_resolved_note_is_exact() -> None:
    assert resolved_comment("ABC-12") == (
        "[pmo-sync] All governance findings on ABC-12 are resolved.\n"
        "\n"
        "Managed by pmo-sync: edited in place if new findings appear."
    )


def test_markup_in_the_data_is_escaped_but_the_marker_is_not() -> None:
    odd = finding("carry_over", "warning", "{code} *Q3* sprint [x]\nhas |pipes| and -strike-")
    assert render_comment("ABC-12", [odd], "[pmo-sync]") == (
        "[pmo-sync] 1 governance finding on ABC-12:\n"
        "- warning: \\{code\\} \\*Q3\\* sprint \\[x\\] has \\|pipes\\| and \\-strike\\-"
        " (rule carry_over)\n"
        "\n"
        "Managed by pmo-sync: edited in place when these findings change, deleted when they are"
        " all resolved. Changes made here by hand are overwritten."
    )


def test_escaping_leaves_keys_field_ids_and_plain_dashes_alone() -> None:
    cases = {
        "ABC-12 in customfield_10042": "ABC-12 in customfield_10042",
        "Alpha / In Progress - 3 items": "Alpha / In Progress - 3 items",
        "-5 days, _it_, +u+, ^s^, ~b~": "\\-5 days, \\_it\\_, \\+u\\+, \\^s\\^, \\~b\\~",
        "why?? not! a|b": "why\\?\\? not\\! a\\|b",
        "two\tlines\nhere": "two lines here",
    }
    assert {text: escape_wiki(text) for text in cases} == cases


def test_bot_comments_are_recognised_by_a_leading_marker_only() -> None:
    text = render_comment("ABC-12", [STALE])
    assert text is not None and is_bot_comment(text)
    assert is_bot_comment(resolved_comment("ABC-12"))
    assert not is_bot_comment("As the [pmo-sync] comment says, ...")
    assert not is_bot_comment(text, marker="[other-bot]")


def test_a_requests_sentence_opens_the_comment_with_or_without_findings() -> None:
    """The sentence is a line of its own above the findings; alone it still makes a comment;
    markup in it (a team called ``*Core*``, a ``{code}`` note) is escaped like a finding."""
    when = "85% likely done by 2027-01-20; due 2027-01-15: 62% likely by then"
    assert render_comment("ABC-12", [STALE], when=when, on_clear="resolve") == (
        "[pmo-sync] ABC-12\n"
        "When: 85% likely done by 2027-01-20; due 2027-01-15: 62% likely by then\n"
        "1 governance finding:\n"
        "- warning: ABC-12 has been in progress with no update for more than 5 days"
        " (rule stale)\n"
        "\n"
        "Managed by pmo-sync: edited in place when its forecast or findings change, marked"
        " resolved when it is done and no finding remains. Changes made here by hand are"
        " overwritten."
    )
    alone = render_comment("ABC-12", [], when=f"{when}; waiting on DEF-3 of *Core* {{code}}")
    assert alone == (
        "[pmo-sync] ABC-12\n"
        "When: 85% likely done by 2027-01-20; due 2027-01-15: 62% likely by then;"
        " waiting on DEF-3 of \\*Core\\* \\{code\\}\n"
        "\n"
        "Managed by pmo-sync: edited in place when its forecast or findings change, deleted"
        " when it is done and no finding remains. Changes made here by hand are overwritten."
    )
    assert is_bot_comment(alone)
