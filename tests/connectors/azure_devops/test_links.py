"""Azure DevOps relations → typed links (connectors/azure_devops/links.py)."""

from __future__ import annotations

from structlog.testing import capture_logs

from connectors.azure_devops.links import link_type_reference, links_of
from pmo_sync.domain import ItemLink, LinkDirection

ORG = "https://dev.azure.com/contoso/_apis/wit/workItems"
DEPENDENCY = "System.LinkTypes.Dependency"
RELATED = "System.LinkTypes.Related"


def rel(kind: str, target: object, name: str | None = None) -> dict:
    attributes = {"isLocked": False} | ({"name": name} if name else {})
    return {"rel": kind, "url": f"{ORG}/{target}", "attributes": attributes}


RELATIONS = [
    rel(f"{DEPENDENCY}-Forward", 7, "Successor"),
    rel(f"{DEPENDENCY}-Reverse", 900, "Predecessor"),  # another project's item
    rel(RELATED, 8, "Related"),
    rel("System.LinkTypes.Hierarchy-Reverse", 3, "Parent"),  # the parent: System.Parent
    {"rel": "Hyperlink", "url": "https://wiki.contoso.example/x", "attributes": {}},
    rel(f"{DEPENDENCY}-Forward", 7, "Successor"),  # listed twice: once
]


def test_dependency_ends_and_related_become_links_targets_out_of_scope_keep_their_key() -> None:
    assert links_of("42", RELATIONS, [DEPENDENCY, RELATED], {"7", "8"}.__contains__) == [
        ItemLink("42", "successor", LinkDirection.OUTWARD, "7", "7"),
        ItemLink("42", "predecessor", LinkDirection.INWARD, "900", None),
        ItemLink("42", "related", LinkDirection.OUTWARD, "8", "8"),
    ]


def test_only_the_configured_types_are_read_and_an_unnamed_end_is_named_by_its_direction() -> None:
    unnamed = [{"rel": f"{DEPENDENCY}-Reverse", "url": f"{ORG}/5"}, rel(RELATED, 8)]
    assert links_of("42", unnamed, [DEPENDENCY], lambda _: True) == [
        ItemLink("42", "predecessor", LinkDirection.INWARD, "5", "5"),
    ]
    assert links_of("42", RELATIONS, [], lambda _: True) == []


def test_a_relation_whose_target_is_unreadable_is_logged_and_skipped() -> None:
    bad = [{"rel": f"{DEPENDENCY}-Forward", "url": f"{ORG}/abc"}, {"rel": RELATED}]
    with capture_logs() as logs:
        assert links_of("42", bad, [DEPENDENCY, RELATED], lambda _: True) == []
    assert [(e["event"], e["rel"]) for e in logs] == [
        ("ado_link_target_unreadable", f"{DEPENDENCY}-Forward"),
        ("ado_link_target_unreadable", RELATED),
    ]


def test_short_names_stand_for_reference_names() -> None:
    assert [link_type_reference(n) for n in ("Dependency", "related", "Custom.Blocks")] == [
        DEPENDENCY, RELATED, "Custom.Blocks",
    ]  # fmt: skip
