"""facts_matched: the stored facts a theme read must fetch, and only those; with them alone
`matches` answers as it does on an item read whole."""

from __future__ import annotations

from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.portfolio.items import PortfolioItem
from pmo_sync.portfolio.themes import THEME_FACTS, facts_matched, matches


def theme(**match: list[str]) -> ThemeConfig:
    return ThemeConfig(name="T", match=ThemeMatch(**match))


def test_each_kind_of_match_asks_for_its_own_fact() -> None:
    assert facts_matched([]) == frozenset()
    assert facts_matched([theme(keys=["ABC-1"])]) == frozenset()  # the key is always read
    assert facts_matched([theme(labels=["growth"])]) == {"labels"}
    assert facts_matched([theme(trello_labels=["Q3"])]) == {"labels"}  # cards' labels too
    assert facts_matched([theme(components=["API"])]) == {"components"}
    assert facts_matched([theme(area_paths=["Fabrikam\\Phoenix"])]) == {"area_path"}
    assert facts_matched([theme(boards=["Team Alpha"])]) == {"board"}
    both = [theme(labels=["growth"]), theme(boards=["Team Alpha"], components=["API"])]
    assert facts_matched(both) == {"labels", "board", "components"}
    every = theme(labels=["a"], components=["b"], area_paths=["c"], boards=["d"])
    assert facts_matched([every]) == THEME_FACTS


def test_an_item_without_the_unasked_facts_matches_as_the_whole_item() -> None:
    # The whole item has a label, a component, a path and a board; each theme, matched on
    # the item stripped of the facts it does not ask for, answers as on the whole item.
    whole = PortfolioItem(
        "boards", "aaa", "trello", labels=("Q3",), components=("API",), area_path="A\\B",
        board="Team Alpha", board_id="b-1",
    )  # fmt: skip
    jira = PortfolioItem(
        "jira", "ABC-1", "jira", labels=("growth",), components=("API",), area_path="A\\B"
    )
    themes = [
        theme(labels=["growth"]), theme(trello_labels=["q3"]), theme(components=["api"]),
        theme(area_paths=["a"]), theme(boards=["b-1"]), theme(keys=["aaa"]),
        theme(boards=["Team Beta"]), theme(labels=["q3"]),
    ]  # fmt: skip
    answers = []
    for t in themes:
        wanted = facts_matched([t])
        for item in (whole, jira):
            stripped = PortfolioItem(
                item.source, item.key, item.kind,
                labels=item.labels if "labels" in wanted else (),
                components=item.components if "components" in wanted else (),
                area_path=item.area_path if "area_path" in wanted else None,
                board=item.board if "board" in wanted else None,
                board_id=item.board_id if "board" in wanted else None,
            )  # fmt: skip
            assert matches(t, stripped) == matches(t, item)
            answers.append(matches(t, item))
    # (card, jira) per theme: labels only on Jira items, Trello labels and boards only on
    # cards, a component and a path on any item, the key only on the card "aaa"; board
    # "Team Beta" matches neither; the Jira label list never reads a card's labels.
    assert answers == [
        False, True, True, False, True, True, True, True,
        True, False, True, False, False, False, False, False,
    ]  # fmt: skip
