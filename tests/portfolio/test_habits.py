"""A team's habits learnt from its history, and what they do to the request forecast, by hand.

docs/portfolio.md "When will each request be done", "What the history teaches". Two small worlds
on team Alpha, as of TODAY; the window is the 90 days before it, day(-90) .. day(-1).

**Grown** (growth, closing lag, unplanned work):

- G (rank a): 4 stories created day(-60), 2 more day(-40) (after its first week); done days
  -30, -29, -28, -27, -26, -20; G itself done day(-18).
- E-1 (rank b): 2 stories created day(-60), open.
- U-1 .. U-5: stories under no request, done days -10 .. -6 (unplanned).

Growth = (6 items) / (4 in the first week) = 1.5; closing lags (-18 - (-20)) = (2,); all the
request work went to the top of the queue (G above E-1): weights (1,); nothing waited since
before the window (G and E-1 began on day -60): arrivals above 0.

**Jumped** (out of rank order, arrivals above the queue):

- Q-1 (rank a): 4 stories created day(-100), done days -50, -49, -48; one open.
- Q-2 (rank b): 3 stories created day(-100), one done day(-47) (while Q-1 waited: place 1).
- J-1 (rank 0): created day(-30) with 2 stories, done days -25, -24; J-1 done day(-24).

Places: Q-1's 3 and J-1's 2 at the top, Q-2's 1 second: weights (5/6, 1/6). Arrivals above:
Q-1 and Q-2 waited since before the window, 90 days each in it (180); J-1 began inside it,
above both, and took 2 items from each (4): 4 / 180 a day, over the 6 request items done in 90
days (6 / 90 a day): 4/180 x 90/6 = 1/3. Growth 1 (J-1: 2 of 2 in its first week), lags (0,).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from pmo_sync.domain import Stage
from pmo_sync.kpi.forecast import team_seed, when_done
from pmo_sync.portfolio.forecast import RequestForecast, request_forecasts
from pmo_sync.portfolio.habits import Habits, home_of, learn_habits
from pmo_sync.portfolio.model import WorkItem

TODAY = date(2030, 4, 1)
SRC = "jira"
ALPHA = (SRC, "Alpha")


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def request(key: str, rank: str, *, created: int, done: int | None = None) -> WorkItem:
    return WorkItem(
        (SRC, key), None, "epic", "epic", None,
        Stage.DONE if done is not None else Stage.IN_PROGRESS,
        created=day(created), done=None if done is None else day(done), rank=rank,
    )  # fmt: skip


def story(key: str, parent: str | None, *, created: int, done: int | None = None) -> WorkItem:
    return WorkItem(
        (SRC, key), "Alpha", "story", "story", (SRC, parent) if parent else None,
        Stage.DONE if done is not None else Stage.TODO,
        created=day(created), done=None if done is None else day(done),
    )  # fmt: skip


def grown() -> list[WorkItem]:
    g_done = (-30, -29, -28, -27, -26, -20)
    return [
        request("G", "a", created=-60, done=-18),
        *(story(f"G{i}", "G", created=-60 if i < 4 else -40, done=d) for i, d in enumerate(g_done)),
        request("E-1", "b", created=-60),
        *(story(f"E{i}", "E-1", created=-60) for i in range(2)),
        *(story(f"U-{i}", None, created=-10 + i - 1, done=-10 + i - 1) for i in range(1, 6)),
    ]


def jumped() -> list[WorkItem]:
    return [
        request("Q-1", "a", created=-100),
        *(story(f"Q1-{i}", "Q-1", created=-100, done=d) for i, d in enumerate((-50, -49, -48))),
        story("Q1-3", "Q-1", created=-100),
        request("Q-2", "b", created=-100),
        story("Q2-0", "Q-2", created=-100, done=-47),
        *(story(f"Q2-{i}", "Q-2", created=-100) for i in (1, 2)),
        request("J-1", "0", created=-30, done=-24),
        story("J1-0", "J-1", created=-30, done=-25),
        story("J1-1", "J-1", created=-30, done=-24),
    ]


def habits_of(items: list[WorkItem]) -> Habits:
    known = {i.ref: i for i in items}
    work = [(i, home_of(i, known, lambda r: r.level == "epic")) for i in items if i.level != "epic"]
    learnt = learn_habits(work, known, TODAY, 90, lambda i: (i.rank or "", i.ref[1]))
    assert list(learnt) == [ALPHA]
    return learnt[ALPHA]


def samples(*days: int) -> np.ndarray:
    """Alpha's request throughput: 1 on each of `days`, 0 on the other of the 90."""
    counts = np.zeros(90, dtype=np.int64)
    for d in days:
        counts[d + 90] += 1
    return counts


