"""themes_by_ref matches each combination of facts once: items sharing labels but not source
or kind still get their own answers, and a theme naming keys matches item by item."""

from __future__ import annotations

from pmo_sync.evaluation.portfolio_inputs import themes_by_ref
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.items import PortfolioItem, index_items
from pmo_sync.portfolio.themes import theme_of

ONLY_JIRA_GROWTH = ThemeConfig(
    name="Growth", match=ThemeMatch(labels=["growth"]), sources=["jira-a"]
)
CARDS_Q3 = ThemeConfig(name="Q3", match=ThemeMatch(trello_labels=["growth"]))


def _one_by_one(items: list[PortfolioItem], themes: list[ThemeConfig]) -> dict[str, str]:
    index = index_items(items)
    found = {}
    for ref, one in index.items():
        theme = theme_of(one, index, themes)
        if theme is not None:
            found[ref[1]] = theme.name
    return found


def test_items_with_the_same_labels_differ_by_source_and_kind() -> None:
    # Same label "growth" on all four: A-1 in jira-a is Growth (the theme's source); B-1 in
    # jira-b is not (restricted source), nor a card by Jira labels; the card "c" matches Q3
    # as a Trello label; its child "d" inherits Q3; B-2 under B-1 has nothing.
    items = [
        PortfolioItem("jira-a", "A-1", "jira", labels=("growth",)),
        PortfolioItem("jira-b", "B-1", "jira", labels=("growth",)),
        PortfolioItem("jira-b", "B-2", "jira", parent_key="B-1"),
        PortfolioItem("boards", "c", "trello", labels=("growth",)),
        PortfolioItem("boards", "d", "trello", parent_key="c"),
    ]
    themes = [ONLY_JIRA_GROWTH, CARDS_Q3]
    expected = {"A-1": "Growth", "c": "Q3", "d": "Q3"}
    assert _one_by_one(items, themes) == expected
    assert {r[1]: n for r, n in themes_by_ref(index_items(items), themes).items()} == expected


def test_a_theme_naming_keys_matches_items_with_the_same_facts_apart() -> None:
    # have the same (no) labels; only A-1 is named; A-3 under A-2 has none.
    items = [
        PortfolioItem("jira-a", "A-1", "jira"),
        PortfolioItem("jira-a", "A-2", "jira"),
        PortfolioItem("jira-a", "A-3", "jira", parent_key="A-2"),
        PortfolioItem("jira-a", "A-4", "jira", parent_key="A-1"),
    ]
    themes = [ThemeConfig(name="Named", match=ThemeMatch(keys=["jira-a:A-1"]))]
    expected = {"A-1": "Named", "A-4": "Named"}
    assert _one_by_one(items, themes) == expected
    assert {r[1]: n for r, n in themes_by_ref(index_items(items), themes).items()} == expected
