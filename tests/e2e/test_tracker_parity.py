"""Tracker parity: one team's three weeks, played into Jira, Azure DevOps and Trello, give the
same KPIs and the same governance findings.

Acceptance criteria: "The same KPI and governance tests that pass for Jira data pass for
equivalent Azure DevOps data", and for Trello data.

`play` scripts the scenario once; `JiraScript`, `AdoScript` and `TrelloScript` carry each
step out through
the sandbox's dataset mutation API, at its moment on the sandbox's clock. Each tracker is then
synced by its real connector into its own store, KPIs and findings are computed
(`refresh_kpis`) and read back from the store.

- `test_hand_worked_kpis_and_findings` (per tracker, per database): the numbers worked out by
  hand below, per item, for the team, for the sprint, and every finding.
- `test_jira_and_azure_devops_agree` (per database): both trackers side by side, the complete
  sets of stored KPI values and open findings, tracker keys mapped to the scenario's labels.
  The only values left out are the sandboxes' own empty sprint calendars (`OTHER_SPRINTS`).

**The calendar.** Both sandboxes are generated at `NOW0`, a Saturday. The ADO sandbox derives
its team's iterations from that moment: "Sprint 14" starts on Monday 4 March 2030 (day 0, 00:00
UTC) and its finish date is Friday 15 March (day 11; the last day, inclusive). The Jira
sandbox's future sprint has no dates until someone starts it: the script starts it on day 0 at
09:00 and closes it on day 11 at 17:00; the ADO connector ends an iteration at the last second
of its finish date's day (see `test_work_done_on_the_last_day_of_the_sprint_counts`). Nothing
happens between ADO's and Jira's start, nor after 17:00 on day 11, so both trackers see the
same items at the start S and the close C, on the same calendar days: the burn charts and the
`closed@` day compare too. Every event is on a whole minute, so Jira's (second) and ADO's
(millisecond) timestamps are the same instants.

The dates lie in 2030 on purpose: the ADO connector judges an iteration's state from the
tracker's `timeFrame` *and* the wall clock (`convert_iteration`), so the scenario stays in
the future of the real clock the test runs on.

Hand-worked numbers: `T(d, h)` is hour `h` of day `d` in hours since day 0 (so T(-7, 10) =
-158). KPIs use the defaults: UTC, inclusive day counting for cycle time, lead time and WIP
age (started and finished the same day = 1); time in stage, blocked time and flow efficiency
are elapsed hours / 24. The board: To Do | In Progress | In Review (a wait stage) | Done,
committed at In Progress, done at Done; flow efficiency = active / lead time, where active =
lead - blocked - waiting (To Do, In Review, and time spent Done before a reopening).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import Engine

from connectors.azure_devops import AzureDevOpsConfig, AzureDevOpsConnector
from connectors.base import Connector
from connectors.jira import JiraConfig, JiraConnector
from connectors.trello import TrelloConfig, TrelloConnector
from pmo_sync.evaluation.refresh import refresh_kpis
from pmo_sync.governance.policy import RuleConfig, load_policies
from pmo_sync.kpi.config import KpiConfig
from pmo_sync.sandbox.ado import AdoSandbox
from pmo_sync.sandbox.ado.generator import F_POINTS, AdoDataset
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello import TrelloDataset, TrelloSandbox
from pmo_sync.store.findings import read_findings
from pmo_sync.store.kpis import read_kpi_values
from pmo_sync.store.repository import Store
from pmo_sync.sync import sync_connector

TRACKERS = ["jira", "azure_devops", "trello"]
TEAM = "Team Alpha"  # Jira: the ABC scrum board's name; ADO: the sandbox's team, named alike
DAY0 = datetime(2030, 3, 4, tzinfo=UTC)  # Monday: ADO's "Sprint 14" starts
NOW0 = DAY0 - timedelta(days=9) + timedelta(hours=12)  # both sandboxes are generated here
NOW = DAY0 + timedelta(days=13, hours=12)  # T(13, 12): the sync, the KPIs and the findings
SPRINT = "the sprint"  # the scenario sprint's label: Jira "ABC Sprint 15", ADO "Sprint 14"
LABELS = ("EPIC", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L")
# The sandboxes' generated, empty sprints: KPI values exist for them (all 0) in one tracker
# and not in the other, since the two calendars differ (Jira: 13 closed sprints and the active
# one the script closes; ADO: 13 past iterations and one more future one). They are left out
# of the comparison by name, and checked to be empty.
OTHER_SPRINTS = {
    "jira": {f"ABC Sprint {n}" for n in range(1, 15)},
    "azure_devops": {f"Sprint {n}" for n in (*range(1, 14), 15)},
    "trello": {f"Sprint {n}" for n in (*range(5, 19), 20)},
}

JIRA_STATUS = {"To Do": "To Do", "In Progress": "In Progress", "In Review": "In Review",
               "Done": "Done"}  # fmt: skip
ADO_STATE = {"To Do": "New", "In Progress": "Active", "In Review": "Resolved", "Done": "Closed"}
TRELLO_LIST = {"To Do": "To Do", "In Progress": "Doing", "In Review": "Review", "Done": "Done"}
STAGE_OF = {
    status: stage for m in (JIRA_STATUS, ADO_STATE, TRELLO_LIST) for stage, status in m.items()
}
JIRA_TYPE = {"epic": "Epic", "story": "Story", "bug": "Bug"}
ADO_TYPE = {"epic": "Feature", "story": "User Story", "bug": "Bug"}

# One board for both trackers: each stage holds the Jira status and the ADO state of it
# (Won't Do and Removed are not listed: by their category both go to Done).
KPI_CONFIG = KpiConfig.model_validate(
    {
        "workflows": {
            TEAM: {
                "stages": [
                    {
                        "name": stage,
                        "category": category,
                        "statuses": sorted({status, ADO_STATE[stage], TRELLO_LIST[stage]}),
                    }
                    for stage, status, category in (
                        ("To Do", JIRA_STATUS["To Do"], "todo"),
                        ("In Progress", JIRA_STATUS["In Progress"], "in_progress"),
                        ("In Review", JIRA_STATUS["In Review"], "in_progress"),
                        ("Done", JIRA_STATUS["Done"], "done"),
                    )
                ],
                "wait_stages": ["In Review"],
            }
        }
    }
)

# The team's policies: the rules of config/policies, with thresholds this scenario crosses.
POLICY = """
rules:
  - id: estimate-committed
    rule: missing_estimate
  - id: acceptance-criteria
    rule: missing_acceptance_criteria
    params: {applies_to: planned}
  - id: user-story-template
    rule: user_story_template
  - id: portfolio-alignment
    rule: missing_parent_epic
    mode: enforced
  - id: wip-limit
    rule: wip_limit
    params: {total: 6, limits: {In Progress: 4}}
  - id: aging-wip
    rule: aging_wip
    severity: info
  - id: stale-in-progress
    rule: stale_in_progress
    params: {days: 5}
  - id: blocked-too-long
    rule: blocked_too_long
    severity: critical
    params: {days: 3}
  - id: in-progress-assignee
    rule: missing_assignee
  - id: sprint-scope-added
    rule: sprint_scope_added
    params: {max_percent: 5}
  - id: sprint-overcommitment
    rule: sprint_overcommitment
  - id: carried-over
    rule: carried_over
    params: {sprints: 1}
