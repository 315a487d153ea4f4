"""A sandbox Azure DevOps organisation that the unmodified `azure-devops` SDK talks to.

`generator.AdoDataset` is the seeded ground truth (teams, iterations, work items with
their full revision history), `api.AdoApi` answers the REST routes and
`server.AdoSandbox` serves them over HTTP with authentication, fault injection and
a request log; `process.AdoProcess` says which work item fields the organisation has.
"""

from pmo_sync.sandbox.ado.generator import AdoDataset
from pmo_sync.sandbox.ado.process import AdoProcess
from pmo_sync.sandbox.ado.server import AdoSandbox

__all__ = ["AdoDataset", "AdoProcess", "AdoSandbox"]
