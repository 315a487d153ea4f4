"""What `pmo-sync sandbox serve` prints once a sandbox listens: what a config for it needs.

One block per tracker: where it listens and as of when, what it holds (project
keys, boards, organisation and project), the credentials it accepts (fixed and
fake: they open nothing but the sandbox), and a connector file that syncs it,
with the commands that follow. Pure: the text only, from a started sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import yaml

from pmo_sync.sandbox.ado.portfolio import generated_portfolio_block as ado_portfolio_block
from pmo_sync.sandbox.ado.server import AdoSandbox
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.sandbox.trello.generator import VENDOR_LIST
from pmo_sync.sandbox.trello.portfolio import (
    generated_portfolio_block as trello_portfolio_block,
)
from pmo_sync.sandbox.trello.server import TrelloSandbox

__all__ = [
    "ado_banner",
    "ado_portfolio_lines",
    "block_lines",
    "jira_banner",
    "trello_banner",
    "trello_connector_lines",
]


def block_lines(comment: str, block: Mapping[str, Any]) -> list[str]:
    """A connector file's keys for a sandbox's generated portfolio, under a comment; none when
    the sandbox was generated without one."""
    if not any(block.values()):
        return []
    return [f"# {comment}", *yaml.safe_dump(dict(block), sort_keys=False).splitlines()]


def ado_portfolio_lines(ado: AdoSandbox) -> list[str]:
    """The Azure DevOps keys of the generated portfolio: Epic the initiative, Feature the
    request, the releases' tags and dates (docs/sandbox-ado.md)."""
    return block_lines(
        "the generated portfolio: Epics are initiatives, Features the requests; releases are tags",
        ado_portfolio_block(ado.dataset),
    )


def _header(tracker: str, url: str, data: str, now: datetime) -> list[str]:
    return [
        f"sandbox {tracker} on {url} (Ctrl-C stops it)",
        f"  data      {data}, up to {now:%Y-%m-%d %H:%M} UTC",
    ]


def _config(name: str, lines: Sequence[str], variables: Sequence[tuple[str, str]]) -> list[str]:
    """The connector file and the commands that sync it; `variables` are (name, value)."""
    return [
        f"a connector file for it, config/connectors/{name}.yaml:",
        *(f"  {line}" for line in lines),
        "then:",
        *(f"  export {variable}={value}" for variable, value in variables),
        f"  pmo-sync connectors check {name}",
        "  pmo-sync sync",
    ]


def jira_banner(jira: JiraSandbox, *, seed: object) -> str:
    data = jira.dataset
    keys = ", ".join(p.key for p in data.projects)
    bearer = " (or the token as bearer)" if jira.deployment == "server" else ""
    size = f"seed {seed}, {data.issues_per_project} issues per project"
    return "\n".join(
        [
            *_header("Jira", jira.url, size, data.clock.now),
            f"  projects  {keys}",
            f"  boards    {', '.join(b.name for b in data.boards)}",
            f"  login     email {jira.email}, token {jira.token}{bearer} (fake, only these)",
            *_config(
                "sandbox-jira",
                [
                    "name: sandbox-jira",
                    "kind: jira",
                    f"url: {jira.url}",
                    f"email: {jira.email}",
                    "token: ${SANDBOX_JIRA_TOKEN}",
                    f"jql: project in ({keys})",
                ],
                [("SANDBOX_JIRA_TOKEN", jira.token)],
            ),
        ]
    )


def ado_banner(ado: AdoSandbox, *, seed: object) -> str:
    data = ado.dataset
    teams = ", ".join(t.name for t in data.teams)
    size = f"seed {seed}, {data.size} work items, 2-week sprints"
    return "\n".join(
        [
            *_header("Azure DevOps", ado.url, size, data.clock.now),
            f"  org       {data.org}, project {data.project.name}, teams {teams}",
            f"  login     personal access token {ado.pat}, any user name (fake, only this)",
            *_config(
                "sandbox-ado",
                [
                    "name: sandbox-ado",
                    "kind: azure_devops",
                    f"organization_url: {ado.url}",
                    "token: ${SANDBOX_ADO_PAT}",
                    f"project: {data.project.name}",
                    *ado_portfolio_lines(ado),
                ],
                [("SANDBOX_ADO_PAT", ado.pat)],
            ),
        ]
    )


def trello_connector_lines(
    trello: TrelloSandbox, *, name: str, key_variable: str, token_variable: str
) -> list[str]:
    """A connector file for the sandbox's boards. Trello keeps no sprint dates: the cadence
    comes from the board's current sprint, as a team would write it down once; the
    sandbox's unusual list ("Blocked by vendor") is mapped to a stage; the generated
    portfolio's conventions (levels and releases by label, "Depends on" links, the releases'
    dates) are its `portfolio:` block (docs/sandbox-trello.md)."""
    data = trello.dataset
    current = data.sprint_at(data.clock.now) or data.sprints[-1]
    days = (current.end - current.start).days
    return [
        f"name: {name}",
        "kind: trello",
        f"url: {trello.root_url}",
        f"api_key: ${{{key_variable}}}",
        f"token: ${{{token_variable}}}",
        f"boards: [{', '.join(b.name for b in data.boards)}]",
        "list_stages:",
        f"  {VENDOR_LIST}: in_progress",
        "sprints:",
        "  from: custom_field",
        "  name: Sprint",
        f"  cadence: {{sprint: {current.name}, starts: {current.start.date()}, days: {days}}}",
        *block_lines(
            "the generated portfolio's conventions: levels and releases by label, links",
            {"portfolio": trello_portfolio_block(data)},
        ),
    ]


def trello_banner(trello: TrelloSandbox, *, seed: object) -> str:
    data = trello.dataset
    boards = ", ".join(b.name for b in data.boards)
    size = f"seed {seed}, {data.cards_per_board} cards per board"
    lines = trello_connector_lines(
        trello,
        name="sandbox-trello",
        key_variable="SANDBOX_TRELLO_KEY",
        token_variable="SANDBOX_TRELLO_TOKEN",
    )
    return "\n".join(
        [
            *_header("Trello", trello.url, size, data.clock.now),
            f"  boards    {boards}",
            f"  login     API key {trello.key}, token {trello.token} (fake, only these)",
            *_config(
                "sandbox-trello",
                lines,
                [("SANDBOX_TRELLO_KEY", trello.key), ("SANDBOX_TRELLO_TOKEN", trello.token)],
            ),
        ]
    )