"""


def at(day: int, hour: int = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour)


def day(n: int) -> str:
    return (DAY0 + timedelta(days=n)).date().isoformat()


# `start` is two edits in both trackers, a minute apart: the person takes the item, then
# moves it (two Jira edits in one second would be stamped a second apart by the sandbox).
ASSIGN_AHEAD = timedelta(minutes=1)


# -- the two trackers behind one script ------------------------------------------------------


class Script(Protocol):
    """What people do on the board, at a moment; each tracker does it its own way."""

    def create(
        self,
        when: datetime,
        label: str,
        kind: str,
        title: str,
        points: float | None = None,
        parent: str | None = None,
        description: str = "",
    ) -> None: ...
    def start(self, when: datetime, label: str, person: int | None) -> None: ...
    def move(self, when: datetime, label: str, stage: str) -> None: ...
    def estimate(self, when: datetime, label: str, points: float) -> None: ...
    def flag(self, when: datetime, label: str, blocked: bool) -> None: ...
    def plan(self, when: datetime, label: str) -> None: ...
    def unplan(self, when: datetime, label: str) -> None: ...
    def previous_sprint_closes(self, when: datetime) -> None: ...
    def sprint_starts(self, when: datetime) -> None: ...
    def sprint_closes(self, when: datetime) -> None: ...


class JiraScript:
    """Project ABC; the scenario sprint is its board's future sprint, started and closed by
    the script. Edits are made by the project lead (a person, not the API user)."""

    def __init__(self, sandbox: JiraSandbox) -> None:
        self.data = sandbox.dataset
        board = next(b for b in self.data.boards if b.project_key == "ABC" and b.type == "scrum")
        assert board.name == TEAM
        sprints = self.data.board_sprints(board.id)
        self.previous = next(s for s in sprints if s.state == "active")
        self.sprint = next(s for s in sprints if s.state == "future")
        self.people = self.data.teams["ABC"]
        self.keys: dict[str, str] = {}

    def _at(self, when: datetime) -> None:
        self.data.clock.set(when)

    def create(
        self,
        when: datetime,
        label: str,
        kind: str,
        title: str,
        points: float | None = None,
        parent: str | None = None,
        description: str = "",
    ) -> None:
        self._at(when)
        issue = self.data.create_issue(
            "ABC",
            title,
            issue_type=JIRA_TYPE[kind],
            points=points,
            parent_key=self.keys[parent] if parent else None,
            description=description,
        )
        self.keys[label] = issue.key

    def start(self, when: datetime, label: str, person: int | None) -> None:
        if person is not None:
            self._at(when - ASSIGN_AHEAD)
            self.data.assign(self.keys[label], self.people[person])
        self._at(when)
        self.data.transition(self.keys[label], "In Progress")

    def move(self, when: datetime, label: str, stage: str) -> None:
        self._at(when)
        self.data.transition(self.keys[label], JIRA_STATUS[stage])

    def estimate(self, when: datetime, label: str, points: float) -> None:
        self._at(when)
        self.data.set_estimate(self.keys[label], points)

    def flag(self, when: datetime, label: str, blocked: bool) -> None:
        self._at(when)
        self.data.set_flagged(self.keys[label], blocked)

    def plan(self, when: datetime, label: str) -> None:
        self._at(when)
        self.data.add_to_sprint(self.keys[label], self.sprint.id)

    def unplan(self, when: datetime, label: str) -> None:
        self._at(when)
        self.data.remove_from_sprint(self.keys[label])

    def previous_sprint_closes(self, when: datetime) -> None:
        self._at(when)  # the generated active sprint: empty, the site has no generated issues
        self.data.close_sprint(self.previous.id, move_to=None)

    def sprint_starts(self, when: datetime) -> None:
        self._at(when)
        self.data.start_sprint(self.sprint.id, end=when.replace(hour=17) + timedelta(days=11))

    def sprint_closes(self, when: datetime) -> None:
        self._at(when)  # unfinished items stay in it, as in ADO until someone moves them
        self.data.close_sprint(self.sprint.id, move_to=None)


class AdoScript:
    """Team Alpha's area path; the scenario sprint is the first iteration after generation.
    Its dates are the calendar's: starting and closing it only checks that the script is on
    its first and last day. Every edit is one revision by a team member (not the PAT's
    identity, whose edits the sync would not count as activity)."""

    def __init__(self, sandbox: AdoSandbox) -> None:
        self.data = sandbox.dataset
        team = self.data.team(TEAM)
        assert team is not None
        self.iterations = team.iterations
        self.sprint = next(it for it in team.iterations if it.start > self.data.generated_at)
        self.people = team.members
        self.by = team.members[0]
        self.ids: dict[str, int] = {}

    def _at(self, when: datetime) -> None:
        self.data.clock.set(when)

    def _update(self, when: datetime, label: str, changes: dict[str, Any]) -> None:
        self._at(when)
        assert self.data.update(self.ids[label], changes, by=self.by) is not None

    def create(
        self,
        when: datetime,
        label: str,
        kind: str,
        title: str,
        points: float | None = None,
        parent: str | None = None,
        description: str = "",
    ) -> None:
        self._at(when)
        fields: dict[str, Any] = {}
        if points is not None:
            fields[F_POINTS] = points
        if parent is not None:
            fields["System.Parent"] = self.ids[parent]
        if description:
            fields["System.Description"] = description
        item = self.data.create(ADO_TYPE[kind], title, team=TEAM, fields=fields, by=self.by)
        self.ids[label] = item.id

    def start(self, when: datetime, label: str, person: int | None) -> None:
        if person is not None:
            who = self.people[person].ref
            self._update(when - ASSIGN_AHEAD, label, {"System.AssignedTo": who})
        self._update(when, label, {"System.State": "Active"})

    def move(self, when: datetime, label: str, stage: str) -> None:
        self._update(when, label, {"System.State": ADO_STATE[stage]})

    def estimate(self, when: datetime, label: str, points: float) -> None:
        self._update(when, label, {F_POINTS: points})

    def flag(self, when: datetime, label: str, blocked: bool) -> None:
        self._update(when, label, {"System.Tags": "Blocked" if blocked else None})

    def plan(self, when: datetime, label: str) -> None:
        self._update(when, label, {"System.IterationPath": self.sprint.path})

    def unplan(self, when: datetime, label: str) -> None:
        self._update(when, label, {"System.IterationPath": self.data.project.name})

    def previous_sprint_closes(self, when: datetime) -> None:
        before = [it for it in self.iterations if it.start < self.sprint.start]
        assert before[-1].time_frame(when) == "past"  # over by its dates already

    def sprint_starts(self, when: datetime) -> None:
        assert (self.sprint.start.date(), self.sprint.time_frame(when)) == (
            when.date(),
            "current",
        )

    def sprint_closes(self, when: datetime) -> None:
        assert (self.sprint.finish.date(), self.sprint.time_frame(when)) == (
            when.date(),
            "current",
        )


class TrelloScript:
    """Team Alpha's board; the scenario sprint is "Sprint 19" of its Sprint dropdown, dated by
    the connector's config (`TRELLO_SPRINTS`: Trello keeps no sprint dates), so starting and
    closing it only checks the day. Types, the flag and epics are the team's conventions: the
    "Bug", "Blocked" and "Epic" labels, and a card's parent epic is the epic card's link
    attached to it. Every edit is made by a team member (not the token's member, whose edits
    are pmo-sync's own write-back)."""

    SPRINT = "Sprint 19"

    def __init__(self, sandbox: TrelloSandbox) -> None:
        self.data = sandbox.dataset
        self.board = self.data.board(TEAM)
        self.people = self.board.team
        self.by = self.people[0]
        for name, color in (("Epic", "purple"), ("Blocked", "red")):
            self.data.create_label(self.board, name, color)
        self.sprint = next(s for s in self.data.sprints if s.name == self.SPRINT)
        self.keys: dict[str, str] = {}
        self._ids: dict[str, str] = {}

    def _at(self, when: datetime) -> None:
        self.data.clock.set(when)

    def create(
        self,
        when: datetime,
        label: str,
        kind: str,
        title: str,
        points: float | None = None,
        parent: str | None = None,
        description: str = "",
    ) -> None:
        self._at(when)
        card = self.data.create_card(self.board, "To Do", title, by=self.by, desc=description)
        self.keys[label], self._ids[label] = card.short_link, card.id
        kind_label = {"bug": "Bug", "epic": "Epic"}.get(kind)
        if kind_label:
            self.data.add_label(card.id, kind_label, by=self.by)
        if points is not None:
            self.data.set_custom_field(card.id, "Story Points", points, by=self.by)
        if parent is not None:
            self.data.attach_card(card.id, self._ids[parent], by=self.by)

    def start(self, when: datetime, label: str, person: int | None) -> None:
        if person is not None:
            self._at(when - ASSIGN_AHEAD)
            self.data.add_member(self._ids[label], self.people[person], by=self.by)
        self.move(when, label, "In Progress")

    def move(self, when: datetime, label: str, stage: str) -> None:
        self._at(when)
        self.data.move_card(self._ids[label], TRELLO_LIST[stage], by=self.by)

    def estimate(self, when: datetime, label: str, points: float) -> None:
        self._at(when)
        self.data.set_custom_field(self._ids[label], "Story Points", points, by=self.by)

    def flag(self, when: datetime, label: str, blocked: bool) -> None:
        self._at(when)
        change = self.data.add_label if blocked else self.data.remove_label
        change(self._ids[label], "Blocked", by=self.by)

    def plan(self, when: datetime, label: str) -> None:
        self._at(when)
        self.data.set_custom_field(self._ids[label], "Sprint", self.SPRINT, by=self.by)

    def unplan(self, when: datetime, label: str) -> None:
        self._at(when)
        self.data.set_custom_field(self._ids[label], "Sprint", None, by=self.by)

    def previous_sprint_closes(self, when: datetime) -> None:
        assert when.date() < DAY0.date()  # Sprint 18 ends on day -1 by the config's calendar

    def sprint_starts(self, when: datetime) -> None:
        assert when.date() == DAY0.date()

    def sprint_closes(self, when: datetime) -> None:
        assert when.date() == at(11).date()


TRELLO_SPRINTS = {
    "cadence": {"sprint": "Sprint 19", "starts": DAY0.date().isoformat(), "days": 14},
    # the scenario sprint ends on Friday of its second week, like ADO's: day 11
    "dates": {"Sprint 19": {"start": day(0), "end": day(11)}},
}


# -- the scenario ----------------------------------------------------------------------------


def play(t: Script) -> None:
    """Team Alpha's three weeks, in time order; `person` numbers a team member."""
    # Day -7 (Mon 25 Feb): the backlog is written; EPIC is the parent of most of it.
    t.create(at(-7, 9), "EPIC", "epic", "Checkout revamp")
    t.create(at(-7, 10), "A", "story", "As a shopper I want to pay by card so that I can check out",
             points=5, parent="EPIC")  # fmt: skip
    t.create(at(-7, 11), "B", "story", "As a shopper I want to save my cart so that I can return",
             points=3, parent="EPIC")  # fmt: skip
    t.create(at(-7, 12), "C", "bug", "Totals round the VAT wrong", points=2, parent="EPIC")
    t.create(at(-7, 13), "D", "story", "As a buyer I want an invoice PDF so that I can file it",
             points=8, parent="EPIC")  # fmt: skip
    t.create(at(-7, 14), "E", "story", "As an admin I want an audit log so that I can trace edits",
             points=3, parent="EPIC")  # fmt: skip
    t.create(at(-7, 15), "F", "story", "As a shopper I want gift cards so that I can pay with one",
             points=5)  # fmt: skip
    t.create(at(-7, 16), "H", "story", "Search suggestions")  # no estimate, template nor epic
    t.create(at(-7, 17), "L", "story", "As a shopper I want a wish list so that I can buy later",
             points=2, parent="EPIC")  # fmt: skip
    t.create(at(-6, 9), "G", "story", "As a shopper I want delivery dates so that I can plan",
             points=2, parent="EPIC")  # fmt: skip
    t.create(at(-5, 9), "K", "bug", "Broken link in the footer", points=1)
    t.start(at(-4, 10), "K", person=1)  # a quick fix, in no sprint
    t.move(at(-3, 15), "K", "Done")
    # Day -2 (Sat): sprint planning, 09:00 to 15:00. Day -1: Jira's previous sprint closes.
    for hour, label in enumerate(("A", "B", "C", "D", "E", "F", "H"), start=9):
        t.plan(at(-2, hour), label)
    t.previous_sprint_closes(at(-1, 18))
    # Day 0 (Mon 4 Mar): the sprint starts.
    t.sprint_starts(at(0, 9))
    t.start(at(0, 10), "A", person=1)
    t.start(at(0, 11), "D", person=2)
    t.start(at(1, 10), "B", person=3)
    t.estimate(at(1, 11), "B", 5)  # re-estimated 3 -> 5 in the sprint
    t.start(at(1, 14), "C", person=4)
    t.flag(at(2, 10), "C", True)  # blocked for four days
    t.start(at(2, 11), "E", person=5)  # ... and nobody touches E again
    t.move(at(2, 15), "A", "In Review")
    t.plan(at(3, 9), "G")  # added after the start
    t.start(at(3, 10), "G", person=1)
    t.move(at(3, 11), "A", "Done")
    t.move(at(4, 10), "B", "In Review")
    t.move(at(4, 12), "D", "Done")  # straight to Done, past review ...
    t.unplan(at(5, 11), "F")  # removed from the sprint
    t.move(at(5, 16), "B", "Done")
    t.move(at(6, 9), "D", "In Progress")  # ... and re-opened
    t.flag(at(6, 10), "C", False)
    t.move(at(6, 11), "G", "In Review")
    t.move(at(6, 17), "G", "Done")
    t.move(at(7, 10), "C", "In Review")
    t.create(at(8, 9), "I", "bug", "Payment webhook times out", points=3)  # unplanned work
    t.move(at(8, 10), "C", "Done")
    t.start(at(8, 11), "I", person=3)
    t.start(at(9, 9), "H", person=2)
    t.flag(at(9, 10), "I", True)  # still blocked at NOW
    t.start(at(9, 11), "F", person=4)  # F is picked up after all, outside the sprint
    t.create(at(10, 9), "J", "story", "As a clerk I want bulk refunds so that I can close the day",
             points=3, parent="EPIC")  # fmt: skip
    t.start(at(10, 10), "J", person=None)  # nobody assigned
    t.move(at(10, 12), "D", "In Review")
    t.sprint_closes(at(11, 17))  # Fri 15 Mar: D, E and H unfinished
    t.move(at(12, 10), "D", "Done")


# -- running it: sandbox, sync, KPIs and findings, read back from the store ----------------------


@pytest.fixture(autouse=True)
def _sdk_cache(cold_ado_sdk_cache: None) -> None:
    """A cold SDK route cache per test (tests/conftest.py)."""


def _rules(tmp_path: Path, text: str) -> list[RuleConfig]:
    folder = tmp_path / f"policies-{abs(hash(text))}"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "team.yaml").write_text(text, encoding="utf-8")
    loaded, errors = load_policies(folder)
    assert errors == []
    return loaded


