"""Policy files: what loads, and the exact `file: field: message` of each problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmo_sync.common.configfiles import ConfigError
from pmo_sync.governance.policy import RuleConfig, load_policies
from pmo_sync.governance.rules import RULES

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


def write(config_dir: Path, name: str, text: str) -> Path:
    path = config_dir / "policies" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def messages(config_dir: Path) -> list[str]:
    return [str(e) for e in load_policies(config_dir)[1]]


def test_a_full_rule_loads_with_defaults_and_overrides(tmp_path: Path) -> None:
    write(
        tmp_path,
        "flow.yaml",
        """
rules:
  - id: wip
    rule: wip_limit
    description: Stop starting
    severity: critical
    mode: enforced
    teams: [Team Alpha, Team Beta]
    sources: [acme-jira]
    params:
      limits: {In Progress: 5, In Review: 3}
    overrides:
      Team Alpha:
        params: {total: 4}
        mode: off
  - id: stale
    rule: stale_in_progress
""",
    )
    rules, errors = load_policies(tmp_path)
    assert errors == []
    wip, stale = rules
    assert (wip.id, wip.severity, wip.mode, wip.teams, wip.sources) == (
        "wip",
        "critical",
        "enforced",
        ("Team Alpha", "Team Beta"),
        ("acme-jira",),
    )
    alpha = wip.settings_for("Team Alpha")
    assert alpha is not None and alpha.mode == "off"  # an unquoted YAML `off` is false
    assert alpha.params.limits == {"In Progress": 5, "In Review": 3}  # type: ignore[attr-defined]
    assert alpha.params.total == 4  # type: ignore[attr-defined]
    assert wip.settings_for("Team Gamma") is None
    assert (stale.severity, stale.mode, stale.teams, stale.params.days) == (
        "warning",
        "advisory",
        None,
        5,
    )


def test_no_policies_folder_means_no_rules(tmp_path: Path) -> None:
    assert load_policies(tmp_path) == ([], [])
    assert load_policies(tmp_path / "missing") == ([], [])


def test_rule_errors_name_file_field_and_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        """
rules:
  - id: ok
    rule: missing_assignee
  - id: Bad Id
    rule: stale_in_progres
    severity: high
  - id: stale
    rule: stale_in_progress
    params: {days: -1, dayz: 3}
  - id: nothing
    rule: frobnicate
    mode: sometimes
    teamz: [Alpha]
  - just a string
  - id: wip
    rule: wip_limit
    teams: []
    params: {limits: {In Progress: -2}}
  - id: ac
    rule: missing_acceptance_criteria
    params: {where: [description, feild], section: "(unclosed"}
  - id: ac-field
    rule: missing_acceptance_criteria
    params: {where: field, field: ""}
  - id: empty-wip
    rule: wip_limit
  - id: bad-params
    rule: aging_wip
    params: [85]
""",
    )
    rules, errors = load_policies(tmp_path)
    assert [r.id for r in rules] == ["ok"]
    known = ", ".join(sorted(RULES))
    assert [str(e) for e in errors] == [
        f"{path}: rules[1].id: must be lower-case letters, digits, '-' and '_', starting with "
        "a letter or digit, at most 63 characters",
        f"{path}: rules[1].rule: unknown rule 'stale_in_progres' "
        "(did you mean 'stale_in_progress'?)",
        f"{path}: rules[1].severity: Input should be 'info', 'warning' or 'critical'",
        f"{path}: rules[2].params.days: Input should be greater than or equal to 1",
        f"{path}: rules[2].params.dayz: unknown key (did you mean 'days'?)",
        f"{path}: rules[3].rule: unknown rule 'frobnicate' (known: {known})",
        f"{path}: rules[3].mode: Input should be 'advisory', 'enforced' or 'off'",
        f"{path}: rules[3].teamz: unknown key (did you mean 'teams'?)",
        f"{path}: rules[4]: must be a mapping of keys to values",
        f"{path}: rules[5].teams: list at least one, or leave teams out for all",
        f"{path}: rules[5].params.limits.In Progress: Input should be greater than or equal to 0",
        f"{path}: rules[6].params.where[1]: Input should be 'description', 'field' or 'checklist'",
        f"{path}: rules[6].params.section: not a valid regular expression: missing ), "
        "unterminated subpattern at position 0",
        f"{path}: rules[7].params.field: String should have at least 1 character",
        f"{path}: rules[8].params.limits: limits is required: a limit per stage name (or total)",
        f"{path}: rules[9].params: must be a mapping of parameter names to values",
    ]


def test_override_errors_are_located_under_the_team(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        """
rules:
  - id: wip
    rule: wip_limit
    teams: [Alpha]
    params: {limits: {In Progress: 2}}
    overrides:
      Beta: {mode: advisory}
      Alpha: {params: {limts: 3, total: -1}}
  - id: ac
    rule: missing_acceptance_criteria
    overrides:
      A: {params: {where: field, field: ""}}
      B: {params: [1]}
      C: {mod: off}
