"""One function per chart kind, each returning the Plotly figure (data and layout) it draws.

A figure is plain JSON-ready data: the page embeds it in a
`<script type="application/json">` block and `static/dashboard.js` hands it to
Plotly, so no chart needs a script of its own (the pages allow no inline
script). Every chart names its series, so a browser test can count them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Chart",
    "Dot",
    "Series",
    "aging_chart",
    "bar_chart",
    "burn_chart",
    "cfd_chart",
    "distribution_chart",
    "forecast_history_chart",
    "run_chart",
    "scatter_chart",
    "sparkline",
    "theme_share_chart",
    "velocity_chart",
]

Figure = dict[str, Any]

_FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}


@dataclass(frozen=True, slots=True)
class Series:
    """One named line or set of points: x and y of equal length."""

    name: str
    x: Sequence[Any]
    y: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart on a page: its DOM id, kind, title and the figure Plotly draws."""

    id: str
    kind: str
    title: str
    figure: Figure
    description: str = ""
    series_count: int = field(default=0)
    point_count: int = field(default=0)


def _layout(title: str, *, height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}} if title else None,
        "height": height,
        "margin": {"l": 48, "r": 16, "t": 36 if title else 8, "b": 36},
        "font": _FONT,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.2},
    }
    layout.update(extra)
    return {k: v for k, v in layout.items() if v is not None}


def _chart(chart_id: str, kind: str, title: str, data: list[dict[str, Any]], layout: dict[str, Any],
           description: str = "") -> Chart:  # fmt: skip
    points = sum(len(trace.get("x") or trace.get("y") or ()) for trace in data)
    return Chart(
        id=chart_id,
        kind=kind,
        title=title,
        figure={"data": data, "layout": layout},
        description=description,
        series_count=len(data),
        point_count=points,
    )


def sparkline(chart_id: str, series: Series) -> Chart:
    """A trend in a table cell: one line, no axes, the last point marked."""
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": series.name,
            "x": list(series.x),
            "y": list(series.y),
            "line": {"width": 1.5, "color": "#3b6ea5"},
            "hovertemplate": "%{x}: %{y}<extra></extra>",
        }
    ]
    layout = {
        "height": 32,
        "width": 140,
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "xaxis": {"visible": False},
        "yaxis": {"visible": False, "rangemode": "tozero"},
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    return _chart(chart_id, "sparkline", "", data, layout)


def run_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    y_title: str,
    bars: bool = False,
    description: str = "",
) -> Chart:
    """Values over time (throughput per day, WIP per day): bars or lines, one trace a series."""
    data = [
        {
            "type": "bar" if bars else "scatter",
            **({} if bars else {"mode": "lines"}),
            "name": s.name,
            "x": list(s.x),
            "y": list(s.y),
        }
        for s in series
    ]
    layout = _layout(title, height=280, yaxis={"title": {"text": y_title}, "rangemode": "tozero"})
    return _chart(chart_id, "run", title, data, layout, description)


# -- the team and sprint pages' chart kinds -------------------------------------------------------

_PERCENTILE_COLOURS = {50: "#2e7d32", 70: "#9e9d24", 85: "#ef6c00", 95: "#c62828"}


@dataclass(frozen=True, slots=True)
class Dot:
    """One item on a scatter: where it sits, and the key, title and link its hover and click use."""

    x: Any
    y: float
    key: str
    title: str
    url: str


def _dots(name: str, dots: Sequence[Dot], **extra: Any) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "x": [d.x for d in dots],
        "y": [d.y for d in dots],
        "customdata": [[d.key, d.title, d.url] for d in dots],
        "hovertemplate": "%{customdata[0]}: %{customdata[1]}<br>%{y:.1f} d<extra></extra>",
        **extra,
    }


def _level_lines(levels: dict[int, float], x: Sequence[Any]) -> list[dict[str, Any]]:
    """One horizontal line a percentile, across `x`'s first and last value."""
    ends = [x[0], x[-1]] if x else []
    return [
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"p{p}",
            "x": ends,
            "y": [value] * len(ends),
            "line": {"dash": "dot", "width": 1, "color": _PERCENTILE_COLOURS.get(p, "#777")},
            "hovertemplate": f"p{p}: %{{y:.1f}} d<extra></extra>",
        }
        for p, value in sorted(levels.items())
    ]


