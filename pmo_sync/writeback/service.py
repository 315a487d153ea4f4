"""The I/O edge of write-back: plan against the ledger, run each action, record what succeeded.

For one connector: plan (desired state - ledger, by the configured field
names, so planning costs no call) and either print the plan (dry run) or
execute it action by action, resolving field names to ids on the first field
write. Where the writer `checks_revisions` (Azure DevOps), each field write
carries the item's revision as last synced, so an item a person changed since
that sync is not written with values computed from its old state: the write
fails, and the next cycle (sync, then push) writes it. Each success is
recorded in the ledger at once; a failure is logged and left for the next run.
Before adding a comment, the item's existing bot comments are looked up, so a
lost ledger or a lost answer never leaves two. Before each write goes out, its
ledger rows are marked in flight (`plan.intent`, one commit): a write the tracker
carried out whose answer was lost (a timeout, a dropped connection, the process
killed) is written again by the next plan, even when the desired state went back
to what the ledger held before; the write's own result replaces the mark.

Failures are contained where they belong:

- **One item's calls fail that item only.** Reading its comments, writing its
  fields, adding, editing or deleting its comment: a `ConnectorError` from
  any of them (an HTML page, a 500 after the client's retries, a timeout, a
  403) counts that action as failed (one error line, ``KEY: what failed``),
  and the push goes on with the next action. The next run plans it again.
- **A 404 for the item means it is gone.** `IssueNotFoundError` from any of
  its calls (its comment list included): every ledger row of the item (its
  fields and its comment) is forgotten, its remaining actions are skipped
  (no further call for it), and it counts as `gone`, not as failed: the next
  sync marks it deleted. A push whose only trouble is gone items is ok.
  `CommentNotFoundError` is the comment gone, not the item: a delete is
  done, an update becomes an add next run.
- **The run's own look-ups** (the bot account, `/myself`; the field ids, a
  tracker's field list) are made once, when an action first needs them (a
  push of comment updates alone reads no field list). A transient failure
  (an HTML page, the tracker unavailable, a 5xx or a lost connection) is
  tried again, `LOOKUP_ATTEMPTS` times in all with a short back-off; if it
  still fails, or fails for good at once (credentials, permission, a field
  that does not exist), the push stops with one line naming the look-up,
  and the remaining actions are left for the next run: not one error per
  action.
- **Wrong credentials stop the push.** An `AuthenticationError` on an item's
  call is wrong for every item: the push stops with one line instead of
  failing each remaining action the same way.
- **A field refused for a place stops that field there, not the push.** The
  first `FieldRefusedError` (Jira: the field is not on the project's edit
  screen; Azure DevOps: not a field of the work item type, TF51535; Trello: no
  such custom field on the card's board) stops writing those fields to that
  place (the item's project, and type where `per_type`, as the store has it)
  for the rest of the run: the other fields of the same item are written at
  once, later items there are written without the refused fields (skipped
  with no call when nothing else is left), and the push ends with one line
  per place: ``field 'Cycle time (days)' cannot be set in project ABC (not on
  the edit screen): skipped 116 items; run `pmo-sync connectors check NAME```.
  The items count as `skipped`, not failed; their ledger rows are untouched,
  so a push after the admin's fix writes them.
- **A tracker that looks down stops the push.** When
  `UNAVAILABLE_ITEMS_IN_A_ROW` items in a row fail with
  `TrackerUnavailableError` (the tracker kept failing after the client's own
  retries), the push stops with one line saying how many actions were left
  for the next run, rather than waiting out the retries of every one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import structlog
from sqlalchemy import Engine

from connectors.base import ConnectorConfig, Writer
from connectors.errors import (
    AuthenticationError,
    CommentNotFoundError,
    ConnectorError,
    FieldNotFoundError,
    FieldRefusedError,
    IssueNotFoundError,
    MarkerPropertyError,
    RevisionConflictError,
    TrackerUnavailableError,
    TrackerUnreachableError,
    UnexpectedResponseError,
)
from connectors.registry import connector_for_kind
from pmo_sync.common.writeback_config import WritebackConfig
from pmo_sync.governance.model import Finding, PortfolioFacts
from pmo_sync.kpi.compute import KpiRun
from pmo_sync.store.ledger import forget_item, load_ledger, record_ledger_update
from pmo_sync.store.reads import item_places, item_revisions
from pmo_sync.writeback.plan import (
    Action,
    AddComment,
    DeleteComment,
    Outcome,
    SetFields,
    UpdateComment,
    apply_result,
    desired_state,
    intent,
    plan,
    reconcile_add,
    reconcile_delete,
)

__all__ = [
    "LOOKUP_ATTEMPTS",
    "LOOKUP_BACKOFF_SECONDS",
    "MARKER_PROPERTY_KEY",
    "UNAVAILABLE_ITEMS_IN_A_ROW",
    "PushSummary",
    "push_connector",
]

log = structlog.get_logger(__name__)
MARKER_PROPERTY_KEY = "pmo-sync"
LOOKUP_ATTEMPTS = 3
"""Tries of a run's look-up (bot account, field ids) that fails with a transient error."""
LOOKUP_BACKOFF_SECONDS = 1.0
"""Wait before the n-th retry of a look-up: n times this."""
UNAVAILABLE_ITEMS_IN_A_ROW = 3
"""Items failing in a row with `TrackerUnavailableError` that stop the push."""

