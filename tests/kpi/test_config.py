"""kpis.yaml: every error at once, each at its exact key path; `teams:` checked like the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pmo_sync.domain import Stage
from pmo_sync.kpi.config import KPI_FILE, TeamSourceConfig, load_kpi_config, parse_kpi_config
from pmo_sync.kpi.teams import resolve_teams

EXAMPLE = Path(__file__).parents[2] / "config" / "kpis.example.yaml"
CONNECTORS = ["acme-jira", "acme-trello", "contoso-ado"]


def write(config_dir: Path, text: str) -> Path:
    path = config_dir / KPI_FILE
    path.write_text(text, encoding="utf-8")
    return path


def errors(config_dir: Path, connectors: list[str] | None = CONNECTORS) -> list[str]:
    return [str(e) for e in load_kpi_config(config_dir, connectors)[1]]


def test_the_shipped_example_is_valid_and_maps_as_its_comments_say(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / KPI_FILE)
    config, problems = load_kpi_config(tmp_path, CONNECTORS)
    assert problems == []
    assert config.teams == {
        "Platform": [
            TeamSourceConfig(source="acme-jira", team="DEF board"),
            TeamSourceConfig(source="contoso-ado", team="Phoenix"),
        ],
        "Mobile": [TeamSourceConfig(source="acme-trello", team="Team Beta")],
    }
    workflow = config.workflow_for("ABC board", {})
    assert (workflow.commitment_stage, workflow.done_stage) == ("In Progress", "Done")
    assert config.workflow_for("Platform", {"Open": Stage.TODO}).stage_names == (
        "To Do",
        "In Progress",
        "Done",
    )


def test_every_error_of_the_file_is_reported_at_once_at_its_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
zone: Mars/Olympus
velocity_windw: 3
teams:
  Platform:
    - source: acme-jira
      team: Team Alpha
    - source: acme-jiira
      team: Fabrikam\\Platform
    - {source: contoso-ado, tema: Phoenix}
  Mobile:
    - source: acme-jira
      team: Team Alpha
  Nobody: []
workflows:
  Platform:
    stages:
      - {name: To Do, statuses: [Open], category: todo}
      - {name: Doing, statuses: [Open, In Progress], category: in_progress}
      - {name: Done, statuses: [Done], category: dne}
    wait_stages: [Review]
  Mobile:
    stages:
      - {name: To Do, statuses: [Open], category: todo}
      - {name: Done, statuses: [Done], category: done}
      - {name: Done, statuses: [Closed], category: done}
    commitment: Done
    done: To Do
    blocked_stages: [To Do, Blocked]
  Web:
    stages:
      - {name: To Do, statuses: [Open], category: todo}
      - {name: Done, statuses: [Done], category: done}
""",
    )
    assert errors(tmp_path) == [
        f"{path}: zone: unknown time zone 'Mars/Olympus' (use an IANA name like Europe/Berlin)",
        f"{path}: velocity_windw: unknown key (did you mean 'velocity_window'?)",
        f"{path}: teams.Platform[2].team: field required",
        f"{path}: teams.Platform[2].tema: unknown key (did you mean 'team'?)",
        f"{path}: teams.Platform[1].source: no connector named 'acme-jiira' "
        "(connectors: acme-jira, acme-trello, contoso-ado)",
        f"{path}: teams.Mobile[0]: acme-jira's team 'Team Alpha' is already in teams.Platform[0]",
        f"{path}: teams.Nobody: list at least one {{source: ..., team: ...}}",
        f"{path}: workflows.Platform.stages[2].category: Input should be 'todo', 'in_progress' "
        "or 'done'",
        f"{path}: workflows.Platform.stages[1].statuses[0]: status 'Open' is already in stage "
        "'To Do'",
        f"{path}: workflows.Platform.wait_stages[0]: 'Review' is not one of the stages "
        "(To Do, Doing, Done)",
        f"{path}: workflows.Mobile.stages[2].name: 'Done' is also the name of stages[1]",
        f"{path}: workflows.Mobile.blocked_stages[1]: 'Blocked' is not one of the stages "
        "(To Do, Done, Done)",
        f"{path}: workflows.Mobile.done: the done stage 'To Do' is left of the commitment "
        "stage 'Done'",
        f"{path}: workflows.Web.commitment: no stage has category 'in_progress': name the "
        "commitment stage",
    ]


