"""Benchmark the upgrade's re-conversion: how long `pmo-sync db upgrade` takes to give a store
filled before the portfolio facts (migration 0012) the facts its raw payloads hold.

For each size N the bench

1. builds a store of N Jira issues as a sync writes them (`convert_issue` of search payloads
   with their changelog, loaded through `Store.load_items`, so `raw_records` holds each
   issue's compressed payload): one epic in 50, the rest stories under them; each with a
   priority and a LexoRank, half with a due date that moved once, one in five planned for
   one of four fix versions, one in ten blocking the next issue, and ten status changes;
   the site cache holds the Rank field's id, as a synced store's does;
2. puts it as a store of before 0012 holds it (not measured): the portfolio columns empty,
   no links, releases or date changes, every content hash an older one, the source not yet
   re-converted;
3. times `pmo_sync.sync.reconvert_stored`, what `db upgrade` runs after migrating, and
   checks that every item came through and the facts are there.

Run it from the repository root:

    python bench/reconvert.py                      # 10000 issues, a SQLite file in a temp dir
    python bench/reconvert.py --items 10000 100000
    python bench/reconvert.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text, update

from connectors.jira import JiraConfig
from connectors.jira.convert import IssueContext, JiraFieldIds, convert_issue
from connectors.jira.streams import SiteBookmark
from pmo_sync.store.engine import make_engine, upgrade
from pmo_sync.store.models import (
    ItemChangeRow,
    ItemLinkRow,
    ItemReleaseRow,
    ReleaseRow,
    SourceRow,
    WorkItemRow,
)
from pmo_sync.store.repository import Store
from pmo_sync.sync import reconvert_stored

URL = "https://acme.atlassian.net"
RANK = "customfield_10019"
FIELD_IDS = JiraFieldIds(sprint=None, story_points=None, flagged=None, rank=RANK)
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
STATUSES = ("To Do", "In Progress", "In Review", "Done")
BLOCKS = {"id": "1", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def issue(i: int) -> dict[str, Any]:
    """Issue number `i` as Jira's search returns it with `expand=changelog`."""
    created = START + timedelta(hours=i % 2000)
    epic = i % 50 == 0
    histories = []
    for n in range(10):
        at = created + timedelta(hours=n + 1)
        frm, to = STATUSES[n % 4], STATUSES[(n + 1) % 4]
        histories.append(
            {
                "id": str(i * 20 + n),
                "created": _stamp(at),
                "author": {"accountId": "a-1"},
                "items": [{"field": "status", "fieldId": "status",
                           "fromString": frm, "toString": to}],
            }
        )  # fmt: skip
    due = None
    if i % 2 == 0:
        due = f"2026-{3 + i % 9:02d}-{1 + i % 28:02d}"
        histories.append(
            {
                "id": str(i * 20 + 10),
                "created": _stamp(created + timedelta(hours=12)),
                "author": {"accountId": "a-1"},
                "items": [{"field": "duedate", "fieldId": "duedate", "from": "2026-02-27",
                           "fromString": "2026-02-27 00:00:00.0", "to": due,
                           "toString": f"{due} 00:00:00.0"}],
            }
        )  # fmt: skip
    versions = []
    if i % 5 == 0:
        v = i % 4
        versions = [{"id": f"30{v}", "name": f"2026.{v + 1}", "releaseDate": f"2026-0{v + 3}-30",
                     "released": v < 2, "archived": False}]  # fmt: skip
    links = []
    if i % 10 == 0:
        links = [{"id": str(i), "type": BLOCKS,
                  "outwardIssue": {"id": str(100_001 + i), "key": f"ABC-{i + 2}"}}]  # fmt: skip
    return {
        "id": str(100_000 + i),
        "key": f"ABC-{i + 1}",
        "fields": {
            "summary": f"Issue {i + 1}",
            "issuetype": {"name": "Epic", "hierarchyLevel": 1}
            if epic
            else {"name": "Story", "hierarchyLevel": 0},
            "status": {"name": STATUSES[2], "statusCategory": {"key": "indeterminate"}},
            "project": {"key": "ABC"},
            "created": _stamp(created),
            "updated": _stamp(created + timedelta(days=1)),
            "resolutiondate": None,
            "assignee": {"accountId": f"u-{i % 40}"},
            "labels": ["bench"],
            "parent": None if epic else {"key": f"ABC-{i - i % 50 + 1}"},
            "description": None,
            "duedate": due,
            "priority": {"name": ("High", "Medium", "Low")[i % 3]},
            "fixVersions": versions,
            "issuelinks": links,
            RANK: f"0|i{i:05d}:",
        },
        "changelog": {"startAt": 0, "maxResults": 100, "total": len(histories),
                      "histories": histories},
    }  # fmt: skip


