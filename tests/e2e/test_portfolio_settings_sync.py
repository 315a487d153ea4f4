"""`pmo-sync sync` takes the dependency link types from portfolio.yaml when the connector file
names none: a Jira sandbox, a connector file without `dependency_link_types`, and a
portfolio.yaml naming `Blocks` and a type whose outward side waits. The links are stored as
the store's convention says (`outward` blocks) on both databases.

The sandbox's site has Jira Cloud's four link types only, so `Cloners` plays the type whose
outward side waits ("A clones B": A waits on B); its phrases stay Jira's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from pmo_sync.cli import err, out
from pmo_sync.sandbox.jira.server import JiraSandbox
from pmo_sync.store.engine import make_engine
from pmo_sync.store.models import ItemLinkRow, WorkItemRow

from ..cli_support import cli_state_restored, run_cli

TOKEN_VARIABLE = "PMO_SYNC_PORTFOLIO_SETTINGS_TOKEN"
PORTFOLIO = """\
dependencies:
  jira_link_types: [Blocks, {name: Cloners, outward: depends_on}]
"""


@pytest.fixture
def config_dir(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config_dir = tmp_path / "config"
    (config_dir / "connectors").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", store_url)
    monkeypatch.setenv("PMO_SYNC_LOG_LEVEL", "WARNING")
    monkeypatch.setattr(out, "width", 160)
    monkeypatch.setattr(err, "width", 160)
    with cli_state_restored():
        yield config_dir


def test_a_sync_stores_the_link_types_only_portfolio_yaml_names(
    config_dir: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with JiraSandbox() as sandbox:
        data = sandbox.dataset
        a, b, c, d = [i.key for i in data.issues if i.project_key == "ABC"][:4]
        data.clock.advance(minutes=5)
        data.link(a, b, "Cloners")  # a clones b: a waits on b
        data.link(c, d)  # c blocks d
        data.link(c, a, "Relates")  # not a dependency type: not stored
        monkeypatch.setenv(TOKEN_VARIABLE, sandbox.token)
        (config_dir / "connectors" / "jira.yaml").write_text(
            f"name: sandbox-jira\nkind: jira\nurl: {sandbox.url}\nemail: {sandbox.email}\n"
            f"token: ${{{TOKEN_VARIABLE}}}\njql: project = ABC\n",
            encoding="utf-8",
        )
        (config_dir / "portfolio.yaml").write_text(PORTFOLIO, encoding="utf-8")
        result = run_cli(["sync"], secrets=[sandbox.token])
    assert result.exit_code == 0, result.stderr
    engine = make_engine(store_url)
    try:
        query = (
            select(WorkItemRow.key, ItemLinkRow.link_type, ItemLinkRow.direction,
                   ItemLinkRow.target_key)
            .join(WorkItemRow, WorkItemRow.id == ItemLinkRow.item_id)
            .where(WorkItemRow.key.in_([a, b, c, d]))
        )  # fmt: skip
        with engine.connect() as conn:
            links = sorted(tuple(row) for row in conn.execute(query))
    finally:
        engine.dispose()
    assert links == sorted(
        [
            (a, "clones", "inward", b),  # a waits on b
            (b, "is cloned by", "outward", a),  # b blocks a
            (c, "blocks", "outward", d),
            (d, "is blocked by", "inward", c),
        ]
    )
