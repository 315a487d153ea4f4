"""Write-back planning: what the tracker should show, minus what was already pushed.

Three pure steps, so a dry run and a real push plan exactly the same changes
and every decision is testable without a tracker:

1. `desired_state(run, findings, config, source, item_sources=...,
   portfolio=...)`: for every item of one source, the field values and the
   bot comment it should carry now.
2. `plan(desired, ledger, config, source=...)`: the actions that take the
   tracker from what the ledger says was pushed to the desired state. A
   value equal to the one pushed is not written again; that is what makes a
   run with nothing new a run with no calls.
3. `apply_result(action, outcome)`: the ledger change to record after the
   transport ran one action. Only a success changes the ledger, so a failed
   action is planned again next run and nothing is recorded that the
   tracker does not have.

Decisions:

- **Rounding.** Day counts to 1 decimal, flow efficiency (a ratio) to 2,
  half up; forecast dates as ISO ``YYYY-MM-DD`` strings; the due date
  probability as a whole percent (an int, halves up, 100 only when certain
  and 0 only when impossible: `overview.whole_percent`, the number the
  stakeholder sentence says). Coarse enough that a value does not change on
  every run, fine enough to be useful. The request forecast is seeded (one
  generator per team, `kpi.forecast.team_seed`): the same store on the same
  day gives the same trials to the bit, so a push repeated within a day never
  sees a Monte Carlo wobble; a value moves when a day passes or the data
  does, and then only if its rounded value does.
- **Steady forecasts.** A new day re-samples the throughput history (the
  window moves), so a far forecast date jitters by days and a likelihood by
  a point or two with nothing new done (measured on the scripted portfolio:
  a p85 300 days out moved by up to 11 days, back and forth, from one day
  to the next). Rewriting that daily would edit every request's comment
  every day for nothing, so a value already written is kept while the new
  one is within the noise (`steady_forecast`): a date within 1/20 of the
  days from today to it (at least 1 day: 5 days for one 100 days out), a
  likelihood within `PROBABILITY_BAND` points (0 and 100 always written,
  either way). The sentence is built from the same kept values, so field
  and comment say the same; a real slip passes the band and is written.
  What was written is the field's ledger row, or, for a metric with no
  field, what the sentence said (`DesiredItem.said`, kept as the comment
  row's `value_json`), so a comment-only config is as steady.
- **Request forecasts.** The forecast fields (p50, p85, p95 dates and the
  due date probability) and the stakeholder sentence come from the
  portfolio answers the KPI refresh computed (`PortfolioFacts`: each request
  with its rank-queue forecast and what it waits on), for every item at a
  request level of any tracker: the refresh's `portfolio.facts`, passed by
  each caller. An item at no request level gets none of them (they are not
  managed there); without the answers (None: the store holds no request)
  no forecast field is planned at all.
- **Clearing.** A metric with no value (WIP age of a done item, a forecast
  beyond the horizon) clears its field only if pmo-sync had written a value
  there; a field pmo-sync never wrote is never touched.
- **Done items.** A done item's `open_only` metrics (team p85, request
  forecasts) are left at their last value; its item metrics (cycle and lead
  time, flow efficiency, blocked days) are written, WIP age is cleared.
  With ``items: open`` only items done inside the KPI reporting window get
  fields, so an item gets its final values once when it finishes and
  enabling write-back does not rewrite years of finished work.
- **Remapped fields.** The ledger keeps the tracker field each value went
  to; when the config maps a metric to another field the value is written
  there. The old field is left as it is: it may belong to someone else now.
- **Unconfigured metrics.** A metric removed from `fields` is no longer
  planned; its ledger rows are ignored and its fields keep their values.
- **Comments.** One per item. Created when findings appear (or, on an open
  request, with its stakeholder sentence, findings or not), updated in
  place (same comment id) when their text changes, and when they clear
  (and the request is done) either deleted or replaced by
  `resolved_comment` (`on_clear`). An item
  that left the source's scope (deleted, moved out of the JQL) has its
  comment deleted whatever `on_clear` says: nothing was resolved. With
  ``comments: false`` the comments pmo-sync had posted are deleted.
- **Ledger values.** Each field row keeps the value's hash and its JSON,
  so a dry run says what the field held ("was 3.0"); comment rows keep the
  body's hash and the tracker's comment id, not the body, and for a
  request what its sentence said (the p85 date and likelihood, as JSON).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from pmo_sync.common.naturalsort import natural_key
from pmo_sync.common.writeback_config import METRICS, WritebackConfig
from pmo_sync.governance.model import Finding, PortfolioFacts, RequestFacts
from pmo_sync.kpi.compute import KpiRun
from pmo_sync.kpi.days import local_date
from pmo_sync.kpi.items import ItemMetrics
from pmo_sync.portfolio.dependency_risk import DependencyRisk
from pmo_sync.portfolio.forecast import RequestForecast
from pmo_sync.portfolio.overview import stakeholder_sentence, whole_percent
from pmo_sync.store.ledger import LedgerEntry, LedgerKey, LedgerUpdate
from pmo_sync.writeback.comment import render_comment, resolved_comment

__all__ = [
    "COMMENT_TARGET",
    "DATE_BAND_DIVISOR",
    "PENDING",
    "PROBABILITY_BAND",
    "Action",
    "AddComment",
    "DeleteComment",
    "DesiredItem",
    "FieldChange",
    "FieldValue",
    "LedgerEntry",
    "LedgerKey",
    "LedgerUpdate",
    "Outcome",
    "SetFields",
    "UpdateComment",
    "apply_result",
    "canonical_json",
    "desired_state",
    "field_target",
    "intent",
    "plan",
    "reconcile_add",
    "reconcile_delete",
    "steady_forecast",
    "value_hash",
]

FieldValue = float | str | None
"""A write-back value: a number, an ISO date, or None (no value: clear if pmo-sync wrote one)."""
DATE_BAND_DIVISOR = 20
"""A written forecast date is kept while the new one is within 1/20 of the days from today
to it (at least 1 day): the day-to-day sampling noise of a date grows with its distance."""
PROBABILITY_BAND = 2
"""A written due date likelihood is kept while the new one is within this many points."""
SAID = ("forecast_done_p85_date", "due_date_probability")
"""The values a request's sentence says, kept with its comment (`DesiredItem.said`)."""
COMMENT_TARGET = "comment"
PENDING = "pending"
"""A ledger row's `value_hash` while its write is in flight (see `intent`): never a sha256."""


