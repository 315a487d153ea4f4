"""Write-back: KPI values into tracker fields and governance findings into one bot comment per item.

This package is the pure planning layer (no tracker, no store, no clock):
`config` is the connector-neutral `writeback:` block, `comment` renders the
bot comment, `plan` turns a KPI run and findings into the actions a
connector's transport executes and the ledger rows to record for each
success. See `pmo_sync.writeback.plan` for the decisions it makes.
"""

from pmo_sync.writeback.comment import (
    escape_wiki,
    is_bot_comment,
    render_comment,
    resolved_comment,
)
from pmo_sync.writeback.config import METRICS, MetricSpec, WritebackConfig
from pmo_sync.writeback.plan import (
    COMMENT_TARGET,
    Action,
    AddComment,
    DeleteComment,
    DesiredItem,
    FieldChange,
    FieldValue,
    LedgerEntry,
    LedgerKey,
    LedgerUpdate,
    Outcome,
    SetFields,
    UpdateComment,
    apply_result,
    canonical_json,
    desired_state,
    field_target,
    plan,
    reconcile_add,
    value_hash,
)

__all__ = [
    "COMMENT_TARGET",
    "METRICS",
    "Action",
    "AddComment",
    "DeleteComment",
    "DesiredItem",
    "FieldChange",
    "FieldValue",
    "LedgerEntry",
    "LedgerKey",
    "LedgerUpdate",
    "MetricSpec",
    "Outcome",
    "SetFields",
    "UpdateComment",
    "WritebackConfig",
    "apply_result",
    "canonical_json",
    "desired_state",
    "escape_wiki",
    "field_target",
    "is_bot_comment",
    "plan",
    "reconcile_add",
    "render_comment",
    "resolved_comment",
    "value_hash",
]