def test_a_team_of_the_old_shape_is_read_as_its_workflow_with_a_notice(tmp_path: Path) -> None:
    """kpis.yaml from before `workflows:` keeps working (a service upgraded overnight keeps
    running); the notice says where the board goes now."""
    write(
        tmp_path,
        "teams:\n  ABC board:\n    stages:\n"
        "      - {name: To Do, statuses: [Open], category: todo}\n"
        "      - {name: Doing, statuses: [In Progress], category: in_progress}\n"
        "      - {name: Done, statuses: [Done], category: done}\n",
    )
    config, found = load_kpi_config(tmp_path)
    assert found == []
    assert config.teams == {}
    assert [s.name for s in config.workflows["ABC board"].stages] == ["To Do", "Doing", "Done"]
    assert config.upgrade_notices == (
        "kpis.yaml: teams.ABC board: a board's stages now go under workflows: (read as "
        "workflows.ABC board; move it there); teams: lists the sources' teams that make one team",
    )
    assert (
        resolve_teams({("acme-jira", "ABC board")}, config).notices[0]
        == (config.upgrade_notices[0])
    )


def test_a_board_both_under_teams_and_workflows_is_an_error(tmp_path: Path) -> None:
    board = (
        "    stages:\n"
        "      - {name: To Do, statuses: [Open], category: todo}\n"
        "      - {name: Doing, statuses: [In Progress], category: in_progress}\n"
        "      - {name: Done, statuses: [Done], category: done}\n"
    )
    path = write(tmp_path, f"teams:\n  ABC board:\n{board}workflows:\n  ABC board:\n{board}")
    assert errors(tmp_path) == [
        f"{path}: teams.ABC board: a board's stages go under workflows:, and workflows.ABC "
        "board is there too: keep one"
    ]


def test_upgrade_notices_is_not_a_key_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "upgrade_notices: [hello]\n")
    assert errors(tmp_path) == [f"{path}: upgrade_notices: unknown key"]


def test_sources_are_the_names_the_connector_files_give(tmp_path: Path) -> None:
    """By default the connector files' names: an invalid file still names its connector."""
    connectors = tmp_path / "connectors"
    connectors.mkdir()
    (connectors / "jira.yaml").write_text("name: acme-jira\nkind: jira\n", encoding="utf-8")
    (connectors / "broken.yaml").write_text("name: [\n", encoding="utf-8")
    path = write(
        tmp_path,
        "teams:\n  Platform:\n    - {source: acme-jira, team: Team Alpha}\n"
        "    - {source: contoso-ado, team: Phoenix}\n",
    )
    assert errors(tmp_path, None) == [
        f"{path}: teams.Platform[1].source: no connector named 'contoso-ado' "
        "(connectors: acme-jira)"
    ]


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("teams: [Platform]\n", "teams", "Input should be a valid dictionary"),
        ("teams:\n  Platform: acme-jira\n", "teams.Platform", "Input should be a valid list"),
        ("teams:\n  Platform:\n    - {source: '', team: x}\n", "teams.Platform[0].source",
         "String should have at least 1 character"),
    ],
)  # fmt: skip
def test_the_shape_of_teams(tmp_path: Path, text: str, field: str, message: str) -> None:
    path = write(tmp_path, text)
    assert errors(tmp_path) == [f"{path}: {field}: {message}"]


def test_a_valid_mapping_loads(tmp_path: Path) -> None:
    write(
        tmp_path,
        yaml.safe_dump(
            {
                "teams": {
                    "Platform": [
                        {"source": "acme-jira", "team": "Team Alpha"},
                        {"source": "contoso-ado", "team": "Fabrikam\\Platform"},
                    ],
                    "Mobile": [{"source": "acme-trello", "team": "Team Echo"}],
                }
            }
        ),
    )
    config, problems = load_kpi_config(tmp_path, CONNECTORS)
    assert problems == []
    assert [e.team for e in config.teams["Platform"]] == ["Team Alpha", "Fabrikam\\Platform"]


def test_the_yaml_of_docs_teams_md_is_valid() -> None:
    """docs/teams.md's kpis.yaml examples load as they are, so the page cannot drift from
    the code (its portfolio.yaml example, first, is portfolio.yaml's: tests/portfolio)."""
    page = (Path(__file__).parents[2] / "docs" / "teams.md").read_text(encoding="utf-8")
    blocks = [b for b in page.split("```yaml\n")[1:] if not b.startswith("# config/portfolio")]
    assert len(blocks) == 2
    for block in blocks:
        data = yaml.safe_load(block.split("```")[0])
        assert parse_kpi_config(Path(KPI_FILE), data, CONNECTORS)[1] == []
