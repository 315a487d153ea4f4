"""portfolio.yaml: defaults, the shipped example, and every error at once at its key path."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from pmo_sync.domain import Stage
from pmo_sync.portfolio.config import (
    PORTFOLIO_FILE,
    FunnelStageConfig,
    JiraLinkType,
    PortfolioConfig,
    ReleaseDates,
    ReleasePattern,
    load_portfolio_config,
)

EXAMPLE = Path(__file__).parents[2] / "config" / "examples" / "portfolio.yaml"
CONNECTORS = ["acme-jira", "acme-trello", "contoso-ado"]


def errors(config_dir: Path, text: str, connectors: list[str] | None = CONNECTORS) -> list[str]:
    (config_dir / PORTFOLIO_FILE).write_text(text, encoding="utf-8")
    config, problems = load_portfolio_config(config_dir, connectors)
    if problems:
        assert config == PortfolioConfig()  # a file with errors is never half applied
    return [str(e).removeprefix(f"{config_dir}/") for e in problems]


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    config, problems = load_portfolio_config(tmp_path, CONNECTORS)
    assert problems == []
    assert config.themes == []
    assert config.requests.request_levels == ("epic", "feature")
    assert config.requests.funnel.stages() == [
        ("intake", FunnelStageConfig(categories=[Stage.TODO])),
        ("approved", FunnelStageConfig()),
        ("in_progress", FunnelStageConfig(categories=[Stage.IN_PROGRESS])),
        ("done", FunnelStageConfig(categories=[Stage.DONE])),
    ]
    assert config.dependencies.jira_link_types == [JiraLinkType(name="Blocks", outward="blocks")]
    assert config.dependencies.azure_devops == ["System.LinkTypes.Dependency"]
    assert config.dependencies.trello.attachment_prefix == "Depends on"
    assert config.dependencies.trello.checklist is None
    assert config.releases.azure_devops.iteration is None
    assert config.releases.dates == {}
    assert config.delivery == {}
    assert config.dates.jira_target_start is None


def test_the_shipped_example_is_valid_and_reads_as_its_comments_say(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / PORTFOLIO_FILE)
    config, problems = load_portfolio_config(tmp_path, CONNECTORS)
    assert problems == []
    assert [(t.name, t.target_share, t.sources) for t in config.themes] == [
        ("Customer growth", 50, []),
        ("Platform reliability", 30, []),
        ("Regulatory", 10, ["acme-jira"]),
    ]
    assert config.themes[0].match.area_paths == ["Fabrikam\\Phoenix"]
    assert config.requests.funnel.approved.statuses == ["Approved", "Ready for Delivery"]
    assert config.dependencies.jira_link_types[1] == JiraLinkType(
        name="Dependency", outward="depends_on"
    )
    iteration = config.releases.azure_devops.iteration
    assert isinstance(iteration, ReleasePattern)
    assert iteration.name_in_path("Fabrikam\\Release 2027.1\\Sprint 3") == "2027.1"
    assert config.releases.dates_of("2027.2") == ReleaseDates(planned=date(2027, 4, 30))
    assert config.delivery == {"Finance Systems": "traditional", "Team Beta": "kanban"}
    assert config.dates.jira_target_end == "Target end"


def test_the_portfolio_yaml_of_docs_teams_md_is_valid(tmp_path: Path) -> None:
    """docs/teams.md's `delivery:` example loads as it is (its kpis.yaml examples: tests/kpi)."""
    page = (Path(__file__).parents[2] / "docs" / "teams.md").read_text(encoding="utf-8")
    (block,) = [
        b.split("```")[0]
        for b in page.split("```yaml\n")[1:]
        if b.startswith("# config/portfolio.yaml")
    ]
    (tmp_path / PORTFOLIO_FILE).write_text(block, encoding="utf-8")
    config, problems = load_portfolio_config(tmp_path, CONNECTORS)
    assert problems == []
    assert config.delivery == {"Team Gamma": "traditional", "Team Beta": "kanban"}


