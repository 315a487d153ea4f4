"""The pure parts of checking and provisioning write-back fields, and the refusal line."""

from __future__ import annotations

from connectors.azure_devops.fieldcheck import (
    ProcessInfo,
    add_field_steps,
    resolve_references,
)
from connectors.azure_devops.provision import field_type, reference_for
from connectors.jira.push import resolve_field_names
from pmo_sync.writeback.fieldcheck import samples
from pmo_sync.writeback.service import _Refusal


def test_samples_take_the_first_key_of_each_project_and_type() -> None:
    places = {
        "DEF-9": ("DEF", "Bug"),
        "DEF-10": ("DEF", "Bug"),
        "ABC-2": ("ABC", "Story"),
        "ABC-1": ("ABC", "Story"),
        "ABC-3": ("ABC", "Bug"),
    }
    assert samples(places) == {
        ("ABC", "Story"): "ABC-1",
        ("ABC", "Bug"): "ABC-3",
        ("DEF", "Bug"): "DEF-10",  # sorted as text: the same key every run
    }


def test_jira_names_resolve_by_id_name_and_folded_name_and_say_what_is_wrong() -> None:
    fields = {
        "customfield_1": "Cycle time (days)",
        "customfield_2": "WIP age (days)",
        "customfield_3": "Forecast",
        "customfield_4": "Forecast",
    }
    found, problems = resolve_field_names(
        fields, ["customfield_1", "wip AGE (days)", "Forecast", "Lead time"]
    )
    assert found == {"customfield_1": "customfield_1", "wip AGE (days)": "customfield_2"}
    assert problems == {
        "Forecast": "2 fields are named 'Forecast' (customfield_3, customfield_4): put the id "
        "of the right one in the config",
        "Lead time": "no field named 'Lead time'",
    }


def test_ado_references_resolve_by_reference_or_name() -> None:
    organisation = {
        "Custom.CycleTimeDays": "Cycle time (days)",
        "Custom.A": "Twice",
        "Custom.B": "Twice",
    }
    found, problems = resolve_references(
        organisation, ["custom.cycletimedays", "Cycle time (days)", "Twice", "Custom.Nope"]
    )
    assert found == {
        "custom.cycletimedays": "Custom.CycleTimeDays",
        "Cycle time (days)": "Custom.CycleTimeDays",
    }
    assert problems == {
        "Twice": "2 fields are named 'Twice' (Custom.A, Custom.B): put the reference name of "
        "the right one in the config",
        "Custom.Nope": "no field 'Custom.Nope' in the organisation",
    }


def test_ado_steps_depend_on_the_process() -> None:
    assert add_field_steps(ProcessInfo("Acme Agile", False), ["Task", "Bug"], "X") == (
        "Organization settings > Process > Acme Agile > Bug, Task > New field > Use an "
        "existing field > X > Add field"
    )
    assert add_field_steps(None, ["Bug"], "X") == (
        "Organization settings > Process > the project's inherited process > Bug > New field "
        "> Use an existing field > X > Add field"
    )
    assert add_field_steps(ProcessInfo("Scrum", True), ["Bug"], "X").startswith(
        "the project uses the system process Scrum, which cannot be changed: "
    )


def test_ado_new_fields_get_a_reference_name_and_a_type() -> None:
    assert reference_for("Cycle time (days)") == "Custom.CycleTimeDays"
    assert reference_for("Team p85 cycle-time") == "Custom.TeamP85CycleTime"
    assert reference_for("Custom.WipAgeDays") == "Custom.WipAgeDays"
    assert (field_type("forecast_done_p85_date"), field_type("wip_age_days")) == (
        "dateTime",
        "double",
    )


def test_a_refusal_line_counts_items_and_names_each_field() -> None:
    one = _Refusal("in project DEF", "not on the edit screen", ["WIP age (days)"], {"DEF-1"})
    assert one.line("acme-jira") == (
        "field 'WIP age (days)' cannot be set in project DEF (not on the edit screen): "
        "skipped 1 item; run `pmo-sync connectors check acme-jira`"
    )
    two = _Refusal("on board Beta", "not a custom field of the board", ["A", "B"], {"x", "y"})
    assert two.line("t") == (
        "fields 'A', 'B' cannot be set on board Beta (not a custom field of the board): "
        "skipped 2 items; run `pmo-sync connectors check t`"
    )