def cfd_chart(
    chart_id: str, title: str, stages: Sequence[Series], *, description: str = ""
) -> Chart:
    """Cumulative flow: one stacked area a stage; `stages` in workflow order, drawn last-first
    so the done band is at the bottom and the earliest stage on top, as a CFD reads."""
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "stackgroup": "cfd",
            "name": s.name,
            "x": list(s.x),
            "y": list(s.y),
            "line": {"width": 0.5},
        }
        for s in reversed(stages)
    ]
    layout = _layout(title, height=320, yaxis={"title": {"text": "items"}, "rangemode": "tozero"})
    return _chart(chart_id, "cfd", title, data, layout, description)


def scatter_chart(
    chart_id: str,
    title: str,
    dots: Sequence[Dot],
    levels: dict[int, float],
    *,
    name: str,
    y_title: str,
    description: str = "",
) -> Chart:
    """Items as dots (click opens the tracker) with horizontal percentile lines across the dates."""
    xs = sorted(d.x for d in dots)
    data = [_dots(name, dots), *_level_lines(levels, xs)]
    layout = _layout(title, height=320, yaxis={"title": {"text": y_title}, "rangemode": "tozero"})
    return _chart(chart_id, "scatter", title, data, layout, description)


def aging_chart(
    chart_id: str,
    title: str,
    columns: Sequence[str],
    dots: Sequence[Dot],
    bands: dict[int, float],
    *,
    description: str = "",
) -> Chart:
    """Open items by current stage (x, in order) at their age (y), over bands of cycle time:
    each percentile a filled band from the one below, so an item's colour says how late it is."""
    data: list[dict[str, Any]] = []
    for index, (p, value) in enumerate(sorted(bands.items())):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"p{p}",
                "x": list(columns),
                "y": [value] * len(columns),
                "fill": "tozeroy" if index == 0 else "tonexty",
                "fillcolor": _PERCENTILE_COLOURS.get(p, "#777") + "22",
                "line": {"width": 1, "color": _PERCENTILE_COLOURS.get(p, "#777")},
                "hovertemplate": f"p{p}: %{{y:.1f}} d<extra></extra>",
            }
        )
    data.append(_dots("open items", dots, marker={"size": 9, "color": "#1f3b57"}))
    layout = _layout(
        title,
        height=320,
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": list(columns)},
        yaxis={"title": {"text": "age (days)"}, "rangemode": "tozero"},
    )
    return _chart(chart_id, "aging", title, data, layout, description)


def bar_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    x_title: str,
    y_title: str,
    kind: str = "bars",
    percent: bool = False,
    description: str = "",
) -> Chart:
    """Bars (a histogram's bins, a distribution's shares), one trace a named series."""
    data = [{"type": "bar", "name": s.name, "x": list(s.x), "y": list(s.y)} for s in series]
    yaxis: dict[str, Any] = {"title": {"text": y_title}, "rangemode": "tozero"}
    if percent:
        yaxis["tickformat"] = ".0%"
    layout = _layout(title, height=280, xaxis={"title": {"text": x_title}}, yaxis=yaxis)
    return _chart(chart_id, kind, title, data, layout, description)


def distribution_chart(
    chart_id: str,
    title: str,
    shares: Series,
    marks: dict[int, Any],
    *,
    x_title: str,
    description: str = "",
) -> Chart:
    """A Monte Carlo outcome: share of trials per value, the stored percentiles as lines."""
    chart = bar_chart(
        chart_id, title, [shares], x_title=x_title, y_title="share of trials", kind="distribution",
        percent=True, description=description,
    )  # fmt: skip
    top = max((v for v in shares.y if v is not None), default=0.0)
    lines = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"p{p}",
            "x": [x, x],
            "y": [0, top],
            "line": {"dash": "dot", "width": 1, "color": _PERCENTILE_COLOURS.get(p, "#777")},
            "hovertemplate": f"p{p}: %{{x}}<extra></extra>",
        }
        for p, x in sorted(marks.items())
        if x is not None
    ]
    data = [*chart.figure["data"], *lines]
    return _chart(chart_id, "distribution", title, data, chart.figure["layout"], description)


