"""Every page of the dashboard in one self-contained HTML file, to e-mail or open offline.

The report renders the application's own templates (so it shows what the
served pages show), in base.html's `inline` mode: the styles, Plotly and
dashboard.js are inside the file, the favicon is a data URL, and a
Content-Security-Policy meta tag allows no origin at all, only the file's own
two scripts by their SHA-256 hashes. Each page is one `<article>` whose id is
the anchor `link()` returns in inline mode (`#team-Team%20Alpha`);
dashboard.js shows the article of the current anchor and draws its charts
when it is first shown (Plotly sizes a hidden chart wrong).

Pages are added in one place, `REPORT_PAGES`: one renderer per kind of page,
each returning the articles of that kind (one per team, per epic, ...).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from flask import Flask, render_template
from markupsafe import Markup
from sqlalchemy import Engine

from pmo_sync.dashboard.app import create_app
from pmo_sync.dashboard.assets import plotly_js
from pmo_sync.dashboard.filters import Filters
from pmo_sync.dashboard.formatting import format_moment
from pmo_sync.dashboard.pages.epics import build_epics
from pmo_sync.dashboard.pages.governance import NO_TEAM, build_governance
from pmo_sync.dashboard.pages.portfolio import build_portfolio
from pmo_sync.dashboard.pages.requests import build_request, build_requests
from pmo_sync.dashboard.pages.sprints import build_sprints
from pmo_sync.dashboard.pages.strategy import build_strategy
from pmo_sync.dashboard.pages.team import build_team
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_flow import FlowReads
from pmo_sync.dashboard.reads_portfolio import PortfolioReads
from pmo_sync.dashboard.reads_requests import RequestReads, SettingsSource
from pmo_sync.portfolio.words import percent

__all__ = [
    "REPORT_PAGES",
    "InlineAssets",
    "Report",
    "ReportArticle",
    "ReportContext",
    "anchor",
    "build_report",
    "report_csp",
    "request_pages",
]


def anchor(endpoint: str, **values: object) -> str:
    """The in-file anchor of a page: its endpoint, then its URL values, each percent-encoded.

    `anchor("portfolio")` is `#portfolio`, `anchor("team", team="Team Alpha")` is
    `#team-Team%20Alpha`: what `link()` returns in the report, and the page's article id.
    """
    parts = [endpoint, *(quote(str(v), safe="") for v in values.values() if v is not None)]
    return "#" + "-".join(parts)


def _script_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def report_csp(scripts: Sequence[str]) -> str:
    """The file's policy: no origin at all (not even the file's own directory), its scripts by
    hash. Styles stay inline (the file's own, and those Plotly adds); `frame-ancestors` is not
    set because a meta tag cannot carry it (browsers say so in the console)."""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src " + " ".join(_script_hash(s) for s in scripts),
            "style-src 'unsafe-inline'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


def _static(name: str) -> str:
    return files("pmo_sync.dashboard").joinpath("static", name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    """A script's text that cannot end its `<script>` element early."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class InlineAssets:
    """What base.html puts inside the file in inline mode (its `inline` variable)."""

    css: str
    plotly: str
    js: str
    favicon: str
    csp: str


@cache
def inline_assets() -> InlineAssets:
    plotly = _script_safe(plotly_js())
    js = _script_safe(_static("dashboard.js"))
    return InlineAssets(
        css=_static("dashboard.css"),
        plotly=plotly,
        js=js,
        favicon=_static("favicon.svg"),
        csp=report_csp((plotly, js)),
    )


@dataclass(frozen=True, slots=True)
class ReportArticle:
    """One page of the report: its anchor (with `#`), its title, its rendered content."""

    anchor: str
    title: str
    html: Markup


_ID_ATTRIBUTES = re.compile(
    r'(?<=\s)(id|for|data-figure-for|aria-controls|aria-describedby|aria-labelledby)="([^"]*)"'
)


def _namespaced_ids(html: str, prefix: str) -> str:
    """Element ids made unique across the file, with the attributes that name them: pages
    render the same ids (a chart's, on every team page), which must not meet in one
    document. Text and JSON cannot match: their quotes are escaped."""
    return _ID_ATTRIBUTES.sub(
        lambda m: f'{m[1]}="{" ".join(f"{prefix}--{i}" for i in m[2].split())}"', html
    )


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What every page renderer gets: the store's reads, the day pages count back from, the
    report's filters (a team, or none) and the Flask app whose templates it renders."""

    app: Flask
    reads: DashboardReads
    today: date
    filters: Filters
    template_context: Mapping[str, Any]
    answers: RequestReads | None = None
    """The portfolio answers (`pmo-sync portfolio`'s), for the requests and strategy pages."""

    @property
    def teams(self) -> list[str]:
        """The teams the report has pages for: the chosen one, or every team."""
        return [self.filters.team] if self.filters.team else self.reads.team_names()

    def article(
        self, title: str, template: str, endpoint: str, values: Mapping[str, object] | None = None,
        **context: Any,
    ) -> ReportArticle:  # fmt: skip
        """One of the app's page templates rendered as the report's page for
        `endpoint(**values)`: its `content` block alone (base.html's `fragment` mode), so the
        file holds one document around every page; the `filters` block is left out, a file has
        no server to submit a filter to."""
        where = anchor(endpoint, **(values or {}))
        html = render_template(template, **{**context, **self.template_context, "fragment": True})
        slug = re.sub(r"[^A-Za-z0-9_-]", "_", where[1:])
        return ReportArticle(where, title, Markup(_namespaced_ids(html, slug)))


PageRenderer = Callable[[ReportContext], list[ReportArticle]]


def portfolio_pages(report: ReportContext) -> list[ReportArticle]:
    page = build_portfolio(report.reads, report.filters, report.today)
    return [report.article("Portfolio", "portfolio.html", "portfolio", page=page)]


def team_pages(report: ReportContext) -> list[ReportArticle]:
    """Each team's flow page, and its sprints page when it runs sprints (the current sprint)."""
    articles: list[ReportArticle] = []
    flow_reads = FlowReads(report.reads.engine)
    for team in report.teams:
        page = build_team(report.reads, flow_reads, team, report.filters, report.today)
        if page is None:
            continue
        articles.append(report.article(team, "team.html", "team", {"team": team}, page=page))
        if page.has_sprints:
            sprints = build_sprints(report.reads, team, report.filters, report.today, None)
            if sprints is not None:
                articles.append(
                    report.article(
                        f"Sprints of {team}", "sprints.html", "sprints", {"team": team},
                        page=sprints,
                    )
                )  # fmt: skip
    return articles


def epics_and_governance_pages(report: ReportContext) -> list[ReportArticle]:
    """Every epic on one page (an epic's key links to its tracker: the file holds no page per
    epic), then the open findings, both of the report's team when it has one."""
    portfolio = PortfolioReads(report.reads.engine)
    epics = build_epics(report.reads, portfolio, report.filters, everything=True)
    findings = build_governance(report.reads, portfolio, report.filters, {}, everything=True)
    return [
        report.article("Epics", "epics.html", "epics", page=epics),
        report.article("Governance", "governance.html", "governance", page=findings,
                       no_team=NO_TEAM),
    ]  # fmt: skip


def request_pages(report: ReportContext) -> list[ReportArticle]:
    """The requests page, the strategy page, then one page per open request listed (of the
    report's team when it has one): each request's page is what a stakeholder is sent."""
    answers = report.answers or RequestReads(report.reads.engine)
    computed = answers.computed(report.today)
    requests = build_requests(answers, computed, report.filters, None)
    strategy = build_strategy(answers, computed, report.reads, report.filters)
    articles = [
        report.article("Requests", "requests.html", "requests", page=requests),
        report.article("Strategy", "strategy.html", "strategy", page=strategy),
    ]
    for group in requests.groups:
        for row in group.rows:
            page = build_request(answers, computed, (row.source, row.key))
            articles.append(
                report.article(
                    f"{row.key} {row.title}", "request.html", "request_page",
                    {"source": row.source, "key": row.key}, page=page, percent=percent,
                )
            )  # fmt: skip
    return articles


REPORT_PAGES: tuple[PageRenderer, ...] = (
    portfolio_pages,
    request_pages,
    team_pages,
    epics_and_governance_pages,
)
"""The report's pages in order, one renderer per kind of page: add a page kind here."""


@dataclass(frozen=True, slots=True)
class Report:
    html: str
    pages: int


def build_report(
    engine: Engine,
    *,
    team: str | None = None,
    now: datetime | None = None,
    pages: Sequence[PageRenderer] = REPORT_PAGES,
    settings: SettingsSource | None = None,
) -> Report:
    """The whole file: every page of `pages` (with `team`, only that team's) as one document.

    `settings` are kpis.yaml and portfolio.yaml for the portfolio answers' pages (None: the
    defaults), as `create_app` takes them."""
    app = create_app(engine, settings=settings)
    reads = DashboardReads(engine)
    written = now or datetime.now(UTC)
    assets = inline_assets()

    def link(endpoint: str, **values: object) -> str:
        return anchor(endpoint, **values)

    with app.test_request_context("/"):
        context = ReportContext(
            app=app,
            reads=reads,
            today=reads.as_of() or written.date(),
            filters=Filters(team=team),
            template_context={
                "inline": assets,
                "link": link,
                "generated": f"report written at {format_moment(written)}",
                "csp": assets.csp,
            },
            answers=app.extensions["pmo_sync.requests"],
        )
        articles = [article for render in pages for article in render(context)]
        html = render_template("report.html", articles=articles, **context.template_context)
    return Report(html=html, pages=len(articles))
