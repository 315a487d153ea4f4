"""The governance page: the findings `pmo-sync findings` lists, counted, filtered and linked."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from markupsafe import escape
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.pages.governance import GovernancePage, build_governance
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_portfolio import PortfolioReads
from pmo_sync.store.findings import read_findings

from . import tiny_portfolio as tiny


@pytest.fixture
def tiny_engine(engine: Engine) -> Engine:
    return tiny.fill(engine)


def _page(engine: Engine, filters: Filters | None = None, **args: str) -> GovernancePage:
    reads, portfolio = DashboardReads(engine), PortfolioReads(engine)
    return build_governance(reads, portfolio, filters or Filters(), args)


def _keys(html: str) -> list[str]:
    return re.findall(r'<th scope="row" data-key="([^"]+)"', html)


def _cell(html: str, table: str, row: str, severity: str) -> int:
    block = re.search(rf'<table data-table="{table}">(.*?)</table>', html, re.S)
    assert block is not None
    line = re.search(rf'<tr data-[a-z-]+="{re.escape(row)}">(.*?)</tr>', block.group(1), re.S)
    assert line is not None, row
    cell = re.search(rf'data-severity="{severity}">(\d+)<', line.group(1))
    assert cell is not None
    return int(cell.group(1))


def test_open_findings_are_counted_by_team_rule_and_severity(tiny_engine: Engine) -> None:
    page = _page(tiny_engine)
    assert [f.identity for f in page.findings] == ["f2", "f1", "f3"]  # the CLI's order; f4 resolved
    assert page.by_team == {
        "Platform": Counter(critical=1),
        "Team Alpha (jira)": Counter(warning=1),
        "Team Beta": Counter(info=1),
    }
    assert page.by_rule == {
        "estimate-committed": Counter(critical=1),
        "sprint-scope-added": Counter(info=1),
        "stale-in-progress": Counter(warning=1),
    }
    html = create_app(tiny_engine).test_client().get("/governance").get_data(as_text=True)
    assert _keys(html) == ["101", "C-3", "Sprint 7"]
    assert _cell(html, "by-team", "Platform", "critical") == 1
    assert _cell(html, "by-team", "Platform", "warning") == 0
    assert _cell(html, "by-rule", "stale-in-progress", "total") == 1
    row = re.search(r'<tr data-finding="f1".*?</tr>', html, re.S)
    assert row is not None
    assert f'<a href="{tiny.url("jira", "C-3")}"' in row.group(0)
    assert "Totals round wrong" in row.group(0) and "C-3 is stale" in row.group(0)
    assert "<td>advisory</td>" in row.group(0)
    assert '<td class="date">2026-11-20</td>' in row.group(0)


def test_filters_from_the_url_narrow_the_findings(tiny_engine: Engine) -> None:
    client = create_app(tiny_engine).test_client()

    def keys(url: str) -> list[str]:
        return _keys(client.get(url).get_data(as_text=True))

    assert keys("/governance?severity=critical") == ["101"]
    assert keys("/governance?rule=stale-in-progress") == ["C-3"]
    assert keys("/governance?rule=stale_in_progress") == ["C-3"]  # the rule's name works too
    assert keys("/governance?team=Team+Beta") == ["Sprint 7"]
    assert keys("/governance?source=jira") == ["C-3"]  # a sprint finding has no single source
    assert keys("/governance?source=jira&severity=critical") == []
    html = client.get("/governance?team=Nobody").get_data(as_text=True)
    assert "No team is called “Nobody”" in html and _keys(html) == ["101", "C-3", "Sprint 7"]
    html = client.get("/governance?severity=warning").get_data(as_text=True)
    assert 'href="/governance?team=Team+Alpha+%28jira%29&amp;severity=warning"' in html


# -- the sandboxes' store -------------------------------------------------------------------------


def test_every_open_finding_of_the_store_is_on_the_page(sandbox_engine: Engine) -> None:
    stored = list(read_findings(sandbox_engine))
    assert stored
    html = create_app(sandbox_engine).test_client().get("/governance").get_data(as_text=True)
    for finding in stored:
        identity = str(escape(finding.identity))  # as the template writes it
        row = re.search(rf'<tr data-finding="{re.escape(identity)}".*?</tr>', html, re.S)
        assert row is not None, finding.identity
        assert f'data-key="{escape(finding.scope_key)}"' in row.group(0)
        assert escape(finding.message) in row.group(0)
        if finding.url:
            assert f'<a href="{finding.url}"' in row.group(0)
    assert len(re.findall(r"<tr data-finding=", html)) == len(stored)
    by_severity = Counter(f.severity for f in stored)
    for severity, count in by_severity.items():
        total = sum(
            int(n)
            for n in re.findall(
                rf'data-severity="{severity}">(\d+)<',
                re.search(r'<table data-table="by-team">.*?</table>', html, re.S).group(0),  # type: ignore[union-attr]
            )
        )
        assert total == count


def test_team_and_severity_filters_change_the_content(sandbox_engine: Engine) -> None:
    client = create_app(sandbox_engine).test_client()
    stored = list(read_findings(sandbox_engine))
    # The first finding of a team (a theme's findings, portfolio-wide, have none).
    team = next(f.team for f in stored if f.team)
    html = client.get("/governance", query_string={"team": team}).get_data(as_text=True)
    expected = [f.scope_key for f in read_findings(sandbox_engine, team=team)]
    assert _keys(html) == expected and len(expected) < len(stored)
    html = client.get("/governance?severity=info").get_data(as_text=True)
    assert _keys(html) == [f.scope_key for f in stored if f.severity == "info"]


def test_the_list_is_cut_in_pages_and_the_counts_are_of_every_finding(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pmo_sync.dashboard.pages import governance

    monkeypatch.setattr(governance, "PAGE_SIZE", 2)
    client = create_app(tiny_engine).test_client()
    html = client.get("/governance").get_data(as_text=True)
    assert _keys(html) == ["101", "C-3"]
    assert 'data-total="3"' in html and 'href="/governance?page=2"' in html
    assert _cell(html, "by-team", "Team Beta", "info") == 1  # a finding of page 2
    assert _keys(client.get("/governance?page=2").get_data(as_text=True)) == ["Sprint 7"]
    html = client.get("/governance?page=2&severity=info").get_data(as_text=True)
    assert _keys(html) == ["Sprint 7"] and "page=" not in html  # one page: no pager