""",
    )
    assert messages(tmp_path) == [
        f"{path}: rules[0].overrides.Beta: this team is not in the rule's teams",
        f"{path}: rules[0].overrides.Alpha.params.total: "
        "Input should be greater than or equal to 0",
        f"{path}: rules[0].overrides.Alpha.params.limts: unknown key (did you mean 'limits'?)",
        f"{path}: rules[1].overrides.C.mod: unknown key (did you mean 'mode'?)",
    ]
    # With C fixed, the params of A and B are checked (merged with the rule's).
    path.write_text(path.read_text().replace("C: {mod: off}", "C: {mode: off}"))
    assert messages(tmp_path) == [
        f"{path}: rules[0].overrides.Beta: this team is not in the rule's teams",
        f"{path}: rules[0].overrides.Alpha.params.total: "
        "Input should be greater than or equal to 0",
        f"{path}: rules[0].overrides.Alpha.params.limts: unknown key (did you mean 'limits'?)",
        f"{path}: rules[1].overrides.A.params.field: String should have at least 1 character",
        f"{path}: rules[1].overrides.B.params: must be a mapping of parameter names to values",
    ]


def test_duplicate_ids_across_files_name_both(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "rules:\n  - {id: wip, rule: wip_limit, params: {total: 3}}")
    second = write(
        tmp_path,
        "b.yaml",
        "rules:\n  - {id: other, rule: missing_assignee}\n  - {id: wip, rule: missing_assignee}",
    )
    rules, errors = load_policies(tmp_path)
    assert [(r.id, r.rule) for r in rules] == [("wip", "wip_limit"), ("other", "missing_assignee")]
    assert errors == [
        ConfigError(second, "rules[1].id", f"duplicate rule id 'wip' (also in {first}, rules[0])")
    ]


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("rules: []\nrulez: 1\n", ["rulez: unknown key (did you mean 'rules'?)"]),
        ("other: 1\n", ["rules: field required", "other: unknown key"]),
        ("rules: {id: x}\n", ["rules: Input should be a valid list"]),
        ("- a\n- b\n", ["(file): must be a mapping of keys to values"]),
        ("", ["(file): must be a mapping of keys to values (file is empty)"]),
    ],
)
def test_file_level_errors_skip_the_file(tmp_path: Path, text: str, problems: list[str]) -> None:
    path = write(tmp_path, "bad.yml", text)
    write(tmp_path, "good.yaml", "rules:\n  - {id: who, rule: missing_assignee}\n")
    rules, errors = load_policies(tmp_path)
    assert [r.id for r in rules] == ["who"]
    assert [str(e) for e in errors] == [f"{path}: {problem}" for problem in problems]


def test_rule_config_built_in_code_is_validated_the_same_way() -> None:
    rule = RuleConfig(id="stale", rule="stale_in_progress", params={"days": 2})
    assert rule.params.days == 2
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        RuleConfig(id="stale", rule="stale_in_progress", params={"days": 0})


def test_the_example_policies_load_cleanly() -> None:
    rules, errors = load_policies(REPO_CONFIG)
    assert errors == []
    assert {r.rule for r in rules} == set(RULES)  # every built-in rule has an example
