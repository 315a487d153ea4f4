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

__all__ = ["Chart", "Series", "run_chart", "sparkline"]

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
