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
lost ledger or a lost answer never leaves two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Engine

from connectors.base import ConnectorConfig
from connectors.errors import (
    CommentNotFoundError,
    ConnectorError,
    IssueNotFoundError,
    MarkerPropertyError,
    RevisionConflictError,
)
from connectors.registry import connector_for_kind
from pmo_sync.governance.model import Finding
from pmo_sync.kpi.compute import KpiRun
from pmo_sync.store.ledger import load_ledger, record_ledger_update
from pmo_sync.store.reads import item_revisions
from pmo_sync.writeback.plan import (
    Action,
    AddComment,
    DeleteComment,
    Outcome,
    SetFields,
    UpdateComment,
    apply_result,
    desired_state,
    plan,
    reconcile_add,
)

__all__ = ["MARKER_PROPERTY_KEY", "PushSummary", "push_connector"]

log = structlog.get_logger(__name__)
MARKER_PROPERTY_KEY = "pmo-sync"


@dataclass(slots=True)
class PushSummary:
    connector: str
    dry_run: bool
    planned: int = 0
    done: int = 0
    failed: int = 0
    deferred: int = 0
    """Writes refused because the item changed since the sync: the next run writes them."""
    api_calls: int = 0
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.errors


class _Executor:
    """Runs actions through the writer; looks up field ids and the bot account only if needed."""

    def __init__(
        self, writer: Any, marker: str, fields: list[str], revisions: dict[str, int]
    ) -> None:
        self.writer, self.marker = writer, marker
        self._fields = fields
        self._revisions = revisions
        self._field_ids: dict[str, str] | None = None
        self._bot: str | None = None

    def field_ids(self) -> dict[str, str]:
        """Every configured field's id, with one `GET /field` on the first field write."""
        if self._field_ids is None:
            self._field_ids = self.writer.field_ids(self._fields)
        return self._field_ids

    def bot_account(self, configured: str | None) -> str | None:
        """The service account, asked of `/myself` once, on the first comment added."""
        if configured is not None:
            return configured
        if self._bot is None:
            self._bot = self.writer.bot_account_id()
        return self._bot

    def run(self, action: Action) -> Outcome:
        """One action; the transport's errors mapped to outcomes the ledger understands."""
        writer = self.writer
        try:
            if isinstance(action, SetFields):
                ids = self.field_ids()
                values = {ids[f]: v for f, v in action.values.items()}
                revision = self._revisions.get(action.key)
                if revision is None:
                    writer.set_fields(action.key, values)
                else:  # refused if the item changed since the sync the plan came from
                    writer.set_fields(action.key, values, expected_rev=revision)
                return Outcome.success()
            if isinstance(action, AddComment):
                tag = {"key": MARKER_PROPERTY_KEY, "value": {"managed": True, "version": 1}}
                return Outcome.success(writer.add_comment(action.key, action.body, tag))
            if isinstance(action, UpdateComment):
                writer.update_comment(action.key, action.comment_id, action.body)
                return Outcome.success(action.comment_id)
            if isinstance(action, DeleteComment):
                writer.delete_comment(action.key, action.comment_id)
                return Outcome.success()
        except MarkerPropertyError as exc:  # the comment exists; only its tag failed
            return Outcome.success(exc.comment_id)
        except CommentNotFoundError:
            return Outcome.not_found()
        except RevisionConflictError as exc:
            return Outcome.deferred(str(exc))
        except (IssueNotFoundError, ConnectorError) as exc:
            return Outcome.failure(str(exc))
        raise TypeError(f"unknown write-back action {action!r}")


def push_connector(
    config: ConnectorConfig,
    engine: Engine,
    run: KpiRun,
    findings: Sequence[Finding],
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PushSummary:
    """Push one connector's KPI fields and bot comments; never raises for a tracker's failure."""
    now = now or datetime.now(UTC)
    summary = PushSummary(config.name, dry_run)
    writeback = getattr(config, "writeback", None)
    if writeback is None or not writeback.enabled:
        return summary
    actions = plan(
        desired_state(run, findings, writeback, config.name, item_sources=run.item_sources),
        load_ledger(engine, config.name),
        writeback,
        source=config.name,
    )
    summary.planned = len(actions)
    if dry_run or not actions:  # nothing to write: not a single call
        summary.lines = [action.describe() for action in actions]
        return summary
    with connector_for_kind(config.kind)(config) as connector:
        writer = connector.writer()
        if writer is None:
            summary.errors.append(f"write-back is not available for kind {config.kind!r} yet")
            return summary
        revisions = (
            item_revisions(engine, config.name)
            if getattr(writer, "checks_revisions", False)
            else {}
        )
        executor = _Executor(writer, writeback.marker, list(writeback.fields.values()), revisions)
        try:
            for action in actions:
                steps: list[Action] = [action]
                if isinstance(action, AddComment):
                    bot = executor.bot_account(writeback.service_account)
                    if bot is not None:
                        found = writer.find_bot_comments(action.key, bot, writeback.marker)
                        steps = reconcile_add(action, found)
                for step in steps:
                    outcome = executor.run(step)
                    record_ledger_update(engine, apply_result(step, outcome), now)
                    if outcome.ok or outcome.gone:
                        summary.done += 1
                    elif outcome.conflict:
                        summary.deferred += 1
                        log.info("push_deferred", key=step.key, reason=outcome.error)
                    else:
                        summary.failed += 1
                        summary.errors.append(f"{step.key}: {outcome.error}")
                        log.warning("push_failed", key=step.key, error=outcome.error)
        except ConnectorError as exc:
            summary.errors.append(str(exc))
            log.error("push_aborted", connector=config.name, error=str(exc))
        finally:
            writer.close()
            summary.api_calls = connector.stats.api_calls
    return summary
