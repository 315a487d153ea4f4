"""The generated Trello portfolio synced through the real connector, and the backtest on it.

The sandbox is generated at the demo's size (seed 7, 100 cards a board, its fixed clock), the
connector file carries the block the demo writes for it (`generated_portfolio_block`: levels by
label, "Depends on" links, release labels dated), and a full sync fills the store. Then the
store must hold the dataset's own ground truth (levels, parents, themes by label, dependencies,
releases), and the forecasts replayed the way `pmo-sync portfolio backtest` replays them (26
weeks, one day a week) must be calibrated: the p85 date met by 70% to 95% of the requests
whose p85 date has passed, over at least 40 such forecasts (issue 17).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from connectors.trello import TrelloConfig
from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.backtest import Every, backtest, calibration_lines, error_line
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.sandbox.trello.generator import ROLE_INITIATIVE, ROLE_REQUEST, THEMES, from_ms
from pmo_sync.sandbox.trello.portfolio import generated_portfolio_block
from pmo_sync.sync import RunSummary

THEME_CONFIG = [ThemeConfig(name=t, match=ThemeMatch(trello_labels=[t])) for t in THEMES]
"""portfolio.yaml's themes for the generated conventions: `{name: Growth, match:
{trello_labels: [Growth]}}` and so on."""


@pytest.fixture(scope="module")
def dataset() -> TrelloDataset:
    return TrelloDataset.generate(seed=7, cards_per_board=100)


@pytest.fixture
def trello(dataset: TrelloDataset) -> Iterator[TrelloSandbox]:
    tag = uuid.uuid4().hex[:12]
    with TrelloSandbox(dataset, key=f"key-{tag}", token=f"token-{tag}") as sandbox:
        yield sandbox


@pytest.fixture
def synced(
    trello: TrelloSandbox,
    trello_config: Callable[..., TrelloConfig],
    sync: Callable[..., RunSummary],
    engine: Engine,
) -> Engine:
    config = trello_config(trello, portfolio=generated_portfolio_block(trello.dataset))
    summary = sync(config, full=True)
    assert summary.status == "success", summary.errors
    return engine


def test_the_store_holds_the_generated_portfolio(synced: Engine, dataset: TrelloDataset) -> None:
    items = read_portfolio_inputs(synced, KpiConfig(), THEME_CONFIG)
    by_key = {item.ref[1]: item for item in items.items}
    live = {c.short_link: c for c in dataset.cards()}
    assert set(by_key) == set(live)
    levels = {"epic": ROLE_REQUEST, "initiative": ROLE_INITIATIVE}
    for key, item in by_key.items():
        n = live[key].n
        assert levels.get(item.level, -1) == dataset.role(n) or (
            item.level == "story" and dataset.role(n) not in levels.values()
        ), key
        parent = dataset.parent_number(n)
        parent_card = dataset.card_at(parent) if parent else None
        assert (item.parent[1] if item.parent else None) == (
            parent_card.short_link if parent_card else None
        ), key
        request = parent if dataset.role(n) not in levels.values() else n
        theme = dataset.theme_of(request) if request else None
        if theme is None and request and dataset.parent_number(request):
            theme = dataset.theme_of(dataset.parent_number(request) or 0)
        assert item.theme == theme, key
    assert Counter(i.level for i in items.items) == {"story": 168, "epic": 24, "initiative": 5}
    pairs = sorted((d.waiting[1], d.blocker[1]) for d in items.dependencies)
    short = {c.n: c.short_link for c in dataset.cards(include_deleted=True)}
    assert pairs == sorted((short[w], short[b]) for w, b in dataset.dependencies())
    assert all(d.blocker_known for d in items.dependencies)
    stored = {(r.name, r.planned, r.released_on) for r in items.releases}
    truth = {
        (
            r.name,
            from_ms(r.planned_ms).date(),
            from_ms(r.released_ms).date() if r.released_ms else None,
        )
        for r in dataset.releases  # Alpha 1.0 too, no card in it: dated by the file alone
    }
    assert stored == truth


def test_the_backtest_on_the_generated_sandbox_is_calibrated(synced: Engine) -> None:
    """As `pmo-sync portfolio backtest` runs it: every 7 days for 26 weeks back from the
    data's end (the sandbox's clock), the KPI options' default seed and history."""
    items = read_portfolio_inputs(synced, KpiConfig(), THEME_CONFIG).items
    options = KpiConfig().options()
    today = TrelloDataset.generate(seed=7, cards_per_board=0).generated_at.date()
    report = backtest(
        items,
        today,
        Every(step_days=7, count=26),
        seed=options.forecast_seed,
        history_days=options.forecast_history_days,
    )
    lines = [*calibration_lines(report), error_line(report)]
    p85 = next(c for c in report.calibration if c.percentile == 85)
    assert p85.judged >= 40, lines
    assert p85.share is not None and 0.70 <= p85.share <= 0.95, lines
    assert lines == [
        "p50: 79% of 68 forecasts finished by their p50 date",
        "p85: 84% of 57 forecasts finished by their p85 date",
        "p95: 85% of 47 forecasts finished by their p95 date",
        "p50 error: median 19 days early, mean absolute 26 days over 65 finished requests"
        " (3 still open past their p50 date)",
    ]