def field_target(metric: str) -> str:
    """The ledger target of a metric's field: ``field:<metric>``."""
    return f"field:{metric}"


def canonical_json(value: object) -> str:
    """One spelling per value (sorted keys, no spaces, NaN refused), so equal values hash equal."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def value_hash(value: object) -> str:
    """sha256 of the value's canonical JSON, hex: what the ledger compares."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


# -- desired state ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesiredItem:
    """What one item should carry now.

    `fields` maps a write-back metric to its value, in `METRICS` order; a
    metric left out is not managed for this item (it keeps whatever it has),
    a metric mapped to None is cleared if pmo-sync wrote it before.
    `comment` is the bot comment's body, None when the item should have none.
    `said` is what an open request's sentence in it says (its p85 date and due date
    likelihood, by metric), kept with the comment's ledger row: the next day's sentence
    holds them while the forecast moves by noise only, even with no field configured.
    """

    source: str
    key: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    comment: str | None = None
    said: Mapping[str, FieldValue] = field(default_factory=dict)


def _rounded(value: float | None, places: int) -> float | None:
    """Half-up rounding of the decimal text ("4.05" -> 4.1), as a person would round it."""
    if value is None:
        return None
    quantum = Decimal(1).scaleb(-places)
    result = float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))
    return result + 0.0  # -0.0 -> 0.0: one spelling per value


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _item_value(metric: str, m: ItemMetrics) -> FieldValue:
    if metric == "cycle_time_days":
        return _rounded(m.cycle_time_days, 1)
    if metric == "lead_time_days":
        return _rounded(m.lead_time_days, 1)
    if metric == "wip_age_days":
        return _rounded(m.wip_age_days, 1)
    if metric == "flow_efficiency":
        return _rounded(m.flow_efficiency, 2)
    if metric == "blocked_days":
        return _rounded(m.blocked_days, 1)
    raise ValueError(f"not an item metric: {metric!r}")


