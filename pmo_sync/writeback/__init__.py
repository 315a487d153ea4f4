"""Write-back: KPI values into tracker fields and governance findings into one bot comment per item.

`comment` renders the bot comment and `plan` turns a KPI run and findings into
the actions a connector's transport executes and the ledger rows to record for
each success (pure: no tracker, no store, no clock); `service` is the I/O edge
that runs them. The `writeback:` block a connector's config embeds is
`pmo_sync.common.writeback_config`; the ledger's rows are
`pmo_sync.store.ledger`'s. See `pmo_sync.writeback.plan` for the decisions.
"""

from pmo_sync.common.writeback_config import METRICS, MetricSpec, WritebackConfig
from pmo_sync.store.ledger import LedgerEntry, LedgerKey, LedgerUpdate
from pmo_sync.writeback.comment import (
    escape_wiki,
    is_bot_comment,
    render_comment,
    resolved_comment,
)
from pmo_sync.writeback.plan import (
    COMMENT_TARGET,
    Action,
    AddComment,
    DeleteComment,
    DesiredItem,
    FieldChange,
    FieldValue,
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
