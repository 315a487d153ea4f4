"""theme_of: the nearest matching ancestor's theme, worked out by hand on small hierarchies."""

from __future__ import annotations

from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.items import PortfolioItem, index_items
from pmo_sync.portfolio.themes import ancestry, theme_of

GROWTH = ThemeConfig(name="Growth", target_share=50, match=ThemeMatch(keys=["ABC-1"]))
PLATFORM = ThemeConfig(name="Platform", match=ThemeMatch(labels=["Platform"]))
PHOENIX = ThemeConfig(name="Phoenix", match=ThemeMatch(area_paths=["Fabrikam\\Phoenix"]))
THEMES = [GROWTH, PLATFORM, PHOENIX]


def jira(key: str, parent: str | None = None, **fields: object) -> PortfolioItem:
    return PortfolioItem(source="acme-jira", key=key, kind="jira", parent_key=parent, **fields)


def name(theme: ThemeConfig | None) -> str | None:
    return theme.name if theme else None


def test_the_nearest_matching_ancestor_wins_the_item_itself_first() -> None:
    # ABC-1 (initiative, Growth by key) <- ABC-2 (epic, label platform) <- ABC-3 (story)
    initiative = jira("ABC-1", level="initiative")
    epic = jira("ABC-2", "ABC-1", labels=("platform",), level="epic")
    story = jira("ABC-3", "ABC-2", level="story")
    plain_epic = jira("ABC-4", "ABC-1", level="epic")
    items = index_items([initiative, epic, story, plain_epic])
    assert name(theme_of(story, items, THEMES)) == "Platform"  # epic is nearer than ABC-1
    assert name(theme_of(epic, items, THEMES)) == "Platform"
    assert name(theme_of(plain_epic, items, THEMES)) == "Growth"  # up to the initiative
    assert name(theme_of(initiative, items, THEMES)) == "Growth"
    # the item itself matches two themes: the one written first wins
    both = jira("ABC-1", labels=("PLATFORM",))
    assert name(theme_of(both, {}, THEMES)) == "Growth"
    assert name(theme_of(both, {}, [PLATFORM, GROWTH])) == "Platform"


def test_an_item_no_theme_matches_is_unaligned() -> None:
    orphan = jira("XYZ-9", labels=("misc",))
    assert theme_of(orphan, {}, THEMES) is None
    assert theme_of(jira("ABC-1"), {}, []) is None  # no themes configured


def test_an_area_path_matches_itself_and_below_in_any_case() -> None:
    def ado(path: str) -> PortfolioItem:
        return PortfolioItem(source="contoso-ado", key="42", kind="azure_devops", area_path=path)

    assert name(theme_of(ado("Fabrikam\\Phoenix"), {}, THEMES)) == "Phoenix"
    assert name(theme_of(ado("fabrikam\\PHOENIX\\Web"), {}, THEMES)) == "Phoenix"
    assert theme_of(ado("Fabrikam\\PhoenixLegacy"), {}, THEMES) is None
    assert theme_of(ado("Fabrikam"), {}, THEMES) is None


def test_sources_and_source_keys_restrict_a_theme_to_connectors() -> None:
    jira_only = ThemeConfig(
        name="Regulatory", sources=["acme-jira"], match=ThemeMatch(labels=["gdpr"])
    )
    keyed = ThemeConfig(name="Keyed", match=ThemeMatch(keys=["contoso-ado:7"]))
    ado_item = PortfolioItem(source="contoso-ado", key="7", kind="azure_devops", labels=("gdpr",))
    jira_item = jira("7", labels=("GDPR",))
    assert name(theme_of(jira_item, {}, [jira_only, keyed])) == "Regulatory"
    assert name(theme_of(ado_item, {}, [jira_only, keyed])) == "Keyed"
    assert theme_of(jira("8", labels=("other",)), {}, [jira_only, keyed]) is None
    assert theme_of(jira_item, {}, [keyed]) is None  # key 7, but acme-jira's


def test_trello_boards_and_labels_match_only_cards() -> None:
    cards = ThemeConfig(
        name="Mobile",
        match=ThemeMatch(boards=["Team Beta", "5f0c0ffee0c0ffee0c0ffee0"], trello_labels=["app"]),
    )
    tags = ThemeConfig(name="Tagged", match=ThemeMatch(labels=["app"]))

    def card(**fields: object) -> PortfolioItem:
        return PortfolioItem(source="acme-trello", key="c1", kind="trello", **fields)

    assert name(theme_of(card(board="team beta"), {}, [cards])) == "Mobile"
    assert name(theme_of(card(board_id="5f0c0ffee0c0ffee0c0ffee0"), {}, [cards])) == "Mobile"
    assert name(theme_of(card(labels=("App",)), {}, [tags, cards])) == "Mobile"
    assert name(theme_of(jira("ABC-5", labels=("app",)), {}, [cards, tags])) == "Tagged"
    assert theme_of(jira("ABC-6", board="Team Beta"), {}, [cards]) is None


def test_a_cycle_in_the_parent_chain_stops_the_walk() -> None:
    # A <- B <- C <- A: none matches, and the walk ends after each item once
    a = jira("A", "C")
    b = jira("B", "A")
    c = jira("C", "B")
    items = index_items([a, b, c])
    assert [i.key for i in ancestry(b, items)] == ["B", "A", "C"]
    assert theme_of(b, items, THEMES) is None
    # an item that is its own parent
    selfish = jira("S", "S", labels=("platform",))
    assert [i.key for i in ancestry(selfish, index_items([selfish]))] == ["S"]
    assert name(theme_of(selfish, index_items([selfish]), THEMES)) == "Platform"
    # a cycle above a matching item: the match below decides
    top = jira("ABC-1", "D")
    d = jira("D", "ABC-1")
    items = index_items([top, d])
    assert name(theme_of(jira("E", "D"), items, THEMES)) == "Growth"


def test_a_missing_ancestor_ends_the_walk_there() -> None:
    # S <- E (parent ABC-0 not synced) ; ABC-1 matches but is not E's ancestor
    epic = jira("E", "ABC-0")
    story = jira("S", "E")
    items = index_items([epic, story, jira("ABC-1")])
    assert [i.key for i in ancestry(story, items)] == ["S", "E"]
    assert theme_of(story, items, THEMES) is None
    # a parent key in another source is another item
    other = PortfolioItem(source="contoso-ado", key="E", labels=("platform",))
    assert theme_of(story, index_items([other]), THEMES) is None
