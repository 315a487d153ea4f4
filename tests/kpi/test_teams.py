"""A team is (source, team name) unless kpis.yaml's `teams:` maps it: never merged by name."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from pmo_sync.domain import Stage
from pmo_sync.kpi.compute import compute_kpis
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.kpi.model import ItemHistory, SprintInfo, SprintStay, StatusChange
from pmo_sync.kpi.teams import TeamIdentities, resolve_teams

JIRA, TRELLO, ADO = "acme-jira", "acme-trello", "contoso-ado"
PAIRS = {
    (JIRA, "Team Alpha"),
    (JIRA, "Team Beta"),
    (TRELLO, "Team Alpha"),
    (TRELLO, "Team Echo"),
    (ADO, "Fabrikam\\Platform"),
}
SHARED = (
    "team 'Team Alpha' is in acme-jira and acme-trello: kept apart as 'Team Alpha (acme-jira)' "
    "and 'Team Alpha (acme-trello)'; to make them one team, add under teams: in kpis.yaml: "
    "Team Alpha: [{source: acme-jira, team: Team Alpha}, {source: acme-trello, team: Team Alpha}]"
    " (or give each a name of its own the same way)"
)


def config(**teams: list[tuple[str, str]]) -> KpiConfig:
    return KpiConfig.model_validate(
        {
            "teams": {
                name: [{"source": s, "team": t} for s, t in refs] for name, refs in teams.items()
            }
        }
    )


def test_a_name_two_sources_share_stays_two_teams_with_one_notice() -> None:
    identities = resolve_teams(PAIRS, KpiConfig())
    assert dict(identities.shown) == {
        (JIRA, "Team Alpha"): "Team Alpha (acme-jira)",
        (JIRA, "Team Beta"): "Team Beta",
        (TRELLO, "Team Alpha"): "Team Alpha (acme-trello)",
        (TRELLO, "Team Echo"): "Team Echo",
        (ADO, "Fabrikam\\Platform"): "Fabrikam\\Platform",
    }
    assert identities.notices == (SHARED,)


def test_the_notices_yaml_added_to_kpis_yaml_merges_them_and_silences_it() -> None:
    suggested = SHARED.split("add under teams: in kpis.yaml: ")[1].split(" (or give")[0]
    merged = KpiConfig.model_validate({"teams": yaml.safe_load(suggested)})
    identities = resolve_teams(PAIRS, merged)
    assert identities.team_of(JIRA, "Team Alpha") == identities.team_of(TRELLO, "Team Alpha")
    assert identities.team_of(JIRA, "Team Alpha") == "Team Alpha"
    assert identities.notices == ()


def test_teams_merges_several_sources_and_renames_one() -> None:
    identities = resolve_teams(
        PAIRS,
        config(
            Platform=[(JIRA, "Team Alpha"), (ADO, "Fabrikam\\Platform")],
            Mobile=[(TRELLO, "Team Echo")],
        ),
    )
    assert dict(identities.shown) == {
        (JIRA, "Team Alpha"): "Platform",
        (ADO, "Fabrikam\\Platform"): "Platform",
        (TRELLO, "Team Echo"): "Mobile",
        (JIRA, "Team Beta"): "Team Beta",
        (TRELLO, "Team Alpha"): "Team Alpha",  # the only unmapped Team Alpha left
    }
    assert identities.names == ["Mobile", "Platform", "Team Alpha", "Team Beta"]
    assert identities.notices == ()


def test_a_source_team_left_out_of_a_team_of_its_name_is_kept_apart_and_said_so() -> None:
    identities = resolve_teams(PAIRS, config(**{"Team Alpha": [(JIRA, "Team Alpha")]}))
    assert identities.team_of(JIRA, "Team Alpha") == "Team Alpha"
    assert identities.team_of(TRELLO, "Team Alpha") == "Team Alpha (acme-trello)"
    assert identities.notices == (
        "team 'Team Alpha' of acme-trello is kept apart from kpis.yaml's team 'Team Alpha' as "
        "'Team Alpha (acme-trello)'; to make it part of that team, add to the list "
        "teams.Team Alpha in kpis.yaml: {source: acme-trello, team: Team Alpha}",
    )


def test_three_sources_of_one_name() -> None:
    pairs = {(JIRA, "Ops"), (TRELLO, "Ops"), (ADO, "Ops")}
    assert resolve_teams(pairs, KpiConfig()).notices == (
        "team 'Ops' is in acme-jira, acme-trello and contoso-ado: kept apart as "
        "'Ops (acme-jira)', 'Ops (acme-trello)' and 'Ops (contoso-ado)'; to make them one team, "
        "add under teams: in kpis.yaml: Ops: [{source: acme-jira, team: Ops}, "
        "{source: acme-trello, team: Ops}, {source: contoso-ado, team: Ops}] "
        "(or give each a name of its own the same way)",
    )


def test_a_name_in_kpis_yaml_that_matches_no_synced_team_names_the_closest() -> None:
    stages = [
        {"name": "To Do", "statuses": ["Open"], "category": "todo"},
        {"name": "Doing", "statuses": ["Doing"], "category": "in_progress"},
        {"name": "Done", "statuses": ["Done"], "category": "done"},
    ]
    cfg = KpiConfig.model_validate(
        {
            "teams": {
                "Platform": [
                    {"source": JIRA, "team": "Team Alpah"},
                    {"source": ADO, "team": "fabrikam\\platfrom"},
                ],
                "Mobile": [{"source": "acme-github", "team": "Mobile"}],
            },
            "workflows": {"Team Beat": {"stages": stages}, "Platform": {"stages": stages}},
        }
    )
    assert resolve_teams(PAIRS, cfg).notices == (
        SHARED,
        "kpis.yaml: teams.Platform[0].team: no synced team 'Team Alpah' in acme-jira "
        "(closest: 'Team Alpha')",
        "kpis.yaml: teams.Platform[1].team: no synced team 'fabrikam\\platfrom' in contoso-ado "
        "(closest: 'Fabrikam\\Platform')",
        "kpis.yaml: teams.Mobile[0].team: no synced team 'Mobile' in acme-github "
        "(nothing synced from acme-github yet)",
        "kpis.yaml: workflows.Team Beat: no synced team 'Team Beat' (closest: 'Team Beta')",
    )


def test_nothing_synced_yet() -> None:
    identities = resolve_teams(set(), config(Platform=[(JIRA, "Team Alpha")]))
    assert identities == TeamIdentities(
        {},
        (
            "kpis.yaml: teams.Platform[0].team: no synced team 'Team Alpha' in acme-jira "
            "(nothing synced from acme-jira yet)",
        ),
    )


# -- the KPIs of two sources' "Alpha", worked by hand -------------------------------------------

NOW = datetime(2026, 3, 12, 12, tzinfo=UTC)
STAGES = {
    source: {"To Do": Stage.TODO, "In Progress": Stage.IN_PROGRESS, "Done": Stage.DONE}
    for source in (JIRA, TRELLO)
}


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


def done_item(source: str, key: str, points: float, identities: TeamIdentities) -> ItemHistory:
    """Committed to its source's sprint 1 on the 2nd, done on the 5th."""
    return ItemHistory(
        key=key,
        source=source,
        team=identities.team_of(source, "Alpha"),
        item_type="story",
        created=at(1),
        initial_status="To Do",
        status_changes=(
            StatusChange(at(3), "To Do", "In Progress"),
            StatusChange(at(5), "In Progress", "Done"),
        ),
        estimate=points,
        sprint_stays=(SprintStay(f"{source}:1", at(1), None),),
    )


