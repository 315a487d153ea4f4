"""The `writeback:` block: defaults, and the exact errors an admin reads.

Errors go through `translate_validation_error` inside a stand-in connector
model, as they will once `writeback:` is embedded in a connector's config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from pmo_sync.common.configfiles import translate_validation_error
from pmo_sync.common.writeback_config import METRICS, WritebackConfig

FILE = Path("connectors/jira.yaml")


class Connector(BaseModel):
    """Stands in for a connector config that embeds the block."""

    model_config = ConfigDict(extra="forbid")
    writeback: WritebackConfig = WritebackConfig()


def errors(writeback: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Connector.model_validate({"writeback": writeback})
    return [str(e) for e in translate_validation_error(FILE, caught.value, Connector)]


def test_defaults() -> None:
    config = Connector().writeback
    assert config == WritebackConfig(
        enabled=False,
        fields={},
        comments=True,
        on_clear="delete",
        service_account=None,
        marker="[pmo-sync]",
        items="open",
    )
    assert config.ignored_account("api-user@example.com") == "api-user@example.com"
    bot = WritebackConfig(service_account=" bot@example.com ")
    assert bot.ignored_account("api-user@example.com") == "bot@example.com"


def test_fields_are_kept_in_metric_order_and_trimmed() -> None:
    config = WritebackConfig(
        enabled=True,
        fields={"forecast_done_p85_date": "Forecast (p85)", "cycle_time_days": " customfield_1 "},
    )
    assert list(config.fields.items()) == [
        ("cycle_time_days", "customfield_1"),
        ("forecast_done_p85_date", "Forecast (p85)"),
    ]
    assert config.field_for("cycle_time_days") == "customfield_1"


def test_every_supported_metric() -> None:
    assert list(METRICS) == [
        "cycle_time_days",
        "lead_time_days",
        "wip_age_days",
        "flow_efficiency",
        "blocked_days",
        "team_cycle_time_p85_days",
        "forecast_done_p50_date",
        "forecast_done_p85_date",
        "forecast_done_p95_date",
        "due_date_probability",
    ]


def test_an_unknown_metric_suggests_the_closest() -> None:
    assert errors({"fields": {"cycle_time": "customfield_1"}}) == [
        "connectors/jira.yaml: writeback.fields: unknown metric 'cycle_time' "
        "(did you mean 'cycle_time_days'?)"
    ]


def test_an_unknown_metric_with_nothing_close_lists_the_known_ones() -> None:
    assert errors({"fields": {"velocity": "customfield_1", "wip_age": "customfield_2"}}) == [
        "connectors/jira.yaml: writeback.fields: unknown metric 'velocity' (known: "
        "blocked_days, cycle_time_days, due_date_probability, flow_efficiency, "
        "forecast_done_p50_date, "
        "forecast_done_p85_date, forecast_done_p95_date, lead_time_days, "
        "team_cycle_time_p85_days, wip_age_days); "
        "unknown metric 'wip_age' (did you mean 'wip_age_days'?)"
    ]


def test_two_metrics_may_not_share_a_field_nor_have_an_empty_one() -> None:
    fields = {
        "lead_time_days": "customfield_1",
        "cycle_time_days": "customfield_1",
        "wip_age_days": " ",
    }
    assert errors({"fields": fields}) == [
        "connectors/jira.yaml: writeback.fields: metric 'wip_age_days' has an empty field name; "
        "metrics 'cycle_time_days' and 'lead_time_days' both write to field 'customfield_1': "
        "each metric needs its own field"
    ]


def test_enabled_with_nothing_to_write() -> None:
    assert errors({"enabled": True, "comments": False}) == [
        "connectors/jira.yaml: writeback.fields: fields is empty and comments is false: "
        "write-back has nothing to write"
    ]


def test_unknown_keys_and_bad_choices() -> None:
    assert errors({"on_clr": "delete", "items": "done", "on_clear": "hide"}) == [
        "connectors/jira.yaml: writeback.on_clear: Input should be 'delete' or 'resolve'",
        "connectors/jira.yaml: writeback.items: Input should be 'open' or 'all'",
        "connectors/jira.yaml: writeback.on_clr: unknown key (did you mean 'on_clear'?)",
    ]


def test_marker_and_service_account_must_be_usable() -> None:
    assert errors({"marker": "[pmo-sync]\nbot", "service_account": "  "}) == [
        "connectors/jira.yaml: writeback.service_account: "
        "must not be blank (leave it out to use the API user)",
        "connectors/jira.yaml: writeback.marker: "
        "must be one line with no leading or trailing spaces",
    ]
    assert errors({"marker": " "}) == [
        "connectors/jira.yaml: writeback.marker: "
        "must not be blank: it is how pmo-sync finds its comment again"
    ]
