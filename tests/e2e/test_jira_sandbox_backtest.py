"""The request forecast proven on the sandbox Jira's own history (issue 17): the demo's site
(seed 7, three projects of 100 issues, six months ending 2026-11-20) synced through the real
connector, then replayed the way `pmo-sync portfolio backtest` does (every week for 26 weeks,
the default kpis.yaml's seed and history).

Its epics are worked as a team works them (`pmo_sync.sandbox.jira.backlog`): children taken
mostly in rank order, some out of it, unplanned work beside, scope added after the start,
epics closed some hours after their last child. Measured: p50 met by 62% of 124 forecasts,
p85 by 77% of 112, p95 by 78% of 101 (seeds 1, 2, 3 and 4 of the same generator gave p85
85%, 77%, 80% and 95% of 91 to 127 each, measured with the same replay)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine

from connectors.jira import JiraConfig
from pmo_sync.evaluation.portfolio_inputs import read_portfolio_inputs
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.portfolio.backtest import Every, backtest, calibration_lines, error_line
from pmo_sync.portfolio.config import ThemeConfig, ThemeMatch
from pmo_sync.sandbox.jira.generator import DEFAULT_NOW
from pmo_sync.sandbox.jira.portfolio import generated_portfolio_block
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sync import RunSummary


def test_the_p85_of_the_sandbox_epics_is_met_between_70_and_95_percent_of_the_time(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """Issue 17's check on the sandbox: 70% <= p85 coverage <= 95% over at least 40 judged
    forecasts; the three lines the CLI prints are the failure message."""
    assert run_sync(make_config(jira_sandbox), full=True).status == "success"
    kpis = KpiConfig()  # no kpis.yaml: the CLI's defaults
    options = kpis.options()
    items = read_portfolio_inputs(engine, kpis).items
    report = backtest(
        items,
        DEFAULT_NOW.date(),
        Every(step_days=7, count=26),
        seed=options.forecast_seed,
        history_days=options.forecast_history_days,
    )
    lines = "\n".join((*calibration_lines(report), error_line(report)))
    p85 = report.calibration[1]
    assert p85.percentile == 85
    assert p85.judged >= 40, lines
    assert p85.share is not None and 0.70 <= p85.share <= 0.95, lines
    assert lines.splitlines()[:3] == [
        "p50: 62% of 124 forecasts finished by their p50 date",
        "p85: 77% of 112 forecasts finished by their p85 date",
        "p95: 78% of 101 forecasts finished by their p95 date",
    ], lines


def test_the_themes_reach_the_store_as_components_and_children_inherit_them(
    jira_sandbox: JiraSandbox,
    make_config: Callable[..., JiraConfig],
    run_sync: Callable[..., RunSummary],
    engine: Engine,
) -> None:
    """portfolio.yaml's `{match: {components: [Growth]}}` (and the two others) gives each
    generated epic its component's theme and each child its epic's; the connector file needs
    no `portfolio:` block for it (`generated_portfolio_block` is empty)."""
    assert generated_portfolio_block(jira_sandbox.dataset) == {}
    assert run_sync(make_config(jira_sandbox), full=True).status == "success"
    themes = [
        ThemeConfig(name=name, match=ThemeMatch(components=[name]))
        for name in ("Growth", "Reliability", "Compliance")
    ]
    items = {i.ref[1]: i for i in read_portfolio_inputs(engine, KpiConfig(), themes).items}
    requests = jira_sandbox.dataset.generated_requests()
    assert Counter(items[r.key].theme for r in requests) == {
        "Compliance": 10, "Growth": 9, "Reliability": 6, None: 5,
    }  # fmt: skip
    for request in requests:
        assert {items[k].theme for k in request.children} == {request.theme}, request.key
