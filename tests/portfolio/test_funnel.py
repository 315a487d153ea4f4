"""Requests and their funnel stage: statuses decide before categories."""

from __future__ import annotations

from pmo_sync.domain import Stage
from pmo_sync.portfolio.config import FunnelConfig, FunnelStageConfig, RequestsConfig
from pmo_sync.portfolio.funnel import funnel_stage, is_request
from pmo_sync.portfolio.items import PortfolioItem


def item(status: str | None, category: str | None, **fields: object) -> PortfolioItem:
    return PortfolioItem(
        source="acme-jira",
        key="ABC-1",
        status=status,
        status_category=category,
        **fields,
    )


def test_the_default_funnel_follows_the_categories() -> None:
    funnel = FunnelConfig()
    assert funnel_stage(item("Open", "todo"), funnel) == "intake"
    assert funnel_stage(item("Approved", "todo"), funnel) == "intake"  # approved: none by default
    assert funnel_stage(item("In Progress", "in_progress"), funnel) == "in_progress"
    assert funnel_stage(item("Closed", "done"), funnel) == "done"
    assert funnel_stage(item("Limbo", "new"), funnel) is None  # not a stage
    assert funnel_stage(item(None, None), funnel) is None


def test_a_named_status_decides_before_its_category_in_any_case() -> None:
    funnel = FunnelConfig(
        approved=FunnelStageConfig(statuses=["Approved"]),
        done=FunnelStageConfig(statuses=["Released"], categories=[Stage.DONE]),
    )
    assert funnel_stage(item("APPROVED", "todo"), funnel) == "approved"
    assert funnel_stage(item("Open", "todo"), funnel) == "intake"
    assert funnel_stage(item("released", "in_progress"), funnel) == "done"
    assert funnel_stage(item("Review", "in_progress"), funnel) == "in_progress"


def test_requests_are_epics_and_features_unless_configured() -> None:
    default = RequestsConfig()
    assert is_request(item(None, None, level="Epic"), default)
    assert is_request(item(None, None, level="feature"), default)
    assert not is_request(item(None, None, level="story"), default)
    assert not is_request(item(None, None), default)
    by_type = RequestsConfig(types=["Business Request"])
    assert is_request(item(None, None, item_type="business request"), by_type)
    assert not is_request(item(None, None, level="epic"), by_type)
    both = RequestsConfig(levels=["Initiative"], types=["Business Request"])
    assert is_request(item(None, None, level="initiative"), both)
    assert is_request(item(None, None, level="story", item_type="Business Request"), both)
    assert not is_request(item(None, None, level="epic"), both)