ValueKey = tuple[str, str, str, str, str | None]  # scope, label or key, metric, window, team


@dataclass
class Outcome:
    """One tracker's stored KPI values and open findings, tracker keys mapped to labels."""

    values: dict[ValueKey, float | None]
    other_sprints: dict[ValueKey, float | None]  # the sandbox's generated sprints
    findings: set[tuple[Any, ...]]

    def item(self, label: str) -> dict[str, float | None]:
        return {k[2]: v for k, v in self.values.items() if k[:2] == ("item", label)}

    def get(self, scope: str, key: str, metric: str, window: str) -> float | None:
        return self.values[(scope, key, metric, window, None if scope == "portfolio" else TEAM)]

    def series(self, scope: str, key: str, metric: str) -> dict[str, float | None]:
        return {k[3]: v for k, v in self.values.items() if k[:3] == (scope, key, metric)}


class Tracker:
    """One tracker's sandbox (stopped by the `tracker` fixture), its script, and the
    connector config that syncs it."""

    def __init__(self, kind: str) -> None:
        self.sandbox: JiraSandbox | AdoSandbox | TrelloSandbox
        if kind == "jira":
            data = JiraDataset.generate(projects=("ABC",), issues_per_project=0, now=NOW0)
            self.sandbox = JiraSandbox(data)
        elif kind == "trello":
            data = TrelloDataset.generate(cards_per_board=0, now=NOW0, boards=(TEAM,))
            tag = uuid.uuid4().hex[:12]  # credentials of its own: the client paces per key
            self.sandbox = TrelloSandbox(data, key=f"key-{tag}", token=f"token-{tag}")
        else:
            self.sandbox = AdoSandbox(AdoDataset.generate(size=0, now=NOW0, teams=(TEAM,)))

    def start(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sandbox.start()
        self.script: JiraScript | AdoScript | TrelloScript
        self.config: JiraConfig | AzureDevOpsConfig | TrelloConfig
        if isinstance(self.sandbox, TrelloSandbox):
            self.script = TrelloScript(self.sandbox)
            monkeypatch.setenv("PMO_SYNC_TEST_TRELLO_KEY", self.sandbox.key)
            monkeypatch.setenv("PMO_SYNC_TEST_TRELLO_TOKEN", self.sandbox.token)
            self.config = TrelloConfig.model_validate(
                {"name": "acme-trello", "kind": "trello", "url": self.sandbox.root_url,
                 "api_key": "${PMO_SYNC_TEST_TRELLO_KEY}",
                 "token": "${PMO_SYNC_TEST_TRELLO_TOKEN}", "boards": [TEAM],
                 "sprints": TRELLO_SPRINTS}
            )  # fmt: skip
        elif isinstance(self.sandbox, JiraSandbox):
            self.script = JiraScript(self.sandbox)
            monkeypatch.setenv("PMO_SYNC_TEST_JIRA_TOKEN", self.sandbox.token)
            self.config = JiraConfig.model_validate(
                {"name": "acme-jira", "kind": "jira", "url": self.sandbox.url,
                 "email": self.sandbox.email, "token": "${PMO_SYNC_TEST_JIRA_TOKEN}",
                 "jql": "project = ABC"}
            )  # fmt: skip
        else:
            self.script = AdoScript(self.sandbox)
            monkeypatch.setenv("PMO_SYNC_TEST_ADO_TOKEN", self.sandbox.pat)
            self.config = AzureDevOpsConfig.model_validate(
                {"name": "contoso-ado", "kind": "azure_devops",
                 "organization_url": self.sandbox.url,
                 "token": "${PMO_SYNC_TEST_ADO_TOKEN}",
                 "project": self.sandbox.dataset.project.name}
            )  # fmt: skip

    def keys(self) -> dict[str, str]:
        """Tracker key -> label."""
        script = self.script
        keys = script.ids if isinstance(script, AdoScript) else script.keys
        return {str(key): label for label, key in keys.items()}

    def sync_and_compute(self, engine: Engine, rules: list[RuleConfig]) -> Outcome:
        """At NOW: a full sync into `engine`, KPIs and findings, read back from the store."""
        self.sandbox.dataset.clock.set(NOW)
        connector: Connector
        if isinstance(self.config, JiraConfig):
            connector = JiraConnector(self.config)
        elif isinstance(self.config, TrelloConfig):
            connector = TrelloConnector(self.config)
        else:
            connector = AzureDevOpsConnector(self.config)
        with connector:
            summary = sync_connector(connector, Store(engine, clock=lambda: NOW), full=True)
        assert summary.status == "success", summary.errors
        assert summary.items_inserted == len(self.keys())  # the script's items, nothing else
        refresh_kpis(engine, KPI_CONFIG, rules=rules, now=NOW)
        return _read_back(engine, self.keys(), self.script.sprint.name)


@pytest.fixture
def tracker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Tracker]]:
    started: list[Tracker] = []

    def start(kind: str) -> Tracker:
        started.append(Tracker(kind))
        started[-1].start(monkeypatch)
        return started[-1]

    yield start
    for one in started:
        one.sandbox.stop()


