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
from pmo_sync.dashboard.pages.sprints import build_sprints
from pmo_sync.dashboard.pages.team import build_team
from pmo_sync.dashboard.reads import DashboardReads
from pmo_sync.dashboard.reads_flow import FlowReads
from pmo_sync.dashboard.reads_portfolio import FilterChoices, PortfolioReads
from pmo_sync.dashboard.security import CONTENT_SECURITY_POLICY, add_security_headers

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
) -> Flask:
    """The application; `auth=None` serves the pages to anyone who reaches the port (loopback)."""
    app = Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False
    reads = DashboardReads(engine)
    portfolio_reads = PortfolioReads(engine)
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