def burn_chart(
    chart_id: str, title: str, series: Sequence[Series], *, kind: str, description: str = ""
) -> Chart:
    """A sprint's points per day (burndown: remaining; burnup: done, scope): a line a series."""
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": s.name, "x": list(s.x), "y": list(s.y)}
        for s in series
    ]
    layout = _layout(title, height=280, yaxis={"title": {"text": "points"}, "rangemode": "tozero"})
    return _chart(chart_id, kind, title, data, layout, description)


def velocity_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Series],
    line: Series | None,
    *,
    description: str = "",
) -> Chart:
    """Commitment beside completion per sprint (grouped bars), the stored velocity as a line."""
    data: list[dict[str, Any]] = [
        {"type": "bar", "name": s.name, "x": list(s.x), "y": list(s.y)} for s in bars
    ]
    if line is not None:
        data.append(
            {"type": "scatter", "mode": "lines+markers", "name": line.name,
             "x": list(line.x), "y": list(line.y)}
        )  # fmt: skip
    layout = _layout(
        title,
        height=300,
        barmode="group",
        xaxis={"type": "category"},
        yaxis={"title": {"text": "points"}, "rangemode": "tozero"},
    )
    return _chart(chart_id, "velocity", title, data, layout, description)


# -- the portfolio pages' chart kinds -------------------------------------------------------------


def forecast_history_chart(
    chart_id: str,
    title: str,
    days: Sequence[str],
    dates: dict[int, Sequence[str | None]],
    due: str | None,
    *,
    description: str = "",
) -> Chart:
    """A request's forecast over time: one line a percentile (the date it said, on the day
    it said it; a gap where it was beyond the horizon), the due date as a dashed flat line."""
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": f"p{p}",
            "x": list(days),
            "y": list(values),
            "line": {"color": _PERCENTILE_COLOURS.get(p, "#777"), "shape": "hv"},
            "hovertemplate": f"%{{x}}: p{p} %{{y}}<extra></extra>",
        }
        for p, values in sorted(dates.items())
    ]
    if due is not None and days:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "due date",
                "x": [days[0], days[-1]] if len(days) > 1 else [days[0]],
                "y": [due, due] if len(days) > 1 else [due],
                "line": {"dash": "dash", "width": 1.5, "color": "#555"},
                "hovertemplate": f"due {due}<extra></extra>",
            }
        )
    layout = _layout(
        title,
        height=300,
        xaxis={"type": "date", "title": {"text": "forecast made on"}},
        yaxis={"type": "date", "title": {"text": "done by"}},
    )
    return _chart(chart_id, "forecast-history", title, data, layout, description)


def theme_share_chart(
    chart_id: str,
    title: str,
    themes: Sequence[str],
    shares: Sequence[Series],
    targets: Sequence[float | None],
    *,
    description: str = "",
) -> Chart:
    """Each theme's shares (grouped bars, one trace a measure, in percent) and its target
    share as a marker on the same axis; a theme without a target has no marker (and with
    no target at all there is no marker series: nothing to draw)."""
    data: list[dict[str, Any]] = [
        {"type": "bar", "name": s.name, "x": list(themes), "y": list(s.y)} for s in shares
    ]
    if any(t is not None for t in targets):
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "target",
                "x": list(themes),
                "y": list(targets),
                "marker": {
                    "symbol": "line-ew-open",
                    "size": 36,
                    "color": "#222",
                    "line": {"width": 3},
                },
                "hovertemplate": "%{x}: target %{y}%<extra></extra>",
            }
        )
    layout = _layout(
        title,
        height=300,
        barmode="group",
        xaxis={"type": "category"},
        yaxis={"title": {"text": "% of the work"}, "rangemode": "tozero", "ticksuffix": "%"},
    )
    return _chart(chart_id, "themes", title, data, layout, description)