# What each tracker's look-ups read, for the line of a push they stop.
_FIELD_LIST = {
    "jira": "the field list (GET /field)",
    "azure_devops": "the work item field list (GET _apis/wit/fields)",
    "trello": "the boards' custom fields (GET /boards/{id}/customFields)",
}
_BOT_ACCOUNT = {
    "jira": "the API user (GET /myself)",
    "azure_devops": "the personal access token's identity (GET _apis/connectionData)",
    "trello": "the token's member (GET /members/me)",
}

T = TypeVar("T")


@dataclass(slots=True)
class PushSummary:
    """How one connector's push went, in actions (`gone`: in items).

    `done` actions were made (or found already done, as a comment someone deleted
    that was to be deleted); `failed` ones were tried and failed, and are planned
    again next run; actions a stopped push did not try are in the `errors` line
    that says why it stopped.
    """

    connector: str
    dry_run: bool
    planned: int = 0
    done: int = 0
    failed: int = 0
    deferred: int = 0
    """Writes refused because the item changed since the sync: the next run writes them."""
    gone: int = 0
    """Items found deleted in the tracker (a 404): their ledger rows are forgotten and their
    actions skipped; the next sync marks them deleted. Not a failure."""
    skipped: int = 0
    """Items whose fields were not written because the tracker refused a field where they
    are (`refusals` says which and where); their ledger rows wait for the next push."""
    refusals: list[str] = field(default_factory=list)
    """One line per place a field was refused: the field, where, why, the items skipped."""
    api_calls: int = 0
    retries: int = 0
    """Requests sent again after a 429, a 5xx, a timeout or a dropped connection."""
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.errors and not self.refusals


@dataclass(slots=True)
class _Refusal:
    """The fields a tracker refused in one place, and the items not written there."""

    where: str
    reason: str
    fields: list[str]
    """As the config names them, in the order refused."""
    items: set[str] = field(default_factory=set)

    def line(self, connector: str) -> str:
        noun = "field" if len(self.fields) == 1 else "fields"
        named = ", ".join(repr(f) for f in self.fields)
        count = len(self.items)
        return (
            f"{noun} {named} cannot be set {self.where} ({self.reason}): skipped {count} "
            f"item{'' if count == 1 else 's'}; run `pmo-sync connectors check {connector}`"
        )


class _Stop(Exception):
    """The push cannot go on; the message is its one line (without the actions left)."""


def _transient(exc: ConnectorError) -> bool:
    """Whether a look-up failing with `exc` is worth asking again (not a tracker that
    nothing answers for: refused, unknown host; the connection already failed fast)."""
    if isinstance(exc, TrackerUnreachableError):
        return False
    if isinstance(exc, UnexpectedResponseError | TrackerUnavailableError):
        return True
    return type(exc) is ConnectorError and (exc.status_code is None or exc.status_code >= 500)


