"""The dashboard as a Flask application: routes, templates, security headers, authentication.

`create_app` takes how to reach the store (an engine opened to read) and
what else to serve beside the pages (the service's `/healthz`, `/readyz` and
`/metrics` blueprint), so `serve` and `dashboard` run one application on one
port. Every route is a GET: nothing here writes to the store or a tracker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

from flask import Blueprint, Flask, Response, abort, render_template, request, url_for
from sqlalchemy import Engine
from werkzeug.exceptions import MethodNotAllowed

from pmo_sync.dashboard.assets import plotly_js
from pmo_sync.dashboard.auth import DashboardAuth
from pmo_sync.dashboard.filters import DEFAULT_WINDOW_DAYS, WINDOW_CHOICES, Filters
from pmo_sync.dashboard.formatting import format_days, format_moment
from pmo_sync.dashboard.pages.epics import build_epic, build_epics
from pmo_sync.dashboard.pages.governance import NO_TEAM, build_governance
from pmo_sync.dashboard.pages.portfolio import SEVERITIES_SHOWN, build_portfolio
from pmo_sync.dashboard.pages.requests import build_request, build_requests
from pmo_sync.dashboard.pages.sprints import build_sprints
from pmo_sync.dashboard.pages.strategy import build_strategy
from pmo_sync.dashboard.pages.team import build_team
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_flow import FlowReads
from pmo_sync.dashboard.reads_portfolio import FilterChoices, PortfolioReads
from pmo_sync.dashboard.reads_requests import RequestReads, SettingsSource
from pmo_sync.dashboard.security import CONTENT_SECURITY_POLICY, add_security_headers
from pmo_sync.portfolio.words import percent

__all__ = ["create_app"]

Today = Callable[[], date]


def _utc_today() -> date:
    return datetime.now(UTC).date()


def create_app(
    engine: Engine,
    *,
    auth: DashboardAuth | None = None,
    extra: Iterable[Blueprint] = (),
    today: Today = _utc_today,
    settings: SettingsSource | None = None,
) -> Flask:
    """The application; `auth=None` serves the pages to anyone who reaches the port (loopback).

    `settings` are kpis.yaml and portfolio.yaml as the serving command loaded them (or a
    function returning the current ones): the requests and strategy pages answer with them
    as `pmo-sync portfolio` does (None: the defaults, as with neither file)."""
    app = Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False
    reads = DashboardReads(engine)
    portfolio_reads = PortfolioReads(engine)
    request_reads = RequestReads(engine, settings)
    app.extensions["pmo_sync.requests"] = request_reads
    open_paths = {"/healthz", "/readyz", "/metrics"}

    for blueprint in extra:
        app.register_blueprint(blueprint)
    if not any(rule.rule == "/healthz" for rule in app.url_map.iter_rules()):
        # `pmo-sync dashboard` alone: the image's healthcheck asks /healthz of any process

        @app.get("/healthz")
        def healthz() -> Response:
            return Response("ok\n", mimetype="text/plain")

    @app.before_request
    def _authenticate() -> Response | None:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
        if auth is None or request.path in open_paths:
            return None
        return auth.challenge(request)

    app.after_request(add_security_headers)

    @app.context_processor
    def _common() -> dict[str, object]:
        filters = Filters.from_args(request.args)
        return {
            "filters": filters,
            "link": lambda endpoint, **values: url_for(endpoint, **values) + filters.query(),
            "days": format_days,
            "moment": format_moment,
            "generated": f"as stored at {format_moment(datetime.now(UTC))}",
            "inline": None,
            "window_choices": WINDOW_CHOICES,
            "default_window": DEFAULT_WINDOW_DAYS,
            "severities": SEVERITIES_SHOWN,
            "csp": CONTENT_SECURITY_POLICY,
        }

    @app.context_processor
    def _filter_choices() -> dict[str, object]:
        return {"filter_choices": FilterChoices(reads.team_names, portfolio_reads.source_names)}

    @app.get("/")
    def portfolio() -> str:
        filters = Filters.from_args(request.args)
        page = build_portfolio(reads, filters, reads.as_of() or today(), portfolio_reads)
        return render_template("portfolio.html", page=page)

    @app.get("/epics")
    def epics() -> str:
        filters = Filters.from_args(request.args)
        number = request.args.get("page", "1")
        page = build_epics(
            reads, portfolio_reads, filters, request.args.get("q", ""),
            int(number) if number.isdigit() else 1,
        )  # fmt: skip
        return render_template("epics.html", page=page)

    @app.get("/epics/<path:key>")
    def epic(key: str) -> str | tuple[str, int]:
        page = build_epic(reads, portfolio_reads, Filters.from_args(request.args), key)
        if page is None:
            return render_template("epic.html", page=None, key=key), 404
        return render_template("epic.html", page=page, key=key)

    def _answers_choices(teams: list[str]) -> FilterChoices:
        """The filter bar of the portfolio answers' pages: their teams (the items', as
        `portfolio --team` takes them), known before any KPI refresh."""
        return FilterChoices(lambda: teams, portfolio_reads.source_names)

    @app.get("/requests")
    def requests() -> str:
        filters = Filters.from_args(request.args)
        computed = request_reads.computed(reads.as_of() or today())
        page = build_requests(request_reads, computed, filters, request.args.get("theme"))
        return render_template(
            "requests.html", page=page, filter_choices=_answers_choices(computed.team_names)
        )

    @app.get("/requests/<source>/<path:key>")
    def request_page(source: str, key: str) -> tuple[str, int] | str:
        computed = request_reads.computed(reads.as_of() or today())
        ref = request_reads.find(computed, source, key)
        if ref is None:
            return render_template("request.html", page=None, source=source, key=key), 404
        page = build_request(request_reads, computed, ref)
        return render_template("request.html", page=page, percent=percent)

    @app.get("/portfolio/strategy")
    def strategy() -> str:
        filters = Filters.from_args(request.args)
        computed = request_reads.computed(reads.as_of() or today())
        page = build_strategy(request_reads, computed, reads, filters)
        return render_template(
            "strategy.html", page=page, filter_choices=_answers_choices(computed.team_names)
        )

    @app.get("/governance")
    def governance() -> str:
        filters = Filters.from_args(request.args)
        page = build_governance(reads, portfolio_reads, filters, request.args)
        return render_template("governance.html", page=page, no_team=NO_TEAM)

    @app.get("/teams/<team>")
    def team(team: str) -> str:
        filters = Filters.from_args(request.args)
        page = build_team(reads, FlowReads(engine), team, filters, reads.as_of() or today())
        return render_template("team.html", page=page) if page else abort(404)

    @app.get("/teams/<team>/sprints")
    def sprints(team: str) -> str:
        filters, wanted = Filters.from_args(request.args), request.args.get("sprint")
        page = build_sprints(reads, team, filters, reads.as_of() or today(), wanted)
        return render_template("sprints.html", page=page) if page else abort(404)

    @app.get("/static/plotly.min.js")
    def plotly() -> Response:
        response = Response(plotly_js(), mimetype="text/javascript")
        response.cache_control.max_age = 86400
        response.cache_control.public = True
        return response

    return app
