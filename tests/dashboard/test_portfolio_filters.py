"""The portfolio's filter form: every team to choose from, the current filters selected."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.reads import DashboardReads


def _form(html: str) -> str:
    found = re.search(r"<form class=\"filters\".*?</form>", html, re.S)
    assert found is not None
    return found.group(0)


def test_the_form_lists_every_team_and_selects_the_filtered_one(sandbox_engine: Engine) -> None:
    teams = DashboardReads(sandbox_engine).team_names()
    client = create_app(sandbox_engine).test_client()
    form = _form(client.get("/?team=Team+Beta&window=30").get_data(as_text=True))
    assert re.findall(r"<option(?: selected)?>([^<]+)</option>", form) == teams
    assert re.findall(r"<option selected>([^<]+)</option>", form) == ["Team Beta"]
    assert re.findall(r'<option value="(\d+)"[^>]* selected>', form) == ["30"]
    assert re.findall(r'<option value="(\d+)" data-default', form) == ["90"]
    assert 'method="get" action="/"' in form


def test_the_report_has_no_filter_form(sandbox_engine: Engine) -> None:
    """A file has no server to submit a filter to: its pages leave the form out."""
    from pmo_sync.dashboard.report import build_report

    assert "<form" not in build_report(sandbox_engine).html