def build(url: str, size: int, config: JiraConfig) -> Store:
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    source = store.ensure_source(config.name, "jira", URL)
    ctx = IssueContext(URL, FIELD_IDS, {}, {})
    for start in range(0, size, 1000):
        raws = [issue(i) for i in range(start, min(size, start + 1000))]
        store.load_items(
            source, [convert_issue(r, r["changelog"]["histories"], ctx) for r in raws], store.now()
        )
    site = SiteBookmark(store.now(), "UTC", "bot", FIELD_IDS, ())
    store.set_bookmark(source, "site", site.to_json())
    with engine.begin() as conn:  # as a store of before 0012 holds it
        items = WorkItemRow.__table__
        conn.execute(
            update(items).values(
                level=None, due_date=None, priority=None, rank=None, content_hash="v5"
            )
        )
        for table in (ItemLinkRow, ItemReleaseRow, ReleaseRow):
            conn.execute(table.__table__.delete())
        conn.execute(ItemChangeRow.__table__.delete().where(ItemChangeRow.field == "due_date"))
        conn.execute(update(SourceRow.__table__).values(converted_version=None))
    return store


def measure(url: str, size: int) -> dict[str, Any]:
    os.environ.setdefault("PMO_SYNC_BENCH_TOKEN", "bench")
    config = JiraConfig.model_validate(
        {"name": "bench-jira", "kind": "jira", "url": URL, "email": "pmo@acme.example",
         "token": "${PMO_SYNC_BENCH_TOKEN}", "jql": "project = ABC"}
    )  # fmt: skip
    store = build(url, size, config)
    started = time.perf_counter()
    (result,) = reconvert_stored([config], store)
    seconds = time.perf_counter() - started
    with store.engine.connect() as conn:
        ranked = conn.execute(
            select(func.count()).select_from(WorkItemRow).where(WorkItemRow.rank.is_not(None))
        ).scalar_one()
        links = conn.execute(select(func.count()).select_from(ItemLinkRow)).scalar_one()
    assert (result.items, result.skipped, ranked) == (size, [], size), result
    assert links == size // 10 + (size % 10 > 0), links
    store.engine.dispose()
    return {
        "items": size,
        "seconds": round(seconds, 2),
        "items_per_s": round(size / seconds),
        "changes_added": result.changes_added,
        "releases_added": result.releases_added,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000])
    parser.add_argument("--database-url", help="a PostgreSQL database (a schema is made)")
    args = parser.parse_args()
    for size in args.items:
        if args.database_url:
            schema = f"bench_reconvert_{uuid.uuid4().hex[:8]}"
            admin = make_engine(args.database_url)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            url = f"{args.database_url}?options=-csearch_path%3D{schema}"
            try:
                figures = measure(url, size)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
            where = "postgresql"
        else:
            with tempfile.TemporaryDirectory() as tmp:
                figures = measure(f"sqlite:///{tmp}/bench.sqlite3", size)
            where = "sqlite"
        print(
            f"{where}: {figures['items']:,} items re-converted in {figures['seconds']} s "
            f"({figures['items_per_s']:,} items/s; {figures['changes_added']:,} date changes "
            f"and {figures['releases_added']} releases added)"
        )


if __name__ == "__main__":
    main()
