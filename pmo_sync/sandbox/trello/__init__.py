"""A sandbox Trello: seeded boards with long card histories, served over the real REST shapes.

`generator.TrelloDataset` is the seeded ground truth (team boards, lists, custom
fields, cards with their full action history and the list moves, sprints and
estimates the simulation recorded), `api.TrelloApi` answers the `/1/...` routes
and `server.TrelloSandbox` serves them over HTTP with key/token authentication,
Trello's rate limits, fault injection and a request log.
"""

from pmo_sync.sandbox.trello.generator import TrelloDataset
from pmo_sync.sandbox.trello.server import TrelloSandbox

__all__ = ["TrelloDataset", "TrelloSandbox"]