def test_every_error_of_the_file_is_reported_at_once_at_its_key_path(tmp_path: Path) -> None:
    text = """\
themes:
  - name: Growth
    target_share: 60
    match: {lables: [growth]}
  - name: Growth
    target_share: 50
    sources: [acme-jiraa]
    match: {keys: ['nope:ABC-1', ':ABC-2']}
  - name: Ops
    target_share: 120
    match: {}
requests:
  levels: [epics, Portfolio Theme]
  funnel:
    done: {statuses: [Shipped], categories: [done, finished]}
    in_progress: {statuses: [shipped]}
dependencies:
  jira_link_types: [Blocks, {name: Dependency, outward: depend}]
  azure_devops: [Related]
releases:
  azure_devops: {iteration: 'Release {name}', tag: 'v{name}'}
  trello: {list: Release}
  dates:
    '1.0': {planned: 2027-01-01, released: soon}
delivery: {Team A: waterfall}
dates: {jira_target_strat: Target start}
"""
    assert errors(tmp_path, text) == [
        "portfolio.yaml: themes[0].match.lables: unknown key (did you mean 'labels'?)",
        "portfolio.yaml: themes[2].target_share: 120 is not a percentage from 0 to 100",
        "portfolio.yaml: themes[1].name: 'Growth' is also the name of themes[0]",
        "portfolio.yaml: themes[1].sources[0]: no connector named 'acme-jiraa' "
        "(connectors: acme-jira, acme-trello, contoso-ado)",
        "portfolio.yaml: themes[1].match.keys[0]: no connector named 'nope' "
        "(connectors: acme-jira, acme-trello, contoso-ado)",
        "portfolio.yaml: themes[1].match.keys[1]: write KEY or source:KEY",
        "portfolio.yaml: themes[2].match: matches nothing: give keys, labels, components, "
        "area_paths, boards or trello_labels",
        "portfolio.yaml: themes: the target shares add up to 110%: at most 100",
        "portfolio.yaml: requests.funnel.done.categories[1]: "
        "Input should be 'todo', 'in_progress' or 'done'",
        "portfolio.yaml: requests.levels[0]: unknown level 'epics' (did you mean 'epic'?)",
        "portfolio.yaml: requests.funnel.done.statuses[0]: "
        "status 'Shipped' is already in stage in_progress",
        "portfolio.yaml: dependencies.jira_link_types[1].outward: "
        "Input should be 'blocks' or 'depends_on'",
        "portfolio.yaml: releases.trello.list: "
        "a release pattern holds {name} once, e.g. 'Release {name}'",
        "portfolio.yaml: releases.dates.1.0.released: "
        "Input should be a valid date or datetime, input is too short",
        "portfolio.yaml: releases.azure_devops: give iteration or tag, not both",
        "portfolio.yaml: delivery.Team A: Input should be 'scrum', 'kanban' or 'traditional'",
        "portfolio.yaml: dates.jira_target_strat: unknown key (did you mean 'jira_target_start'?)",
    ]


def test_themes_as_a_mapping_are_named_by_their_keys_in_errors(tmp_path: Path) -> None:
    text = """\
themes:
  Growth:
    target_share: 70
    match: {labels: [growth]}
  Ops:
    name: Operations
    target_share: 40
    match: {componets: [SRE]}
"""
    assert errors(tmp_path, text) == [
        "portfolio.yaml: themes.Ops.match.componets: unknown key (did you mean 'components'?)",
        "portfolio.yaml: themes.Ops.name: unknown key (the theme's name is its key)",
        "portfolio.yaml: themes: the target shares add up to 110%: at most 100",
    ]
    text = "themes:\n  Growth: {match: {labels: [a]}}\n  growth: {match: {labels: [b]}}\n"
    assert errors(tmp_path, text) == [
        "portfolio.yaml: themes.growth.name: 'growth' is also the name of themes.Growth",
    ]
    (tmp_path / PORTFOLIO_FILE).write_text(
        "themes:\n  Growth: {target_share: 70, match: {labels: [growth]}}\n", encoding="utf-8"
    )
    config, problems = load_portfolio_config(tmp_path, CONNECTORS)
    assert problems == []
    assert [(t.name, t.target_share, t.match.labels) for t in config.themes] == [
        ("Growth", 70, ["growth"])
    ]


