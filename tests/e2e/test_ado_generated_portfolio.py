"""The generated Azure DevOps organisation as a portfolio, through the real connector (issue 17).

The demo's sandbox (seed 7, 300 work items, six months of history) is synced with the connector
keys its portfolio needs (`generated_portfolio_block`: Epic the initiative level, Feature the
request, releases by tag with the dates of the connector file), and read with the themes of
`generated_themes`, as portfolio.yaml names them. Then the request forecasts are replayed the way
`pmo-sync portfolio backtest` replays them (every week for 26 weeks, 1,000 trials, the KPI
options' seed and history): issue 17 asks that the p85 date be met by 70% to 95% of the
forecasts judged. Measured: 77 of 93 (82.8%); p50 79 of 113, p95 64 of 75. Seeds 1, 2 and 3
gave 82%, 91% and 85% (docs/sandbox-ado.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.azure_devops import AzureDevOpsConfig
from pmo_sync.evaluation.portfolio_inputs import PortfolioInputs, read_portfolio_inputs
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.backtest import Every, backtest, calibration_lines
from pmo_sync.portfolio.config import PortfolioConfig, ThemeConfig
from pmo_sync.sandbox.ado import AdoDataset, AdoSandbox
from pmo_sync.sandbox.ado.portfolio import generated_portfolio_block, generated_themes

SOURCE = "sandbox-ado"


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


@pytest.fixture
def ado() -> Iterator[AdoSandbox]:
    with AdoSandbox(AdoDataset.generate(seed=7, size=300)) as sandbox:
        yield sandbox


@pytest.fixture
def inputs(
    ado: AdoSandbox,
    ado_config: Callable[..., AzureDevOpsConfig],
    sync: Callable[..., Any],
    engine: Engine,
) -> PortfolioInputs:
    block = generated_portfolio_block(ado.dataset)
    summary = sync(ado_config(ado, wiql_cap=20_000, **block), full=True)
    assert summary.status == "success", summary.errors
    themes = [ThemeConfig.model_validate(t) for t in generated_themes(ado.dataset)]
    return read_portfolio_inputs(engine, KpiConfig(), themes)


def test_the_requests_themes_dependencies_and_releases_arrive_in_the_store(
    ado: AdoSandbox, inputs: PortfolioInputs
) -> None:
    plan = ado.dataset.teamwork
    by_key = {item.ref[1]: item for item in inputs.items}
    levels = Counter(by_key[str(r.head.id)].level for r in plan.requests)
    assert levels == {"epic": 30}
    assert Counter(by_key[str(i.head.id)].level for i in plan.initiatives) == {"initiative": 4}
    # every child inherits its request's theme through the parent chain
    themes = Counter(by_key[str(c.id)].theme for r in plan.requests for c in r.children)
    expected = Counter(r.theme for r in plan.requests for _ in r.children)
    assert themes == expected == {"Growth": 80, "Reliability": 76, "Compliance": 27, None: 17}
    for request in plan.requests:  # a request is stored in its team, not its theme's area
        assert by_key[str(request.head.id)].team == ado.dataset.teams[request.head.team].name
    stored = {(d.blocker[1], d.waiting[1]) for d in inputs.dependencies}
    assert stored == {(str(d.blocker), str(d.waiting)) for d in plan.dependencies}
    assert len(stored) == 7
    assert len(inputs.releases) == 21


def test_the_backtest_p85_is_met_between_70_and_95_percent_of_the_time(
    ado: AdoSandbox, inputs: PortfolioInputs
) -> None:
    """As `pmo-sync portfolio backtest` runs it (its defaults: 26 weeks, a week apart)."""
    options = KpiConfig().options()
    report = backtest(
        inputs.items,
        ado.dataset.generated_at.date(),
        Every(step_days=7, count=26 * 7 // 7),
        levels=PortfolioConfig().requests.request_levels,
        seed=options.forecast_seed,
        history_days=options.forecast_history_days,
    )
    lines = "\n".join(calibration_lines(report))
    p85 = next(c for c in report.calibration if c.percentile == 85)
    assert p85.judged >= 40, lines
    assert 0.70 <= p85.covered / p85.judged <= 0.95, lines
    assert [(c.percentile, c.covered, c.judged) for c in report.calibration] == [
        (50, 79, 113), (85, 77, 93), (95, 64, 75),
    ], lines  # fmt: skip