def _read_back(engine: Engine, labels: dict[str, str], sprint_name: str) -> Outcome:
    values: dict[ValueKey, float | None] = {}
    others: dict[ValueKey, float | None] = {}
    for v in read_kpi_values(engine):
        if v.scope in ("item", "epic", "request"):
            key = labels[v.scope_key]
        elif v.scope == "sprint":
            if v.scope_key != sprint_name:
                others[(v.scope, v.scope_key, v.metric, v.window, v.team)] = v.value
                continue
            key = SPRINT
        else:
            key = v.scope_key
        values[(v.scope, key, v.metric, v.window, v.team)] = v.value

    def label_of(text: str) -> str:
        """A key or message that starts with an item's key or the sprint's name: the label."""
        for name, label in (*labels.items(), (sprint_name, SPRINT)):
            if text == name or text.startswith(name + " "):
                return label + text[len(name) :]
        return text

    def details(found: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        """The details, tracker names mapped: keys and sprint to labels, status to its stage
        (the tracker's own status name - In Progress, Active - is the one legitimate
        difference between the trackers' findings)."""
        if "keys" in found:
            found["keys"] = ", ".join(sorted(labels[k] for k in found["keys"].split(", ")))
        if "sprint_id" in found:
            found["sprint_id"] = SPRINT
        if "sprint_names" in found:
            names = found["sprint_names"].split(", ")
            found["sprint_names"] = ", ".join(SPRINT if n == sprint_name else n for n in names)
        if "status" in found:
            found["status"] = STAGE_OF[found["status"]]
        return tuple(sorted(found.items()))

    findings = {
        (f.rule_id, f.severity, f.mode, f.scope, label_of(f.scope_key), f.team,
         label_of(f.message), details(dict(f.details)))
        for f in read_findings(engine)
    }  # fmt: skip
    return Outcome(values, others, findings)


# -- what the scenario must give, worked out by hand -------------------------------------------

H = 24.0  # hours in a day: stage times below are hours / H
ITEMS: dict[str, dict[str, float]] = {
    # Open items count to their clock: the start of NOW's day, T(13,0) = 312 (no item changed
    # on day 13), not NOW = T(13,12) = 324 (docs/metrics.md 4.3).
    # EPIC: created T(-7,9) = -159, never started: To Do until T(13,0) = 312: 471 h.
    "EPIC": {"time_in_stage_days:To Do": 471 / H},
    # A: created T(-7,10) = -158; In Progress T(0,10) = 10; In Review T(2,15) = 63; Done
    # T(3,11) = 83. To Do 168 h, In Progress 53 h, In Review 20 h; lead 241 h, active 53 h.
    # Cycle: day 0..3 = 4 days; lead: day -7..3 = 11 days.
    "A": {"cycle_time_days": 4, "lead_time_days": 11, "flow_efficiency": 53 / 241,
          "time_in_stage_days:To Do": 168 / H, "time_in_stage_days:In Progress": 53 / H,
          "time_in_stage_days:In Review": 20 / H},
    # B: created -157; In Progress T(1,10) = 34; In Review T(4,10) = 106; Done T(5,16) = 136.
    # To Do 191, In Progress 72, In Review 30; lead 293 h. Cycle 1..5 = 5; lead -7..5 = 13.
    "B": {"cycle_time_days": 5, "lead_time_days": 13, "flow_efficiency": 72 / 293,
          "time_in_stage_days:To Do": 191 / H, "time_in_stage_days:In Progress": 72 / H,
          "time_in_stage_days:In Review": 30 / H},
    # C: created -156; In Progress T(1,14) = 38; In Review T(7,10) = 178; Done T(8,10) = 202.
    # To Do 194, In Progress 140, In Review 24; lead 358 h. Flagged T(2,10)..T(6,10): 96 h
    # blocked, so active = 358 - 96 - (194 + 24 waiting) = 44 h. Cycle 1..8 = 8; lead 16.
    "C": {"cycle_time_days": 8, "lead_time_days": 16, "flow_efficiency": 44 / 358,
          "blocked_days": 96 / H, "time_in_stage_days:To Do": 194 / H,
          "time_in_stage_days:In Progress": 140 / H, "time_in_stage_days:In Review": 24 / H},
    # D: created -155; In Progress T(0,11) = 11; Done T(4,12) = 108; re-opened T(6,9) = 153;
    # In Review T(10,12) = 252; Done T(12,10) = 298. To Do 166, In Progress 97 + 99 = 196,
    # Done (before the reopening) 45, In Review 46; lead 453 h, active 196 h. Re-opening to
    # In Progress is not behind the commitment point: committed on day 0, done on day 12 (its
    # final entry into Done): cycle 0..12 = 13; lead -7..12 = 20.
    "D": {"cycle_time_days": 13, "lead_time_days": 20, "flow_efficiency": 196 / 453,
          "time_in_stage_days:To Do": 166 / H, "time_in_stage_days:In Progress": 196 / H,
          "time_in_stage_days:Done": 45 / H, "time_in_stage_days:In Review": 46 / H},
    # E: created -154; In Progress T(2,11) = 59, still at the clock (312): To Do 213, In
    # Progress 253. WIP age day 2..13 = 12.
    "E": {"wip_age_days": 12, "time_in_stage_days:To Do": 213 / H,
          "time_in_stage_days:In Progress": 253 / H},
    # F: created -153; In Progress T(9,11) = 227: To Do 380, In Progress 85. Age 9..13 = 5.
    "F": {"wip_age_days": 5, "time_in_stage_days:To Do": 380 / H,
          "time_in_stage_days:In Progress": 85 / H},
    # G: created T(-6,9) = -135; In Progress T(3,10) = 82; In Review T(6,11) = 155; Done
    # T(6,17) = 161. To Do 217, In Progress 73, In Review 6; lead 296. Cycle 3..6 = 4; lead 13.
    "G": {"cycle_time_days": 4, "lead_time_days": 13, "flow_efficiency": 73 / 296,
          "time_in_stage_days:To Do": 217 / H, "time_in_stage_days:In Progress": 73 / H,
          "time_in_stage_days:In Review": 6 / H},
    # H: created -152; In Progress T(9,9) = 225: To Do 377, In Progress 87. Age 5.
    "H": {"wip_age_days": 5, "time_in_stage_days:To Do": 377 / H,
          "time_in_stage_days:In Progress": 87 / H},
    # I: created T(8,9) = 201; In Progress T(8,11) = 203: To Do 2, In Progress 109; flagged
    # since T(9,10) = 226: blocked 86 h so far. Age 8..13 = 6.
    "I": {"wip_age_days": 6, "blocked_days": 86 / H, "time_in_stage_days:To Do": 2 / H,
          "time_in_stage_days:In Progress": 109 / H},
    # J: created T(10,9) = 249; In Progress T(10,10) = 250: To Do 1, In Progress 62. Age 4.
    "J": {"wip_age_days": 4, "time_in_stage_days:To Do": 1 / H,
          "time_in_stage_days:In Progress": 62 / H},
    # K: created T(-5,9) = -111; In Progress T(-4,10) = -86; Done T(-3,15) = -57. To Do 25,
    # In Progress 29; lead 54 h. Cycle -4..-3 = 2; lead -5..-3 = 3.
    "K": {"cycle_time_days": 2, "lead_time_days": 3, "flow_efficiency": 29 / 54,
          "time_in_stage_days:To Do": 25 / H, "time_in_stage_days:In Progress": 29 / H},
    # L: created T(-7,17) = -151, never started: 463 h in To Do.
    "L": {"time_in_stage_days:To Do": 463 / H},
}  # fmt: skip

WINDOW = f"{day(-77)}/{day(13)}"  # twelve whole weeks before NOW's week, and that week so far
TEAM_VALUES: dict[tuple[str, str], float] = {
    ("items", "current"): 13,
    ("wip", "current"): 5,  # E, F, H, I, J
    ("open_items", "current"): 6,  # not done, not an epic: E, F, H, I, J, L
    ("wip_age_max_days", "current"): 12,  # E
    ("done_in_window", WINDOW): 6,  # K, A, B, G, C, D
    # Cycle times [2, 4, 4, 5, 8, 13] (K, A, G, B, C, D); ranks (n - 1) p / 100, linear:
    # p50 rank 2.5 -> 4.5; p70 3.5 -> 6.5; p85 4.25 -> 8 + 0.25 * 5 = 9.25; p95 4.75 -> 11.75.
    ("cycle_time_p50_days", WINDOW): 4.5,
    ("cycle_time_p70_days", WINDOW): 6.5,
    ("cycle_time_p85_days", WINDOW): 9.25,
    ("cycle_time_p95_days", WINDOW): 11.75,
    # Lead times [3, 11, 13, 13, 16, 20]: p50 13; p70 13 + 0.5 * 3 = 14.5; p85 16 + 0.25 * 4
    # = 17; p95 20 - 0.25 * 4 = 19.
    ("lead_time_p50_days", WINDOW): 13,
    ("lead_time_p70_days", WINDOW): 14.5,
    ("lead_time_p85_days", WINDOW): 17,
    ("lead_time_p95_days", WINDOW): 19,
    # Weeks (Monday to Sunday): done K | A, B, G | C, D. Committed K | A, D, B, C, E, G |
    # I, H, F, J. Net flow = committed - done; it sums to the WIP now, 5.
    ("throughput_week", f"{day(-7)}/{day(-1)}"): 1,
    ("throughput_week", f"{day(0)}/{day(6)}"): 3,
    ("throughput_week", f"{day(7)}/{day(13)}"): 2,
    ("arrivals_week", f"{day(-7)}/{day(-1)}"): 1,
    ("arrivals_week", f"{day(0)}/{day(6)}"): 6,
    ("arrivals_week", f"{day(7)}/{day(13)}"): 4,
    ("net_flow_week", f"{day(-7)}/{day(-1)}"): 0,
    ("net_flow_week", f"{day(0)}/{day(6)}"): 3,
    ("net_flow_week", f"{day(7)}/{day(13)}"): 2,
    # Items in each stage at the end of today: EPIC, L | E, F, H, I, J | - | K, A, B, C, D, G.
    ("cfd_in_stage:To Do", day(13)): 2,
    ("cfd_in_stage:In Progress", day(13)): 5,
    ("cfd_in_stage:In Review", day(13)): 0,
    ("cfd_in_stage:Done", day(13)): 6,
}
# Items done per day (D counts on day 12, its final finish, not day 4), and WIP at the end of
# each day: committed on or before it, done after it. Day 3: A is done that day, G arrives
# (B, C, D, E, G); day 4: D counts until its final done (B, C, D, E, G); day 10: C, A, B, G
# done, D, E, I, H, F, J in progress.
THROUGHPUT = {-3: 1, 3: 1, 5: 1, 6: 1, 8: 1, 12: 1}
WIP = [0, 0, 0, 1, 0, 0, 0, 2, 4, 5, 5, 5, 4, 3, 3, 3, 5, 6, 6, 5, 5]  # days -7 .. 13

# The sprint: S = day 0, C = day 11. In at S: A 5, B 3, C 2, D 8, E 3, F 5, H (none = 0).
# G (2) added on day 3; F (5) removed on day 5. At C: A, B (5 by then), C, G done; D
# (re-opened), E, H not. B's re-estimate: +2. Balance: 26 + 2 - 5 + 2 = 14 + 11.
CLOSED = f"closed@{day(11)}"
SPRINT_VALUES = {
    "committed_items": 7, "committed_points": 26,
    "added_items": 1, "added_points": 2,
    "removed_items": 1, "removed_points": 5,
    "completed_items": 4, "completed_points": 14,  # A 5 + B 5 + C 2 + G 2
    "remaining_items": 3, "remaining_points": 11,  # D 8 + E 3 + H 0
    "carried_over_items": 3, "carried_over_points": 11,
    "reestimate_delta_points": 2,
    "unestimated_items": 1,  # H
    "done_outside_items": 0,
    "scope_items": 7, "scope_points": 25,
    "say_do": round(14 / 26, 6),
    # The mean completed points of the team's last three closed sprints: the two before
    # this one are the sandboxes' empty ones (Jira's closed by the script on day -1, ADO's
    # Sprint 13), so (0 + 0 + 14) / 3.
    "velocity_points": 14 / 3,
}  # fmt: skip
# Points at the end of each day 0 .. 11 (the last at C): scope 26; +2 B re-estimated (day 1);
# +2 G added, A done (day 3); D done (4); -5 F removed, B done (5); D re-opened, G done (6);
# C done (8).
BURNUP_DONE = [0, 0, 0, 5, 13, 18, 10 + 2, 12, 14, 14, 14, 14]
BURNUP_SCOPE = [26, 28, 28, 30, 30, 25, 25, 25, 25, 25, 25, 25]

CRITERIA = "has no acceptance criteria (looked in the description's 'acceptance criteria' section)"
# (rule id, severity, mode, scope, label, message): every open finding.
FINDINGS = {
    # Stories in progress, none with criteria in its description (nobody wrote one).
    *(("acceptance-criteria", "warning", "advisory", "item", x, f"{x} {CRITERIA}")
      for x in "EFHJ"),
    # E: in progress since day 2, 12 days old > the team's p85 cycle time, 9.25.
    ("aging-wip", "info", "advisory", "item", "E",
     f"E has been in progress longer than {TEAM}'s 85th-percentile cycle time"),
    # I: flagged since T(9,10), 98 h > 3 days (C's flag came down on day 6).
    ("blocked-too-long", "critical", "advisory", "item", "I",
     "I has been blocked for more than 3 days"),
    # E and H: in the sprint and not done at its close, still open (D is done now).
    *(("carried-over", "warning", "advisory", "item", x,
       f"{x} has been carried over from 1 sprint (threshold 1)") for x in "EH"),
    ("estimate-committed", "warning", "advisory", "item", "H",
     "H has no estimate but is in progress"),
    ("in-progress-assignee", "warning", "advisory", "item", "J",
     "J is in progress with no assignee"),
    # In progress with no parent epic: F, H, I (K has none either, but is done).
    *(("portfolio-alignment", "warning", "enforced", "item", x,
       f"{x} is in progress with no parent epic") for x in "FHI"),
    # 2 points added / 26 committed = 7.7 % > 5 %.
    ("sprint-scope-added", "warning", "advisory", "sprint", SPRINT,
     f"{SPRINT} gained 8% scope after it started: 2 points added to 26 committed (limit 5%)"),
    # E: last touched T(2,11), 265 h before NOW > 5 days; F, H, I, J were touched < 5 days ago.
    ("stale-in-progress", "warning", "advisory", "item", "E",
     "E has been in progress with no update for more than 5 days"),
    # The only story in progress whose title is not "As a ... I want ... so that ...".
    ("user-story-template", "warning", "advisory", "item", "H",
     "H does not follow the user-story template in its title or description"),
    # E, F, H, I, J: 5 in In Progress > 4 (and 5 <= the total limit, 6). No overcommitment
    # finding: the sprints before this one completed nothing, so there is no velocity.
    ("wip-limit", "warning", "advisory", "team", f"{TEAM} / In Progress",
     f"{TEAM} has 5 items in In Progress (limit 4)"),
}  # fmt: skip
DETAILS = {  # a few findings' numbers, normalised as `_read_back` does
    ("blocked-too-long", "I"): {"blocked_days": 4.08, "how": "flagged",
                                "blocked_since": at(9, 10).isoformat()},
    ("stale-in-progress", "E"): {"days_since_update": 11.04, "last_update": at(2, 11).isoformat()},
    ("aging-wip", "E"): {"age_days": 12.0, "cycle_time_days": 9.25},
    ("wip-limit", f"{TEAM} / In Progress"): {"items": 5, "keys": "E, F, H, I, J"},
    ("sprint-scope-added", SPRINT): {"added": 2.0, "committed": 26.0, "percent": 7.7},
    ("carried-over", "H"): {"sprint_names": SPRINT, "sprints": 1},
    ("estimate-committed", "H"): {"status": "In Progress", "why": "in progress"},
}  # fmt: skip


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRACKERS)
def test_hand_worked_kpis_and_findings(
    kind: str, tracker: Callable[[str], Tracker], engine: Engine, tmp_path: Path
) -> None:
    run = tracker(kind)
    play(run.script)
    out = run.sync_and_compute(engine, _rules(tmp_path, POLICY))

    # Per item: every stored value, and nothing else.
    for label in LABELS:
        assert out.item(label) == pytest.approx(ITEMS[label], abs=5e-7), label
    assert {k[1] for k in out.values if k[0] == "item"} == set(LABELS)

    # The team (and the portfolio, this team alone).
    for (metric, window), value in TEAM_VALUES.items():
        assert out.get("team", TEAM, metric, window) == value, (metric, window)
    for metric in ("items", "wip", "wip_age_max_days"):
        portfolio = out.get("portfolio", "portfolio", metric, "current")
        assert portfolio == TEAM_VALUES[(metric, "current")], metric
    throughput = out.series("team", TEAM, "throughput_day")
    assert sum(v or 0 for v in throughput.values()) == 6
    assert {d: throughput[day(d)] for d in range(-7, 14)} == {
        d: THROUGHPUT.get(d, 0) for d in range(-7, 14)
    }
    wip = out.series("team", TEAM, "wip_day")
    assert [wip[day(d)] for d in range(-7, 14)] == WIP
    assert out.get("epic", "EPIC", "remaining_items", "current") == 3  # E, J, L
    # The epic is a request (portfolio.yaml's default levels): its forecast is kept too.
    assert out.get("request", "EPIC", "remaining_items", "current") == 3

    # The sprint, and its burn charts.
    for metric, value in SPRINT_VALUES.items():
        assert out.get("sprint", SPRINT, metric, CLOSED) == value, metric
    days = [day(d) for d in range(12)]
    assert out.series("sprint", SPRINT, "burnup_done_points") == dict(
        zip(days, BURNUP_DONE, strict=True)
    )
    assert out.series("sprint", SPRINT, "burnup_scope_points") == dict(
        zip(days, BURNUP_SCOPE, strict=True)
    )
    assert out.series("sprint", SPRINT, "burndown_points") == {
        d: scope - done for d, scope, done in zip(days, BURNUP_SCOPE, BURNUP_DONE, strict=True)
    }

    # Every open finding, and a few of their numbers.
    assert {f[:5] + f[6:7] for f in out.findings} == FINDINGS
    details = {(f[0], f[4]): dict(f[7]) for f in out.findings}
    for where, expected in DETAILS.items():
        assert {k: details[where].get(k) for k in expected} == expected, where


