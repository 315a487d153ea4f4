"""`pmo-sync connectors check` for Trello: reach, the key and token, the boards, the mapping.

The first call (`/members/me`) decides whether to go on: nothing answering at `url`
(or no Trello API there) is reported once, as `reach`; a refused key or token once,
as `credentials`; no later step is tried.

Each result says what to do when it fails. Lists no stage is configured for are
warnings (their cards count as in progress until mapped); so are sprints the
calendar cannot date. A missing estimate, sprint or (configured) priority custom field is a
warning too: those cards simply have none. Write-back fields (on each
board, with the Custom Fields power-up) are `connectors.trello.fieldcheck`'s, which
`connectors check` runs after these.
"""

from __future__ import annotations

from connectors.base import CheckReport
from connectors.errors import ConnectorError, TrackerUnavailableError, UnexpectedResponseError
from connectors.trello.client import TrelloClient, TrelloNotFoundError
from connectors.trello.config import TrelloConfig
from connectors.trello.convert import UNMAPPED, BoardInfo, FieldInfo
from connectors.trello.streams import board_info, list_stage_table

__all__ = ["check_connector"]

TYPE_NAMES = {"number": "number", "list": "dropdown", "text": "text", "date": "date",
              "checkbox": "checkbox"}  # fmt: skip


def check_connector(client: TrelloClient, config: TrelloConfig) -> CheckReport:
    report = CheckReport()
    try:
        me = client.me()
    except (TrackerUnavailableError, UnexpectedResponseError, TrelloNotFoundError) as exc:
        report.add("reach", False, str(exc))  # every later step would fail the same way
        return report
    except ConnectorError as exc:
        report.add("credentials", False, str(exc))
        return report
    who = me.get("fullName") or me.get("username") or me.get("id")
    report.add("credentials", True, f"the token is {who}'s (@{me.get('username')})")
    try:
        boards = client.resolve_boards(config.boards)
    except ConnectorError as exc:
        report.add("boards", False, str(exc))
        return report
    report.add("boards", True, ", ".join(f"{b.get('name')} ({b.get('id')})" for b in boards))
    for board in boards:
        name = str(board.get("name"))
        try:
            info = board_info(
                board, client.lists(str(board["id"])), client.custom_fields(str(board["id"]))
            )
        except ConnectorError as exc:
            report.add(f"board {name}", False, str(exc))
            continue
        open_lists = [x.name for x in info.lists.values() if not x.closed]
        stages = list_stage_table(config, open_lists)
        unmapped = [n for n in open_lists if stages.get(" ".join(n.split()).casefold()) is None]
        if unmapped:
            report.add(
                f"lists of {name}",
                False,
                f"no stage for {', '.join(repr(n) for n in unmapped)}: their cards count as in "
                f"progress (status category {UNMAPPED!r}); map them under list_stages "
                "(todo, in_progress or done)",
                severity="warning",
            )
        else:
            report.add(f"lists of {name}", True, f"{len(open_lists)} lists, each with a stage")
        _check_sources(report, config, name, info)
    return report


def _source_field(
    report: CheckReport,
    check: str,
    info: BoardInfo,
    name: str,
    types: tuple[str, ...],
    missing: str,
) -> FieldInfo | None:
    """The custom field a source reads, reported as found (with its type) or as a warning
    (`missing` says what then happens and what to set)."""
    found = info.field_named(name)
    if found is not None and found.type in types:
        report.add(check, True, f"custom field {name!r} ({found.type})", severity="warning")
        return found
    kinds = " or ".join(TYPE_NAMES[t] for t in types)
    actual = f" (it is a {TYPE_NAMES.get(found.type, found.type)} field)" if found else ""
    report.add(check, False, f"no {kinds} custom field {name!r}{actual}: {missing}", "warning")
    return None


def _check_sources(report: CheckReport, config: TrelloConfig, board: str, info: BoardInfo) -> None:
    estimate, sprints = config.estimate, config.sprints
    if estimate.source == "custom_field":
        _source_field(
            report, f"estimate on {board}", info, estimate.name or "", ("number", "list"),
            "cards will have no estimate; set estimate: in the config "
            "(from: custom_field, label or title)",
        )  # fmt: skip
    priority = config.portfolio.priority
    if priority is not None and priority.source == "custom_field":
        _source_field(
            report, f"priority on {board}", info, priority.name or "", ("list", "text"),
            "cards will have no priority; set portfolio.priority in the config "
            "(from: custom_field or label)",
        )  # fmt: skip
    if sprints.source != "custom_field":
        return
    found = _source_field(
        report, f"sprints on {board}", info, sprints.name or "", ("list", "text"),
        "cards will have no sprint; set sprints: in the config (from: custom_field, label "
        "or list)",
    )  # fmt: skip
    if found is not None and found.type == "list":
        undated = [o for o in found.options.values() if sprints.window(o) is None]
        if undated:
            report.add(
                f"sprint dates on {board}",
                False,
                f"no dates for {', '.join(repr(u) for u in undated[:5])}"
                f"{' ...' if len(undated) > 5 else ''}: add sprints.cadence or "
                "sprints.dates to the config (Trello keeps no sprint dates)",
                severity="warning",
            )