def _request_value(metric: str, forecast: RequestForecast) -> FieldValue:
    """An open request's forecast field: a p-date as ISO (None beyond the horizon or without
    a forecast), the due date probability as a whole percent (None without a due date)."""
    if metric == "due_date_probability":
        if forecast.due_date is None or forecast.due_probability is None:
            return None
        return whole_percent(forecast.due_probability)
    percentile = int(metric.removeprefix("forecast_done_p").removesuffix("_date"))
    return _iso(forecast.dates.get(percentile))


def steady_forecast(
    forecast: RequestForecast, today: date, written: Mapping[str, object]
) -> RequestForecast:
    """`forecast` with the values already written (`written`: metric → the value the ledger
    says its field holds) where the new ones differ by noise only; see the module docstring.

    A date is kept while it is within ``max(1, days from today to it // DATE_BAND_DIVISOR)``
    days of the new one; a likelihood while within `PROBABILITY_BAND` points of the new whole
    percent, unless either is 0 or 100 (impossible and certain are always said).
    """
    dates = dict(forecast.dates)
    for percentile, day in forecast.dates.items():
        was = written.get(f"forecast_done_p{percentile}_date")
        if day is None or not isinstance(was, str):
            continue
        kept = date.fromisoformat(was)
        band = max(1, (kept - today).days // DATE_BAND_DIVISOR)
        if abs((day - kept).days) <= band:
            dates[percentile] = kept
    probability = forecast.due_probability
    was = written.get("due_date_probability")
    if probability is not None and isinstance(was, int) and not isinstance(was, bool):
        now = whole_percent(probability)
        ends = (0, 100)
        if now not in ends and was not in ends and abs(now - was) <= PROBABILITY_BAND:
            probability = was / 100
    return replace(forecast, dates=dates, due_probability=probability)


def _written(
    source: str,
    key: str,
    config: WritebackConfig,
    ledger: Mapping[LedgerKey, LedgerEntry],
) -> dict[str, object]:
    """The request metrics' values the ledger says their configured fields hold (not a row
    in flight, not one for a field the metric is no longer mapped to); for a metric with no
    such field, what the comment's sentence last said (`DesiredItem.said`)."""
    written: dict[str, object] = {}
    comment = ledger.get((source, key, COMMENT_TARGET))
    if comment is not None and comment.value_hash != PENDING and comment.value_json:
        said = comment.value
        if isinstance(said, dict):
            written.update(said)
    for metric, tracker_field in config.fields.items():
        entry = ledger.get((source, key, field_target(metric)))
        if METRICS[metric].kind != "request" or entry is None or entry.value_hash == PENDING:
            continue
        if entry.tracker_field == tracker_field:
            written[metric] = entry.value
    return written


def _request_fields(forecast: RequestForecast, config: WritebackConfig) -> dict[str, FieldValue]:
    return {
        metric: _request_value(metric, forecast)
        for metric in config.fields
        if METRICS[metric].kind == "request"
    }


def _fields(
    m: ItemMetrics,
    run: KpiRun,
    config: WritebackConfig,
    request: RequestFacts | None,
) -> dict[str, FieldValue]:
    done_on = local_date(m.done_at, run.zone) if m.done_at is not None else None
    done = done_on is not None
    if done_on is not None and config.items == "open" and done_on < run.start:
        return {}  # done before the reporting window: finished work is left alone
    values: dict[str, FieldValue] = {}
    for metric in config.fields:  # validated and in METRICS order
        spec = METRICS[metric]
        if spec.open_only and done:
            continue
        if spec.kind == "item":
            values[metric] = _item_value(metric, m)
        elif spec.kind == "team":
            summary = run.flow.teams.get(m.team)
            p85 = summary.cycle_time_percentiles.get(85) if summary is not None else None
            values[metric] = _rounded(p85, 1)
        elif request is not None and request.forecast is not None:
            values[metric] = _request_value(metric, request.forecast)
    return values


def _blockers(waiting_on: Sequence[DependencyRisk]) -> tuple[DependencyRisk, ...]:
    """What the sentence names, each blocker once, by source and key naturally: the sentence
    does not say a dependency's status, so a status change (open to at risk) or a second
    story waiting on the same blocker must not reorder or repeat it and edit the comment."""
    first: dict[tuple[str, str], DependencyRisk] = {}
    for risk in waiting_on:
        first.setdefault(risk.blocker, risk)
    return tuple(first[ref] for ref in sorted(first, key=lambda ref: (ref[0], natural_key(ref[1]))))


def _open_requests(portfolio: PortfolioFacts | None, source: str) -> dict[str, RequestFacts]:
    """The requests of `source` the answers forecast (those open today), by key."""
    if portfolio is None:
        return {}
    return {r.key: r for r in portfolio.requests if r.source == source and r.forecast is not None}


def desired_state(
    run: KpiRun,
    findings: Sequence[Finding],
    config: WritebackConfig,
    source: str,
    *,
    item_sources: Sequence[str],
    portfolio: PortfolioFacts | None = None,
    ledger: Mapping[LedgerKey, LedgerEntry] | None = None,
) -> list[DesiredItem]:
    """Every item of `source` with the fields and comment it should carry, by key.

    `item_sources` is each item's source, parallel to ``run.flow.metrics``:
    `KpiRun` does not carry it and a key alone cannot tell two trackers'
    items apart. Every item of the source is returned, with or without
    anything to write, so `plan` can tell an item whose findings cleared
    from one that left the scope; an item with findings (or an open request)
    but not in the run is returned with its comment and request fields only.
    Only item findings of `source` with a mode other than ``off`` become
    comment lines.

    `portfolio` is the refresh's portfolio answers (`KpiRefresh.portfolio.facts`): each
    open request of `source` gets its forecast fields and its stakeholder sentence from
    them; None: no request field and no sentence (the module docstring says why). `ledger`
    is what was pushed (the one `plan` gets): a forecast value already written is kept
    while the new one differs by noise only (`steady_forecast`).

    Refuses a disabled config: planning it would read as "no comments
    wanted" and delete every comment pmo-sync posted.
    """
    if not config.enabled:
        raise ValueError(f"write-back is not enabled for {source!r}: there is nothing to plan")
    if len(item_sources) != len(run.flow.metrics):
        raise ValueError(
            f"item_sources has {len(item_sources)} entries for {len(run.flow.metrics)} items"
        )
    by_key: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.scope == "item" and f.source == source and f.mode != "off":
            by_key[f.scope_key].append(f)
    requests = _open_requests(portfolio, source)
    today = portfolio.today if portfolio is not None else None
    if today is not None:
        pushed = ledger or {}
        requests = {
            key: replace(
                r,
                forecast=steady_forecast(r.forecast, today, _written(source, key, config, pushed)),
            )
            for key, r in requests.items()
            if r.forecast is not None
        }

    def comment(key: str) -> str | None:
        if not config.comments:
            return None
        request = requests.get(key)
        when = None
        if request is not None and request.forecast is not None:
            when = stakeholder_sentence(
                request.forecast, _blockers(request.waiting_on), today=today
            )
        return render_comment(
            key, by_key.get(key, ()), config.marker, on_clear=config.on_clear, when=when
        )

    def said(key: str) -> dict[str, FieldValue]:
        request = requests.get(key)
        if not config.comments or request is None or request.forecast is None:
            return {}
        return {metric: _request_value(metric, request.forecast) for metric in SAID}

    items: dict[str, DesiredItem] = {}
    for m, item_source in zip(run.flow.metrics, item_sources, strict=True):
        if item_source != source:
            continue
        if m.key in items:
            raise ValueError(f"{source}: item {m.key} appears twice in the run")
        fields = _fields(m, run, config, requests.get(m.key))
        items[m.key] = DesiredItem(source, m.key, fields, comment(m.key), said(m.key))
    for key in (by_key.keys() | requests.keys()) - items.keys():
        forecast = requests[key].forecast if key in requests else None
        fields = _request_fields(forecast, config) if forecast is not None else {}
        items[key] = DesiredItem(source, key, fields, comment(key), said(key))
    return [items[k] for k in sorted(items, key=_key_order)]


# -- the ledger ---------------------------------------------------------------------------------


# LedgerEntry, LedgerKey and LedgerUpdate are the store's (`pmo_sync.store.ledger`): the
# planner reads and produces them, the store keeps them.


# -- actions ------------------------------------------------------------------------------------


def _show(value: FieldValue) -> str:
    return "empty" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a `SetFields`: the new value and what pmo-sync last wrote there.

    `first` is True when the ledger has nothing for this metric: what the
    field holds now is not known (maybe a person's value), so no "was".
    """

    metric: str
    tracker_field: str
    value: FieldValue
    was: FieldValue = None
    first: bool = False
    unconfirmed: bool = False
    """A write to this field was sent and its answer lost: the field holds its old value or
    the one sent, so the desired value is written whatever the ledger held before."""

    def describe(self) -> str:
        label = f"{METRICS[self.metric].label} [{self.tracker_field}]"
        was = "new" if self.first else f"was {_show(self.was)}"
        if self.unconfirmed:
            was = "a write's answer was lost"
        if self.value is None:
            return f"clear {label} ({was})"
        return f"set {label} = {self.value} ({was})"


@dataclass(frozen=True, slots=True)
class SetFields:
    """Every changed field of one item: one update call (a Jira PUT) for all of them."""

    source: str
    key: str
    changes: tuple[FieldChange, ...]

    @property
    def values(self) -> dict[str, FieldValue]:
        """Tracker field → value (None: clear it), what the transport sends."""
        return {c.tracker_field: c.value for c in self.changes}

    def describe(self) -> str:
        """``ABC-12: set Cycle time (days) [customfield_10050] = 4.0 (was 3.0); ...``"""
        return f"{self.key}: " + "; ".join(c.describe() for c in self.changes)


def _indented(body: str) -> str:
    return "\n".join("    " + line if line else "" for line in body.split("\n"))


@dataclass(frozen=True, slots=True)
class AddComment:
    source: str
    key: str
    body: str
    said: str | None = None
    """The canonical JSON of `DesiredItem.said`, recorded with the comment (None: nothing)."""

    def describe(self) -> str:
        """The action's line, then the exact body indented by four spaces."""
        return f"{self.key}: add comment\n{_indented(self.body)}"


@dataclass(frozen=True, slots=True)
class UpdateComment:
    source: str
    key: str
    comment_id: str
    body: str
    said: str | None = None
    """As `AddComment.said`."""

    def describe(self) -> str:
        """The action's line, then the exact new body indented by four spaces."""
        return f"{self.key}: update comment {self.comment_id}\n{_indented(self.body)}"


@dataclass(frozen=True, slots=True)
class DeleteComment:
    """Delete the item's bot comment; `comment_id` None: whichever bot comments the item has
    (an add whose answer was lost may have left one the ledger has no id for)."""

    source: str
    key: str
    comment_id: str | None

    def describe(self) -> str:
        if self.comment_id is None:
            return f"{self.key}: delete its bot comment, if an unconfirmed add left one"
        return f"{self.key}: delete comment {self.comment_id}"


Action = SetFields | AddComment | UpdateComment | DeleteComment


def _key_order(key: str) -> tuple[tuple[object, ...], str]:
    """Natural order: ABC-9 before ABC-10 (text and number parts compared as such)."""
    parts = re.split(r"(\d+)", key)  # text, number, text, ...: same types at same positions
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), key


# -- planning -----------------------------------------------------------------------------------


def _field_changes(
    item: DesiredItem, ledger: Mapping[LedgerKey, LedgerEntry], config: WritebackConfig
) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for metric, value in item.fields.items():
        if metric not in config.fields:
            raise ValueError(f"{item.key}: metric {metric!r} is not configured under fields")
        tracker_field = config.fields[metric]
        entry = ledger.get((item.source, item.key, field_target(metric)))
        if entry is None:
            if value is not None:
                changes.append(FieldChange(metric, tracker_field, value, first=True))
            continue
        if entry.tracker_field != tracker_field:  # remapped: the new field has nothing of ours
            if value is not None:
                changes.append(FieldChange(metric, tracker_field, value, first=True))
            continue
        if entry.value_hash == PENDING:  # written, answer lost: what the field holds is unsure
            changes.append(FieldChange(metric, tracker_field, value, entry.value, unconfirmed=True))
        elif entry.value_hash != value_hash(value):
            changes.append(FieldChange(metric, tracker_field, value, was=entry.value))
    return changes


def _comment_action(
    source: str,
    key: str,
    body: str | None,
    entry: LedgerEntry | None,
    present: bool,
    config: WritebackConfig,
    said: str | None = None,
) -> Action | None:
    if entry is not None and entry.comment_id is None:
        if entry.value_hash == PENDING and body is None:
            return DeleteComment(source, key, None)  # an add's answer lost, then not wanted
        entry = None  # a row without an id cannot be edited: plan as if there were none
    resolve = present and config.comments and config.on_clear == "resolve"
    if body is None and entry is not None and resolve:
        body, said = resolved_comment(key, config.marker), None
    if body is None:
        return DeleteComment(source, key, entry.comment_id) if entry is not None else None
    if entry is None or entry.comment_id is None:  # (a row without an id became None above)
        return AddComment(source, key, body, said)
    if entry.value_hash != value_hash(body):  # PENDING never equals: written again
        return UpdateComment(source, key, entry.comment_id, body, said)
    return None


def plan(
    desired: Sequence[DesiredItem],
    ledger: Mapping[LedgerKey, LedgerEntry],
    config: WritebackConfig,
    *,
    source: str,
) -> list[Action]:
    """The actions from `ledger` (what was pushed) to `desired`, for one source.

    Per item, at most one `SetFields` (every changed field, one call) and
    at most one comment action, in natural key order, fields first. Ledger
    rows of other sources are ignored; a comment recorded for an item of
    `source` that is not in `desired` is deleted. Unchanged values plan
    nothing, so planning again after recording every success gives [].
    """
    actions: list[tuple[tuple[tuple[object, ...], str], int, Action]] = []
    seen: set[str] = set()
    for item in desired:
        if item.source != source:
            raise ValueError(f"{item.key}: desired for source {item.source!r}, planning {source!r}")
        if item.key in seen:
            raise ValueError(f"{item.key}: desired twice")
        seen.add(item.key)
        order = _key_order(item.key)
        changes = _field_changes(item, ledger, config)
        if changes:
            actions.append((order, 0, SetFields(source, item.key, tuple(changes))))
        entry = ledger.get((source, item.key, COMMENT_TARGET))
        said = canonical_json(dict(item.said)) if item.said else None
        action = _comment_action(source, item.key, item.comment, entry, True, config, said)
        if action is not None:
            actions.append((order, 1, action))
    for (entry_source, key, target), entry in ledger.items():
        if entry_source == source and target == COMMENT_TARGET and key not in seen:
            action = _comment_action(source, key, None, entry, False, config)
            if action is not None:
                actions.append((_key_order(key), 1, action))
    actions.sort(key=lambda a: (a[0], a[1]))
    return [a for _, _, a in actions]


def reconcile_add(action: AddComment, found: Sequence[tuple[str, str]]) -> list[Action]:
    """Turn an `AddComment` into edits of bot comments the tracker already has.

    `found` is (comment id, body) of the item's comments that are pmo-sync's
    (`is_bot_comment` and written by the service account), as the transport
    read them just before adding. The ledger may not know them: it was
    lost, or an add reached the tracker but its answer did not. Keep the
    oldest (lowest numeric id) and update it, even when its body already
    matches (a rare path; the update's result records the id through
    `apply_result` like any other); delete the others — exactly one bot
    comment per item. None found: the add stands.
    """
    if not found:
        return [action]

    def oldest(pair: tuple[str, str]) -> tuple[int, int | str]:
        return (0, int(pair[0])) if pair[0].isdigit() else (1, pair[0])

    ordered = sorted(found, key=oldest)
    keep = UpdateComment(action.source, action.key, ordered[0][0], action.body, action.said)
    return [keep, *(DeleteComment(action.source, action.key, cid) for cid, _ in ordered[1:])]


def reconcile_delete(action: DeleteComment, found: Sequence[tuple[str, str]]) -> list[Action]:
    """A `DeleteComment` without an id (an add whose answer was lost, no longer wanted): a
    delete of each bot comment the item has (`found`, read just before); none: nothing."""
    if action.comment_id is not None:
        return [action]
    return [DeleteComment(action.source, action.key, cid) for cid, _ in found]


# -- recording results --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the transport reports for one action.

    `ok`: the tracker accepted it (`comment_id` set for an `AddComment`).
    `gone`: the comment or item no longer exists (a 404): a delete is then
    as good as done, an update must become an add. Anything else is a
    failure to retry next run (`error` says why, for the log).
    """

    ok: bool
    comment_id: str | None = None
    gone: bool = False
    error: str | None = None
    conflict: bool = False
    """Refused because the item changed since the sync (nothing written): the next run,
    which syncs first, writes it. Expected under a busy team, so not a failure."""

    @classmethod
    def success(cls, comment_id: str | None = None) -> Outcome:
        return cls(True, comment_id)

    @classmethod
    def failure(cls, error: str) -> Outcome:
        return cls(False, error=error)

    @classmethod
    def deferred(cls, error: str) -> Outcome:
        return cls(False, error=error, conflict=True)

    @classmethod
    def not_found(cls) -> Outcome:
        return cls(False, gone=True, error="not found")


def intent(action: Action) -> LedgerUpdate:
    """The ledger rows to record *before* the action is sent: its targets marked `PENDING`.

    A write whose answer is lost (a timeout, a dropped connection, the process killed as the
    answer arrives) may have been carried out: without this, the ledger would still hold what
    was there before, and if the desired state went back to it (a person took the change
    back) the next plan would see nothing to do and the tracker would keep the lost write.
    A `PENDING` row never equals a desired value, so the next plan writes the desired state
    again (a field set, a comment updated, an add reconciled with what the item has, a
    comment deleted); the action's own result replaces the row when its answer arrives.
    """
    comment_key = (action.source, action.key, COMMENT_TARGET)
    if isinstance(action, SetFields):
        return LedgerUpdate(
            put=tuple(
                LedgerEntry(
                    action.source,
                    action.key,
                    field_target(c.metric),
                    PENDING,
                    value_json=None if c.first else canonical_json(c.was),
                    tracker_field=c.tracker_field,
                )
                for c in action.changes
            )
        )
    comment_id = None if isinstance(action, AddComment) else action.comment_id
    return LedgerUpdate(put=(LedgerEntry(*comment_key, PENDING, comment_id=comment_id),))


def apply_result(action: Action, outcome: Outcome) -> LedgerUpdate:
    """The ledger change one finished action warrants: nothing unless it succeeded.

    A failure leaves the ledger as it was, so the next plan retries the
    same change. A `gone` comment is forgotten: deleting it is done, and
    updating it will be an add next run (a person deleted the comment while
    findings remain). The ledger needs no input: the action carries the
    source, key, targets and values.
    """
    comment_key = (action.source, action.key, COMMENT_TARGET)
    if isinstance(action, UpdateComment | DeleteComment) and outcome.gone:
        return LedgerUpdate(remove=(comment_key,))
    if not outcome.ok:
        return LedgerUpdate()
    if isinstance(action, SetFields):
        return LedgerUpdate(
            put=tuple(
                LedgerEntry(
                    action.source,
                    action.key,
                    field_target(c.metric),
                    value_hash(c.value),
                    value_json=canonical_json(c.value),
                    tracker_field=c.tracker_field,
                )
                for c in action.changes
            )
        )
    if isinstance(action, DeleteComment):
        return LedgerUpdate(remove=(comment_key,))
    if isinstance(action, AddComment):
        if not outcome.comment_id:
            raise ValueError(f"{action.key}: a successful add must report the new comment's id")
        comment_id = outcome.comment_id
    else:
        comment_id = action.comment_id
    entry = LedgerEntry(
        action.source,
        action.key,
        COMMENT_TARGET,
        value_hash(action.body),
        comment_id=comment_id,
        value_json=action.said,
    )
    return LedgerUpdate(put=(entry,))
