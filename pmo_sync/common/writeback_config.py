"""What a connector writes back to its tracker: the `writeback:` block of a connector's config.

Connector-neutral on purpose: every connector that can write embeds the same
model (``writeback: WritebackConfig = WritebackConfig()``), so the planning
layer (`pmo_sync.writeback.plan`) never needs to know which tracker it plans
for. Tracker specifics (resolving a field *name* to an id, what "the API user"
is) stay in the connector.

Example (in a Jira connector file)::

    writeback:
      enabled: true
      fields:
        cycle_time_days: customfield_10050      # a field id ...
        team_cycle_time_p85_days: Team p85 (days)  # ... or a field name
        forecast_done_p85_date: Forecast (p85)   # on each open request
        due_date_probability: Due date likelihood (%)
      comments: true
      on_clear: delete
      service_account: pmo-bot@example.com

Validation errors name the offending metric and suggest the closest known
one, because a misspelt metric would otherwise silently write nothing.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_MARKER",
    "METRICS",
    "MetricKind",
    "MetricSpec",
    "OnClear",
    "WritebackConfig",
    "WritebackItems",
]

MetricKind = Literal["item", "team", "request"]
OnClear = Literal["delete", "resolve"]
WritebackItems = Literal["open", "all"]

DEFAULT_MARKER = "[pmo-sync]"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One write-back metric: where its value comes from, how it reads in a dry run.

    `kind` says whose value it is: the item's own (`item`), its team's
    (`team`, written on each open item of the team) or its request's forecast
    from the portfolio answers (`request`, written on open requests only: the
    items at portfolio.yaml's request levels). `open_only` metrics are not
    rewritten once an item is done: they describe work in progress, so the
    last value stays as a record instead of being churned.
    """

    label: str
    kind: MetricKind
    open_only: bool = False


METRICS: dict[str, MetricSpec] = {
    "cycle_time_days": MetricSpec("Cycle time (days)", "item"),
    "lead_time_days": MetricSpec("Lead time (days)", "item"),
    "wip_age_days": MetricSpec("WIP age (days)", "item"),
    "flow_efficiency": MetricSpec("Flow efficiency", "item"),
    "blocked_days": MetricSpec("Blocked (days)", "item"),
    "team_cycle_time_p85_days": MetricSpec("Team cycle time p85 (days)", "team", open_only=True),
    "forecast_done_p50_date": MetricSpec("Forecast done (p50)", "request", open_only=True),
    "forecast_done_p85_date": MetricSpec("Forecast done (p85)", "request", open_only=True),
    "forecast_done_p95_date": MetricSpec("Forecast done (p95)", "request", open_only=True),
    "due_date_probability": MetricSpec("Due date likelihood (%)", "request", open_only=True),
}
"""Every write-back metric, in the order fields are planned and described."""


def _unknown_metric(name: str) -> str:
    close = difflib.get_close_matches(name, list(METRICS), n=1, cutoff=0.6)
    if close:
        return f"unknown metric {name!r} (did you mean {close[0]!r}?)"
    return f"unknown metric {name!r} (known: {', '.join(sorted(METRICS))})"


class WritebackConfig(BaseModel):
    """Which KPIs go to which tracker fields, and whether findings become a comment.

    - `fields`: write-back metric (see `METRICS`) → the tracker's field id or
      name. Two metrics may not share a field: they would overwrite each
      other on every run and never settle.
    - `comments`: keep one bot comment per item listing its governance
      findings. Turning it off removes the comments pmo-sync had posted.
    - `on_clear`: when an item's findings clear, `delete` its comment
      (default: a PMO wants no noise, and the tracker's history still shows
      it) or `resolve` it — replace it with a short "all resolved" note for
      teams that want to see the outcome on the item.
    - `service_account`: the account (id or email) whose edits the sync
      ignores, so pmo-sync's own writes never look like activity (no
      feedback loop). None: the connector's API user.
    - `marker`: the first text of every bot comment; how the comment is
      found again when the ledger does not know it. Written verbatim.
    - `items`: which items get fields. `open`: items not done, plus done
      items whose done date is in the KPI reporting window (so an item gets
      its final cycle and lead time once, and enabling write-back does not
      rewrite years of finished work). `all`: every item, done or not.
      Either way a done item's open-only metrics keep their last value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    fields: dict[str, str] = Field(default_factory=dict)
    comments: bool = True
    on_clear: OnClear = "delete"
    service_account: str | None = None
    marker: str = DEFAULT_MARKER
    items: WritebackItems = "open"

    @field_validator("fields")
    @classmethod
    def _known_metrics(cls, fields: dict[str, str]) -> dict[str, str]:
        problems = [_unknown_metric(name) for name in fields if name not in METRICS]
        problems += [
            f"metric {name!r} has an empty field name" for name, target in fields.items()
            if name in METRICS and not target.strip()
        ]  # fmt: skip
        seen: dict[str, str] = {}
        for name in METRICS:  # METRICS order: the message does not depend on YAML order
            target = fields.get(name, "").strip()
            if not target:
                continue
            if target in seen:
                problems.append(
                    f"metrics {seen[target]!r} and {name!r} both write to field {target!r}: "
                    "each metric needs its own field"
                )
            else:
                seen[target] = name
        if problems:
            raise ValueError("; ".join(problems))
        # Canonical order (METRICS) and no stray whitespace: plans do not depend on YAML order.
        return {name: fields[name].strip() for name in METRICS if name in fields}

    @field_validator("service_account")
    @classmethod
    def _account_not_blank(cls, account: str | None) -> str | None:
        if account is not None and not account.strip():
            raise ValueError("must not be blank (leave it out to use the API user)")
        return account.strip() if account is not None else None

    @field_validator("marker")
    @classmethod
    def _marker_one_line(cls, marker: str) -> str:
        if not marker.strip():
            raise ValueError("must not be blank: it is how pmo-sync finds its comment again")
        if marker != marker.strip() or "\n" in marker or "\r" in marker:
            raise ValueError("must be one line with no leading or trailing spaces")
        return marker

    @model_validator(mode="after")
    def _something_to_write(self) -> WritebackConfig:
        if self.enabled and not self.fields and not self.comments:
            raise ValueError(
                "fields is empty and comments is false: write-back has nothing to write"
            )
        return self

    def field_for(self, metric: str) -> str:
        """The tracker field a metric is written to (KeyError when it is not configured)."""
        return self.fields[metric]

    def ignored_account(self, api_user: str | None) -> str | None:
        """The account whose edits the sync ignores: `service_account`, else the API user."""
        return self.service_account or api_user