def alpha_run(cfg: KpiConfig) -> tuple[TeamIdentities, dict[str, float], dict[str, int]]:
    identities = resolve_teams({(JIRA, "Alpha"), (TRELLO, "Alpha")}, cfg)
    items = [
        done_item(JIRA, "ABC-1", 3.0, identities),
        done_item(JIRA, "ABC-2", 5.0, identities),
        done_item(TRELLO, "7", 2.0, identities),
    ]
    sprints = [
        SprintInfo(
            f"{source}:1",
            "Sprint 1",
            identities.team_of(source, "Alpha"),
            "closed",
            at(2),
            at(9),
            at(9),
        )
        for source in (JIRA, TRELLO)
    ]
    run = compute_kpis(items, sprints, cfg, STAGES, NOW)
    return identities, run.velocity, {t: s.items for t, s in run.flow.teams.items()}


def test_each_alpha_has_its_own_items_and_velocity() -> None:
    # Jira's sprint completed 3 + 5 = 8 points, Trello's 2: each team's one closed sprint.
    _, velocity, items = alpha_run(KpiConfig())
    assert items == {"Alpha (acme-jira)": 2, "Alpha (acme-trello)": 1}
    assert velocity == {"acme-jira:1": 8.0, "acme-trello:1": 2.0}


def test_mapped_into_one_team_the_two_sprints_make_one_velocity() -> None:
    # One team with two sprints closed at the same moment (ties go by id: Jira's first):
    # after Jira's its velocity is 8, after Trello's the mean of 8 and 2 = 5.
    cfg = config(Alpha=[(JIRA, "Alpha"), (TRELLO, "Alpha")])
    identities, velocity, items = alpha_run(cfg)
    assert identities.notices == ()
    assert items == {"Alpha": 3}
    assert velocity == {"acme-jira:1": 8.0, "acme-trello:1": 5.0}


def test_the_suggested_yaml_quotes_what_yaml_needs_quoted() -> None:
    pairs = {(JIRA, "Ops: Core, EU"), (ADO, "Ops: Core, EU")}
    (notice,) = resolve_teams(pairs, KpiConfig()).notices
    suggested = notice.split("add under teams: in kpis.yaml: ")[1].split(" (or give")[0]
    assert suggested == (
        "'Ops: Core, EU': [{source: acme-jira, team: 'Ops: Core, EU'}, "
        "{source: contoso-ado, team: 'Ops: Core, EU'}]"
    )
    merged = resolve_teams(pairs, KpiConfig.model_validate({"teams": yaml.safe_load(suggested)}))
    assert (merged.names, merged.notices) == (["Ops: Core, EU"], ())
