"""The scripted portfolio's ground truth, worked out by hand from the steps: what every tracker's
store is compared with (tests/e2e/test_*_portfolio_world.py), so it is checked on its own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pmo_sync.sandbox.portfolio import (
    ACT_ONE,
    ACT_TWO,
    ALL_STEPS,
    RELEASES,
    Create,
    Move,
    Rank,
    SetDates,
    at,
    day,
    play,
    truth,
)


def test_act_one_builds_the_portfolio_a_pmo_steers() -> None:
    facts = truth(ACT_ONE)
    items = facts.items
    assert sorted(items) == [
        "A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "E1", "E2", "E3", "E4",
        "G1", "G2", "G3", "I1", "I2",
    ]  # fmt: skip
    assert [items[label].level for label in ("I1", "E2", "B1")] == ["initiative", "epic", "story"]
    assert items["A3"].ancestors(items) == ["E2", "I1"]  # Alpha's story under Beta's epic
    assert {items[label].team for label in ("A3", "B1", "B4")} == {"alpha", "beta"}
    assert (items["I1"].theme_label, items["I2"].theme_label) == ("growth", "reliability")
    # E1 slipped twice, a week each time; G1 (a milestone) once, by eight days.
    assert (items["E1"].due, items["E1"].due_history) == (54, ((None, 40), (40, 47), (47, 54)))
    assert items["G1"].due_history == ((None, 30), (30, 38))
    assert (items["G2"].start, items["G2"].due, items["G2"].start_history) == (
        30,
        56,
        ((None, 30),),
    )
    assert {label: item.priority for label, item in items.items() if item.priority} == {
        "A1": 1, "B1": 2, "G1": 1, "B3": 4,
    }  # fmt: skip
    # B1 blocks A3 across teams while A3 is in progress and B1 has not started.
    assert facts.links() == {("B1", "A3"), ("G1", "B2"), ("A1", "A2")}
    assert (items["A3"].stage, items["B1"].stage) == ("In Progress", "To Do")
    assert (items["A1"].stage, items["B3"].stage) == ("Done", "Done")
    assert {label: item.releases for label, item in items.items() if item.releases} == {
        "A1": {"2030.1"}, "B3": {"2030.2"}, "A2": {"2030.3"},
    }  # fmt: skip
    # The backlogs: the ranked items still to do, in rank order.
    assert {team: facts.backlog_order(team) for team in ("alpha", "beta", "gamma")} == {
        "alpha": ("A2", "A4"), "beta": ("B4", "B1"), "gamma": ("G3", "G2"),
    }  # fmt: skip


def test_act_two_changes_only_what_it_says() -> None:
    before, after = truth(ACT_ONE), truth(ALL_STEPS)
    changed = {label for label in after.items if before.items.get(label) != after.items[label]}
    assert changed == {"E1", "E3", "A5", "G2", "B4", "A4", "G1"}
    assert after.items["E1"].due_history[-1] == (54, 61)
    assert after.items["E3"].due_history == ((None, 45), (45, 60))
    assert (after.items["A5"].parent, after.items["A5"].due) == ("E1", 56)
    assert after.links() - before.links() == {("G2", "B4")}
    assert after.items["A4"].releases == {"2030.3"}
    assert (after.items["G1"].stage, after.items["G2"].stage) == ("Done", "In Progress")
    assert {team: after.backlog_order(team) for team in ("alpha", "beta", "gamma")} == {
        "alpha": ("A4", "A5", "A2"), "beta": ("B1", "B4"), "gamma": ("G3",),
    }  # fmt: skip


def test_releases_one_early_one_late_one_planned() -> None:
    assert [(r.name, r.team, r.release_day, r.released is not None) for r in RELEASES] == [
        ("2030.1", "alpha", 19, True),   # planned day 20: a day early
        ("2030.2", "beta", 31, True),    # planned day 25: six days late
        ("2030.3", "alpha", 60, False),  # planned
    ]  # fmt: skip
    assert day(date(2030, 1, 7), 19) == date(2030, 1, 26)


def test_a_date_set_to_what_it_is_is_no_change() -> None:
    steps = (
        Create(at(0), "X", "alpha", "story", "x"),
        SetDates(at(1), "X", due=5),
        SetDates(at(2), "X", due=5),
        SetDates(at(3), "X", start=1),
    )
    item = truth(steps).items["X"]
    assert (item.due_history, item.start_history) == (((None, 5),), ((None, 1),))


def test_play_hands_every_step_to_the_player_at_its_moment() -> None:
    start = datetime(2030, 1, 7, tzinfo=UTC)
    seen: list[tuple[str, datetime, object]] = []

    class Recorder:
        def __getattr__(self, name: str):  # every PortfolioPlayer method
            return lambda when, step: seen.append((name, when, step))

    play(Recorder(), start, ACT_TWO)  # type: ignore[arg-type]
    assert [name for name, _, _ in seen] == [
        "set_dates", "set_dates", "create", "set_dates", "rank", "rank", "link", "plan",
        "move", "move",
    ]  # fmt: skip
    assert seen[0][1] == start + timedelta(days=36, hours=9)
    assert seen[-1] == (
        "move",
        start + timedelta(days=40, hours=9),
        Move(at(40), "G2", "In Progress"),
    )
    assert seen[4] == ("rank", start + timedelta(days=37, hours=9, minutes=2), ACT_TWO[4])
    assert ACT_TWO[4] == Rank(at(37, 2), "alpha", ("A4", "A5", "A2"))
