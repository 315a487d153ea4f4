"""The Trello connector, in progress: its configuration model and its HTTP client.

`TrelloConfig` is the `kind: trello` file; `TrelloClient` makes every call to
Trello's REST API (paced under Trello's rate limits by `RatePacer`). Streams
and the connector class come next: nothing is registered as a connector yet.
"""

from connectors.trello.client import TrelloClient, TrelloNotFoundError
from connectors.trello.config import EstimateSource, SprintSource, TrelloConfig
from connectors.trello.pacing import RatePacer

__all__ = [
    "EstimateSource",
    "RatePacer",
    "SprintSource",
    "TrelloClient",
    "TrelloConfig",
    "TrelloNotFoundError",
]
