"""A sandbox Jira Cloud site that the unmodified `jira` library talks to.

`generator.JiraDataset` is the seeded ground truth (teams, sprint calendars, issues with
six months of history, simulated by `simulate`, `site`, `editor` and `text`), `api.JiraApi`
answers the REST routes (JQL parsed by `jql`, run by `search`, issues rendered by `render`)
and `server.JiraSandbox` serves them over HTTP with authentication, fault injection and a
request log.
"""

from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.server import JiraSandbox

__all__ = ["JiraDataset", "JiraSandbox"]
