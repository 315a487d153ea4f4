"""`pmo-sync report --html`: one file holding the pages, that names no origin, secret or config."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from sqlalchemy import Engine

from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.report import anchor, build_report, portfolio_pages

from ..dashboard_support import SandboxStore, alpha_as_team_page, cli_on

_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _csp(html: str) -> str:
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert found is not None
    return found.group(1).replace("&#39;", "'")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_anchors_are_the_endpoint_and_its_values_percent_encoded() -> None:
    assert anchor("portfolio") == "#portfolio"
    assert anchor("team", team="Team Alpha") == "#team-Team%20Alpha"
    assert anchor("epic", key="ABC-12/x") == "#epic-ABC-12%2Fx"


def test_the_file_allows_its_two_scripts_by_hash_and_no_origin(
    sandbox_store: SandboxStore, sandbox_engine: Engine, tmp_path: Path
) -> None:
    target = tmp_path / "portfolio.html"
    result = cli_on(sandbox_store, "report", "--html", "-o", str(target))
    assert result.exit_code == 0, result.output
    size = target.stat().st_size
    html = target.read_text(encoding="utf-8")
    ids = re.findall(r'<article class="report-page" id="([^"]+)"', html)
    assert result.stdout == f"wrote {target} ({size / 1_000_000:.1f} MB, {len(ids)} pages)\n"
    scripts = _SCRIPT.findall(html)
    assert len(scripts) == 2  # plotly.min.js, dashboard.js; the figures are JSON blocks
    csp = dict(part.split(" ", 1) for part in _csp(html).split("; "))
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == " ".join(_sha256(s) for s in scripts)
    assert "http" not in _csp(html) and "'self'" not in _csp(html)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"(?!data:|#)", html)
    teams = DashboardReads(sandbox_engine).team_names()
    assert ids[0] == "portfolio" and ids[-2:] == ["epics", "governance"]
    assert [i for i in ids if i.startswith("team-")] == [anchor("team", team=t)[1:] for t in teams]
    assert '<a class="brand" href="#portfolio">' in html
    assert str(sandbox_store.directory) not in html  # neither the store nor the config
    assert "sqlite" not in html and "PMO_SYNC" not in html


def test_a_team_report_holds_that_team_and_an_unknown_team_is_refused_as_kpis_does(
    sandbox_store: SandboxStore, tmp_path: Path
) -> None:
    target = tmp_path / "alpha.html"
    result = cli_on(sandbox_store, "report", "--html", "-o", str(target), "--team", "Team Alpha")
    assert result.exit_code == 0, result.output
    html = target.read_text(encoding="utf-8")
    assert re.findall(r'<tr data-team="([^"]+)">', html) == ["Team Alpha"]
    refused = cli_on(sandbox_store, "report", "--html", "-o", str(target), "--team", "Nobody")
    kpis = cli_on(sandbox_store, "kpis", "--no-refresh", "--team", "Nobody")
    assert (refused.exit_code, refused.stdout) == (2, "")
    assert refused.stderr == kpis.stderr
    assert refused.stderr.startswith("no team 'Nobody' (teams: Atlas, Orion, ")


def test_html_and_a_file_are_required(sandbox_store: SandboxStore, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    no_format = cli_on(sandbox_store, "report", "-o", str(target))
    assert (no_format.exit_code, no_format.stderr) == (
        2,
        "report needs --html (the only format for now)\n",
    )
    no_file = cli_on(sandbox_store, "report", "--html")
    assert (no_file.exit_code, no_file.stderr) == (2, "report needs -o FILE: where to write it\n")
    unwritable = cli_on(sandbox_store, "report", "--html", "-o", str(tmp_path / "no" / "r.html"))
    assert unwritable.exit_code == 2
    assert unwritable.stderr.startswith(f"cannot write {tmp_path / 'no' / 'r.html'}: ")
    assert not target.exists()


def test_every_chart_id_is_unique_across_the_pages(sandbox_engine: Engine) -> None:
    """Two pages drawing the same chart ids (the portfolio, and Team Alpha's portfolio as a
    stand-in team page) still make one valid document: each page's ids are prefixed."""
    written = build_report(sandbox_engine, pages=[portfolio_pages, alpha_as_team_page])
    ids = re.findall(r' id="([^"]+)"', written.html)
    assert len(ids) == len(set(ids))
    assert "portfolio--spark-wip-0" in ids and "team-Team_20Alpha--spark-wip-0" in ids
    assert re.findall(r'data-figure-for="([^"]+-0)"', written.html) == [
        "portfolio--spark-throughput-0",
        "portfolio--spark-wip-0",
        "team-Team_20Alpha--spark-throughput-0",
        "team-Team_20Alpha--spark-wip-0",
    ]
    assert written.pages == 2


def test_ids_and_the_attributes_naming_them_are_prefixed_and_nothing_else() -> None:
    from pmo_sync.dashboard.report import _namespaced_ids

    html = (
        '<label for="q">Search</label><input id="q" aria-describedby="q-help q-note">'
        '<tr data-id="7" data-team="x"><div id="c1" class="plot"></div>'
        '<script type="application/json" data-figure-for="c1">{"id": "c1", "t": "id=\\"c1\\""}'
        "</script><p>a title with id=&#34;c1&#34;</p>"
    )
    assert _namespaced_ids(html, "team-A") == (
        '<label for="team-A--q">Search</label><input id="team-A--q" '
        'aria-describedby="team-A--q-help team-A--q-note">'
        '<tr data-id="7" data-team="x"><div id="team-A--c1" class="plot"></div>'
        '<script type="application/json" data-figure-for="team-A--c1">'
        '{"id": "c1", "t": "id=\\"c1\\""}'
        "</script><p>a title with id=&#34;c1&#34;</p>"
    )