def test_a_funnel_stage_keeps_its_default_and_a_clash_with_it_is_named(tmp_path: Path) -> None:
    assert errors(tmp_path, "requests:\n  funnel:\n    approved: {categories: [todo]}\n") == [
        "portfolio.yaml: requests.funnel.approved.categories[0]: "
        "category 'todo' is already in stage intake (by default)",
    ]
    assert errors(tmp_path, "requests:\n  funnel:\n    intake: {categories: [done]}\n") == [
        "portfolio.yaml: requests.funnel.intake: category 'done' is in stage done by "
        "default: give done its own statuses or categories",
    ]
    assert errors(tmp_path, "requests:\n  funnel:\n    intake: {}\n    intake: {}\n") == [
        "portfolio.yaml: (file): not valid YAML: line 4, column 5: duplicate key 'intake'",
    ]


def test_requests_levels_types_and_link_type_short_names(tmp_path: Path) -> None:
    text = """\
requests:
  types: [Business Request]
dependencies:
  azure_devops: [dependency, Related]
  jira_link_types: []
"""
    assert errors(tmp_path, text) == []
    config, _ = load_portfolio_config(tmp_path, CONNECTORS)
    # types alone: only those types, each a level of its own at the store's edge
    assert config.requests.request_types == ("business request",)
    assert config.requests.request_levels == ("business request",)
    assert config.dependencies.azure_devops == [
        "System.LinkTypes.Dependency",
        "System.LinkTypes.Related",
    ]
    assert config.dependencies.jira_link_types == []
    assert errors(tmp_path, "requests: {levels: [Initiative, Portfolio Theme]}\n") == []
    config, _ = load_portfolio_config(tmp_path, CONNECTORS)
    assert config.requests.request_levels == ("initiative", "portfolio theme")
    text = "requests: {levels: [epic], types: [Change Request, change request, Epic]}\n"
    assert errors(tmp_path, text) == []
    config, _ = load_portfolio_config(tmp_path, CONNECTORS)
    assert config.requests.request_types == ("change request", "epic")
    assert config.requests.request_levels == ("epic", "change request")


def test_wrong_types_and_connectors_read_from_the_connector_files(tmp_path: Path) -> None:
    (tmp_path / "connectors").mkdir()
    (tmp_path / "connectors" / "a.yaml").write_text("name: only-jira\n", encoding="utf-8")
    text = """\
themes:
  - name: Growth
    target_share: lots
    sources: [acme-jira]
    match: {labels: growth}
requests: [epic]
delivery: scrum
"""
    assert errors(tmp_path, text, connectors=None) == [
        "portfolio.yaml: themes[0].target_share: Input should be a valid number, "
        "unable to parse string as a number",
        "portfolio.yaml: themes[0].match.labels: Input should be a valid list",
        "portfolio.yaml: themes[0].sources[0]: no connector named 'acme-jira' "
        "(connectors: only-jira)",
        "portfolio.yaml: requests: Input should be a valid dictionary or instance of "
        "RequestsConfig",
        "portfolio.yaml: delivery: Input should be a valid dictionary",
    ]


def test_release_patterns_name_a_release() -> None:
    pattern = ReleasePattern("Release {name}")
    assert pattern.name_in("release 2027.1") == "2027.1"
    assert pattern.name_in("Release") is None
    assert pattern.name_in("Pre-Release 3") is None
    assert pattern.name_in_path("Fabrikam\\Release 1\\Release 1.1\\Sprint 3") == "1.1"
    assert pattern.name_in_path("Fabrikam\\Sprint 3") is None
    assert ReleasePattern("v{name}-final").name_in("V2.0-FINAL") == "2.0"