class _Push:
    """One push of one connector: the run's look-ups, each action, the summary and the ledger."""

    def __init__(
        self,
        config: ConnectorConfig,
        writeback: WritebackConfig,
        engine: Engine,
        writer: Writer,
        revisions: dict[str, int],
        summary: PushSummary,
        now: datetime,
        sleep: Callable[[float], None],
        places: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.config, self.writeback, self.engine = config, writeback, engine
        self.writer, self.summary, self.now, self.sleep = writer, summary, now, sleep
        self._revisions = revisions
        self._places = places or {}
        self._refusals: dict[tuple[str, ...], _Refusal] = {}
        self._field_ids: dict[str, str] | None = None
        self._bot: str | None = None
        self._gone: set[str] = set()
        self._unavailable: list[str] = []  # the items failing in a row with the tracker down

    # -- the run's look-ups ---------------------------------------------------------------

    def _lookup(self, what: str, call: Callable[[], T]) -> T:
        """`call()`, tried again on a transient error; `_Stop` when it cannot be had."""
        for attempt in range(1, LOOKUP_ATTEMPTS + 1):
            try:
                return call()
            except ConnectorError as exc:
                if attempt < LOOKUP_ATTEMPTS and _transient(exc):
                    log.info("push_lookup_retry", lookup=what, attempt=attempt, error=str(exc))
                    self.sleep(LOOKUP_BACKOFF_SECONDS * attempt)
                    continue
                self.summary.failed += 1  # the action that needed it; the others wait
                if isinstance(exc, FieldNotFoundError):
                    raise _Stop(f"the configured fields do not match {what}: {exc}") from None
                raise _Stop(f"could not read {what}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def field_ids(self) -> dict[str, str]:
        """Every configured field's id, read once (Jira: one `GET /field`) on the first field
        write."""
        if self._field_ids is None:
            what = _FIELD_LIST.get(self.config.kind, "the tracker's field list")
            names = list(self.writeback.fields.values())
            self._field_ids = self._lookup(what, lambda: self.writer.field_ids(names))
        return self._field_ids

    def bot_account(self) -> str | None:
        """The service account: configured, or asked of the tracker once (`/myself`), on the
        first comment added."""
        if self.writeback.service_account is not None:
            return self.writeback.service_account
        if self._bot is None:
            what = _BOT_ACCOUNT.get(self.config.kind, "the bot account")
            self._bot = self._lookup(what, self.writer.bot_account_id)
        return self._bot

    # -- one action ---------------------------------------------------------------------------

    def _intend(self, action: Action) -> None:
        """Write-ahead: the action's rows say "in flight" before its call goes out, so an
        answer lost after the tracker carried it out is written again by the next plan
        instead of hiding behind the row from before (`pmo_sync.writeback.plan.intent`)."""
        record_ledger_update(self.engine, intent(action), self.now)

    def _execute(self, action: Action) -> Outcome:
        """One action through the writer: what the ledger understands, or the writer's error.

        `IssueNotFoundError` and every other failure of the call are raised, for `_call`.
        """
        writer = self.writer
        try:
            if isinstance(action, SetFields):
                ids = self.field_ids()
                values = {ids[f]: v for f, v in action.values.items()}
                self._intend(action)
                revision = self._revisions.get(action.key)
                if revision is None:
                    writer.set_fields(action.key, values)
                else:  # refused if the item changed since the sync the plan came from
                    writer.set_fields(action.key, values, expected_rev=revision)
                return Outcome.success()
            self._intend(action)
            if isinstance(action, AddComment):
                tag = {"key": MARKER_PROPERTY_KEY, "value": {"managed": True, "version": 1}}
                return Outcome.success(writer.add_comment(action.key, action.body, tag))
            if isinstance(action, UpdateComment):
                writer.update_comment(action.key, action.comment_id, action.body)
                return Outcome.success(action.comment_id)
            if isinstance(action, DeleteComment):
                if action.comment_id is None:  # `_action` resolves it to the comments found
                    raise TypeError(f"{action.key}: a delete without a comment id reached a call")
                writer.delete_comment(action.key, action.comment_id)
                return Outcome.success()
        except MarkerPropertyError as exc:  # the comment exists; only its tag failed
            return Outcome.success(exc.comment_id)
        except CommentNotFoundError:
            return Outcome.not_found()
        except RevisionConflictError as exc:
            return Outcome.deferred(str(exc))
        raise TypeError(f"unknown write-back action {action!r}")

    def _call(self, key: str, call: Callable[[], T], failing: str = "") -> T | None:
        """One tracker call for item `key`; None when it failed (counted) or the item is gone.

        `failing` says what failed in the error line, where the writer's message may not.
        Raises `_Stop` for wrong credentials, or the tracker down for several items in a row.
        """
        try:
            result = call()
        except IssueNotFoundError as exc:
            self._unavailable.clear()
            self._forget(key, exc)
            return None
        except FieldRefusedError:
            self._unavailable.clear()
            raise  # not the item's failure: `_action` stops the field where it is
        except AuthenticationError as exc:
            self.summary.failed += 1
            log.warning("push_failed", key=key, error=str(exc))
            raise _Stop(f"{key}: {failing}{exc}") from None
        except ConnectorError as exc:
            self.summary.failed += 1
            self.summary.errors.append(f"{key}: {failing}{exc}")
            log.warning("push_failed", key=key, error=str(exc))
            if not isinstance(exc, TrackerUnavailableError):
                self._unavailable.clear()
                return None
            if not self._unavailable or self._unavailable[-1] != key:
                self._unavailable.append(key)
            if len(self._unavailable) >= UNAVAILABLE_ITEMS_IN_A_ROW:
                keys = ", ".join(self._unavailable)
                raise _Stop(
                    f"the tracker looks unavailable: {len(self._unavailable)} items in a row "
                    f"({keys}) failed after the client's retries"
                ) from None
            return None
        self._unavailable.clear()
        return result

    def _forget(self, key: str, exc: IssueNotFoundError) -> None:
        """The item is gone: its ledger rows go, its remaining actions are skipped."""
        removed = forget_item(self.engine, self.config.name, key)
        self._gone.add(key)
        self.summary.gone += 1
        log.info("push_item_gone", key=key, ledger_rows=removed, error=str(exc))

    # -- fields refused for a place ------------------------------------------------------------

    def _scope(self, key: str, per_type: bool) -> tuple[tuple[str, ...], str]:
        """Where a refusal of `key`'s field holds (a dict key) and how a line names it."""
        place = self._places.get(key)
        if place is None:  # not in the store (it should be): the item alone
            return ("item", key), f"on {key}"
        project, raw_type = place
        if self.config.kind == "trello":
            return ("board", project), f"on board {project}"
        if per_type:
            return ("type", project, raw_type), f"on {raw_type} in project {project}"
        return ("project", project), f"in project {project}"

    def _refused_here(self, action: SetFields) -> SetFields | None:
        """`action` without the fields refused where its item is; None when none are left.

        An item that loses a field to a refusal is one of the refusal's skipped items."""
        names: set[str] = set()
        for per_type in (False, True):
            refusal = self._refusals.get(self._scope(action.key, per_type)[0])
            if refusal is None:
                continue
            if any(c.tracker_field in refusal.fields for c in action.changes):
                refusal.items.add(action.key)
            names.update(refusal.fields)
        kept = tuple(c for c in action.changes if c.tracker_field not in names)
        if len(kept) == len(action.changes):
            return action
        return SetFields(action.source, action.key, kept) if kept else None

    def _refuse(self, action: SetFields, exc: FieldRefusedError) -> bool:
        """Record a refusal: the fields `exc` names stop where `action`'s item is. False
        when it names none of the action's fields (then it is the item's failure)."""
        by_id = {tracker_id: name for name, tracker_id in (self._field_ids or {}).items()}
        written = {c.tracker_field for c in action.changes}
        names = [n for n in (by_id.get(f, f) for f in exc.fields) if n in written]
        if not names:
            return False
        scope, where = self._scope(action.key, exc.per_type)
        refusal = self._refusals.setdefault(scope, _Refusal(where, exc.reason, []))
        refusal.fields.extend(n for n in names if n not in refusal.fields)
        log.warning("push_field_refused", key=action.key, fields=names, where=where, error=str(exc))
        return True

    def _action(self, action: Action) -> None:
        if isinstance(action, SetFields):
            unrefused = self._refused_here(action)
            if unrefused is None:
                return
            action = unrefused
        steps: list[Action] = [action]
        unsure_delete = isinstance(action, DeleteComment) and action.comment_id is None
        if isinstance(action, AddComment) or unsure_delete:
            bot = self.bot_account()
            if bot is not None:
                marker = self.writeback.marker
                found = self._call(
                    action.key,
                    partial(self.writer.find_bot_comments, action.key, bot, marker),
                    "could not list its comments before "
                    f"{'deleting' if unsure_delete else 'adding'} the bot comment: ",
                )
                if found is None:
                    return
                if isinstance(action, AddComment):
                    steps = reconcile_add(action, found)
                elif isinstance(action, DeleteComment):  # one without an id (unsure_delete)
                    steps = reconcile_delete(action, found)
            elif unsure_delete:
                steps = []  # no bot account to tell its comments by: nothing can be deleted
            if not steps:  # an unconfirmed add that left no comment: its row goes
                record_ledger_update(self.engine, apply_result(action, Outcome.success()), self.now)
                self.summary.done += 1
                return
        for step in steps:
            if step.key in self._gone:
                return
            try:
                outcome = self._call(step.key, partial(self._execute, step))
            except FieldRefusedError as exc:
                if not isinstance(step, SetFields):
                    raise TypeError(f"{step.key}: a field refused for {step!r}") from None
                if not self._refuse(step, exc):  # no field of the write: the item's failure
                    self.summary.failed += 1
                    self.summary.errors.append(f"{step.key}: {exc}")
                    continue
                rest = self._refused_here(step)
                if rest is not None:
                    self._action(rest)  # the fields left: written now
                continue
            if outcome is None:
                continue
            record_ledger_update(self.engine, apply_result(step, outcome), self.now)
            if outcome.gone and isinstance(step, UpdateComment):
                # The comment is gone (a person deleted it, or a delete's answer was lost):
                # the findings still want it, so it is added now, not one run later.
                self._action(AddComment(step.source, step.key, step.body, step.said))
                continue
            if outcome.ok or outcome.gone:
                self.summary.done += 1
            elif outcome.conflict:
                self.summary.deferred += 1
                log.info("push_deferred", key=step.key, reason=outcome.error)
            else:  # not made by `_execute` (a failure is raised), kept for a new outcome
                self.summary.failed += 1
                self.summary.errors.append(f"{step.key}: {outcome.error}")

    def run(self, actions: Sequence[Action]) -> None:
        for index, action in enumerate(actions):
            if action.key in self._gone:
                continue
            try:
                self._action(action)
            except _Stop as stop:
                left = sum(1 for a in actions[index + 1 :] if a.key not in self._gone)
                line = f"push stopped: {stop}; {left} action(s) left for the next run"
                self.summary.errors.append(line)
                log.error("push_stopped", connector=self.config.name, error=line)
                break
        refusals = list(self._refusals.values())
        self.summary.refusals = [r.line(self.config.name) for r in refusals]
        self.summary.skipped = len(set().union(*(r.items for r in refusals)))


def push_connector(
    config: ConnectorConfig,
    engine: Engine,
    run: KpiRun,
    findings: Sequence[Finding],
    *,
    portfolio: PortfolioFacts | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PushSummary:
    """Push one connector's KPI fields and bot comments; never raises for a tracker's failure.

    `portfolio` is the same refresh's portfolio answers (`KpiRefresh.portfolio.facts`): the
    requests' forecast fields and stakeholder sentences come from them; None (a store with
    no request) plans neither. `sleep` waits between the tries of a failing look-up (tests
    pass one that does not).
    """
    now = now or datetime.now(UTC)
    summary = PushSummary(config.name, dry_run)
    writeback = getattr(config, "writeback", None)
    if writeback is None or not writeback.enabled:
        return summary
    ledger = load_ledger(engine, config.name)
    desired = desired_state(
        run,
        findings,
        writeback,
        config.name,
        item_sources=run.item_sources,
        portfolio=portfolio,
        ledger=ledger,
    )
    actions = plan(desired, ledger, writeback, source=config.name)
    summary.planned = len(actions)
    if dry_run or not actions:  # nothing to write: not a single call
        summary.lines = [action.describe() for action in actions]
        return summary
    with connector_for_kind(config.kind)(config) as connector:
        writer = connector.writer()
        if writer is None:
            summary.errors.append(f"write-back is not available for kind {config.kind!r} yet")
            return summary
        try:
            revisions = item_revisions(engine, config.name) if writer.checks_revisions else {}
            places = item_places(engine, config.name)
            _Push(config, writeback, engine, writer, revisions, summary, now, sleep, places).run(
                actions
            )
        except ConnectorError as exc:  # not one item's: a failure of the run itself
            summary.errors.append(str(exc))
            log.error("push_aborted", connector=config.name, error=str(exc))
        finally:
            writer.close()
            summary.api_calls = connector.stats.api_calls
            summary.retries = connector.stats.retries
    log.info(
        "push_finished",
        connector=config.name,
        planned=summary.planned,
        done=summary.done,
        failed=summary.failed,
        deferred=summary.deferred,
        gone=summary.gone,
        skipped=summary.skipped,
        api_calls=summary.api_calls,
    )
    return summary