@pytest.mark.parametrize("other", ["azure_devops", "trello"])
def test_jira_and_the_other_trackers_agree(
    other: str,
    tracker: Callable[[str], Tracker],
    engine: Engine,
    second_engine: Engine,
    tmp_path: Path,
) -> None:
    """Every stored KPI value and open finding computed from Jira equals the one computed from
    Azure DevOps, and from Trello: dated series, forecasts and finding details included."""
    rules = _rules(tmp_path, POLICY)
    runs = {kind: tracker(kind) for kind in ("jira", other)}
    for run in runs.values():
        play(run.script)
    jira = runs["jira"].sync_and_compute(engine, rules)
    them = runs[other].sync_and_compute(second_engine, rules)

    # Not a handful: the window's 91 days x (team: throughput, WIP, 4 CFD stages; portfolio:
    # throughput, WIP), plus the rest.
    assert len(jira.values) > 91 * 8
    only_jira = {k: v for k, v in jira.values.items() if them.values.get(k, "absent") != v}
    only_them = {k: v for k, v in them.values.items() if jira.values.get(k, "absent") != v}
    assert (only_jira, only_them) == ({}, {})
    assert jira.findings == them.findings
    assert len(jira.findings) == len(FINDINGS)

    # What is left out: each sandbox's own sprints, which the scenario does not use.
    for kind, out in (("jira", jira), (other, them)):
        assert {k[1] for k in out.other_sprints} == OTHER_SPRINTS[kind]
        assert {v for v in out.other_sprints.values()} == {0.0}  # nothing in them