def test_growth_lag_and_unplanned_work_are_read_from_the_history() -> None:
    assert habits_of(grown()) == Habits(growth=1.5, weights=(1.0,), above=0.0, lags=(2,))


def test_work_out_of_rank_order_and_arrivals_above_are_read_from_the_history() -> None:
    learnt = habits_of(jumped())
    assert learnt.weights == pytest.approx((5 / 6, 1 / 6))
    assert learnt.above == pytest.approx(1 / 3)
    assert (learnt.growth, learnt.lags) == (1.0, (0,))


def test_a_grown_request_needs_its_growth_and_waits_its_closing_lag() -> None:
    """E-1's 2 remaining stories grow by 1.5 to 3 items of the throughput of G's 6 stories (the
    unplanned U-1 .. U-5 are not sampled); every trial adds the one lag seen, 2 days."""
    (e1,) = request_forecasts(grown(), TODAY)
    assert e1.ref == (SRC, "E-1")
    assert e1.remaining_by_team == {ALPHA: 2}  # the scope is what is known, not grown
    g_work = samples(-30, -29, -28, -27, -26, -20)
    expected = when_done(3, g_work, TODAY, seed=team_seed(0, "Alpha"))
    assert e1.dates == {p: d + timedelta(days=2) for p, d in expected.items() if d is not None}
    strict = by_ref(request_forecasts(grown(), TODAY, learn=False))[(SRC, "E-1")]
    all_work = samples(-30, -29, -28, -27, -26, -20, -10, -9, -8, -7, -6)
    assert strict.dates == when_done(2, all_work, TODAY, seed=team_seed(0, "Alpha"))


def test_the_queue_is_shared_as_the_team_shared_it_less_what_arrives_above() -> None:
    """Q-1 (1 left) and Q-2 (2 left) share Alpha's request throughput 5/6 to 1/6: Q-1 is done
    after 1 ÷ 5/6 = 1.2 items of it, Q-2 (0.2 done by then, 1.8 alone) after 3. A third of the
    throughput goes to requests arriving above, so the queue needs 1.2 ÷ 2/3 = 1.8 → 2 and
    3 ÷ 2/3 = 4.5 → 5 items. Strictly in rank order it would need 1 and 3."""
    result = by_ref(request_forecasts(jumped(), TODAY))
    throughput = samples(-50, -49, -48, -47, -25, -24)
    seed = team_seed(0, "Alpha")
    assert result[(SRC, "Q-1")].dates == when_done(2, throughput, TODAY, seed=seed)
    assert result[(SRC, "Q-2")].dates == when_done(5, throughput, TODAY, seed=seed)
    assert result[(SRC, "Q-1")].ahead_by_team == {ALPHA: 1}  # ceil(1.2) - 1: Q-2's share
    assert result[(SRC, "Q-2")].ahead_by_team == {ALPHA: 1}  # 3 - 2
    strict = by_ref(request_forecasts(jumped(), TODAY, learn=False))
    assert strict[(SRC, "Q-1")].dates == when_done(1, throughput, TODAY, seed=seed)
    assert strict[(SRC, "Q-2")].dates == when_done(3, throughput, TODAY, seed=seed)


def test_a_request_with_its_work_done_waits_what_is_left_of_its_lag() -> None:
    """G's history lag is 2 days. R's last story was done yesterday (day -1), R still open:
    every trial closes it 2 - 1 = 1 day from today."""
    items = [
        *grown(),
        request("R", "c", created=-5),
        story("R0", "R", created=-5, done=-1),
    ]
    result = by_ref(request_forecasts(items, TODAY))
    assert result[(SRC, "R")].dates == {50: day(1), 85: day(1), 95: day(1)}


def by_ref(forecasts: list[RequestForecast]) -> dict[tuple[str, str], RequestForecast]:
    return {f.ref: f for f in forecasts}
