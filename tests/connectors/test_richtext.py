"""The trackers' rich text as plain text, and checklists read from a field."""

from __future__ import annotations

import pytest

from connectors.richtext import checklist_items, plain_text, text_or_none, written_text
from pmo_sync.domain import CheckItem


def test_plain_text_flattens_an_adf_description() -> None:
    adf = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "As a PMO, I want X"}]},
            {
                "type": "heading",
                "attrs": {"level": 3},
                "content": [{"type": "text", "text": "Acceptance criteria"}],
            },
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [
                                    {"type": "text", "text": "works for "},
                                    {"type": "mention", "attrs": {"text": "@Dana"}},
                                ],
                            }
                        ],
                    }
                ],
            },
        ],
    }
    assert plain_text(adf) == "As a PMO, I want X\nh3. Acceptance criteria\n* works for @Dana"
    assert plain_text("h3. as is") == "h3. as is"
    assert plain_text(None) == ""


def test_plain_text_flattens_azure_devops_html_into_the_same_line_shapes() -> None:
    html = (
        "<div>As a shopper I want receipts&nbsp;emailed</div>"
        "<h2>Acceptance criteria</h2>"
        "<ul><li>Given a paid order</li><li>Then a <b>PDF</b> arrives</li></ul>"
        "<div><br></div><div>Notes: none</div>"
    )
    assert plain_text(html) == (
        "As a shopper I want receipts emailed\n"
        "h2. Acceptance criteria\n"
        "* Given a paid order\n"
        "* Then a PDF arrives\n"
        "Notes: none"
    )
    # wiki and markdown text is not HTML and stays as it is
    assert plain_text("h3. Acceptance criteria\n* <none yet>") == (
        "h3. Acceptance criteria\n* <none yet>"
    )


def test_null_blank_and_written_text() -> None:
    empty_adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph"}]}
    assert [text_or_none(v) for v in (None, "", empty_adf)] == [None, "", ""]
    assert [written_text(v) for v in (None, "", "  ", empty_adf, "<div><br></div>")] == [None] * 5
    assert written_text("<div>Given X</div>") == "Given X"


# fmt: off
CHECKLISTS: list[tuple[object, list[tuple[str, bool]]]] = [
    # A checklist app's field (Jira "Checklist for Jira"): objects; a header is no item.
    (
        [
            {"id": 1, "name": "Done when", "checked": False, "isHeader": True},
            {"id": 2, "name": "Reviewed", "checked": True, "rank": 1},
            {"id": 3, "name": "Released", "checked": False, "rank": 2},
            {"id": 4, "name": "", "checked": True},
        ],
        [("Reviewed", True), ("Released", False)],
    ),
    # Objects with a state instead of a flag (Trello-like check items), and plain strings.
    (
        [{"text": "Reviewed", "state": "complete"}, {"title": "Released", "state": "open"},
         "- [x] Demo given"],
        [("Reviewed", True), ("Released", False), ("Demo given", True)],
    ),
    # Markdown task lists, Smart Checklist's markup, headers and blank lines skipped.
    (
        "# Before review\n- [x] unit tests\n* [ ] docs\n[X] demo\n\n+ merged\n- deployed\n"
        "~ monitored\nplain line",
        [("unit tests", True), ("docs", False), ("demo", True), ("merged", True),
         ("deployed", False), ("monitored", False), ("plain line", False)],
    ),
    # Azure DevOps HTML: one item a block or list item.
    (
        "<div>[x] Code reviewed</div><ul><li>Release notes</li></ul><div><br></div>",
        [("Code reviewed", True), ("Release notes", False)],
    ),
    # An ADF task list; a document without one reads line by line.
    (
        {"type": "doc", "version": 1, "content": [{"type": "taskList", "content": [
            {"type": "taskItem", "attrs": {"state": "DONE"},
             "content": [{"type": "text", "text": "Receipt "},
                         {"type": "text", "text": "emailed"}]},
            {"type": "taskItem", "attrs": {"state": "TODO"},
             "content": [{"type": "text", "text": "Refunds"}]},
        ]}]},
        [("Receipt emailed", True), ("Refunds", False)],
    ),
    (
        {"type": "doc", "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "[x] one"}, {"type": "hardBreak"},
            {"type": "text", "text": "[ ] two"}]}]},
        [("one", True), ("two", False)],
    ),
    (None, []),
    ("", []),
    ([], []),
]
# fmt: on


@pytest.mark.parametrize(("value", "expected"), CHECKLISTS)
def test_checklist_items(value: object, expected: list[tuple[str, bool]]) -> None:
    items = checklist_items(value)
    assert items == tuple(CheckItem(text, checked) for text, checked in expected)
    assert all(isinstance(i, CheckItem) for i in items)