# -- two gaps this parity test found in Azure DevOps handling, fixed: kept as regressions ------


@pytest.mark.parametrize("kind", TRACKERS)
def test_acceptance_criteria_in_the_description_count(
    kind: str, tracker: Callable[[str], Tracker], engine: Engine, tmp_path: Path
) -> None:
    run = tracker(kind)
    criteria = "Acceptance criteria: a PDF arrives by email"
    title = "As a shopper I want receipts so that I can file them"
    run.script.create(at(0, 9), "X", "story", title, points=3, description=criteria)
    run.script.start(at(0, 10), "X", person=1)
    rules = _rules(tmp_path, "rules:\n  - id: ac\n    rule: missing_acceptance_criteria\n")
    out = run.sync_and_compute(engine, rules)
    assert out.item("X")["wip_age_days"] == 14  # synced and in progress: the rule applies
    assert out.findings == set()


@pytest.mark.parametrize("kind", TRACKERS)
def test_work_done_on_the_last_day_of_the_sprint_counts(
    kind: str, tracker: Callable[[str], Tracker], engine: Engine, tmp_path: Path
) -> None:
    """Friday is the sprint's last day in both trackers; the Jira team closes it at 17:00."""
    run = tracker(kind)
    t = run.script
    t.create(at(-7, 9), "X", "story", "As a buyer I want an invoice so that I can file it", 3)
    t.plan(at(-2, 9), "X")
    t.previous_sprint_closes(at(-1, 18))
    t.sprint_starts(at(0, 9))
    t.start(at(1, 10), "X", person=1)
    t.move(at(11, 10), "X", "Done")  # Friday morning, the last day
    t.sprint_closes(at(11, 17))
    out = run.sync_and_compute(engine, [])
    assert out.get("sprint", SPRINT, "committed_items", CLOSED) == 1
    done = (out.get("sprint", SPRINT, m, CLOSED) for m in ("completed_items", "completed_points"))
    assert tuple(done) == (1, 3)
