"""Where the tests find the trackers' published API examples: inside the repository.

`tests/fixtures/api-samples/<tracker>/` holds copies of exactly the examples the
tests compare against (its README.md says where each one is published). No test
reads anything outside the repository, so a clone with nothing beside it passes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

API_SAMPLES = Path(__file__).resolve().parent / "fixtures" / "api-samples"


def api_sample(tracker: str, name: str) -> Any:
    """One example file's JSON, e.g. `api_sample("jira", "search-jql.GET.200.json")`."""
    return json.loads((API_SAMPLES / tracker / name).read_text(encoding="utf-8"))
