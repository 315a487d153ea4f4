"""The chart library's JavaScript, as installed with the `plotly` Python package.

The pages load it from this server (`/static/plotly.min.js`), the report
file carries it inline: no page ever asks the internet for a script, which
many PMO networks block anyway.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

__all__ = ["plotly_js"]


@cache
def plotly_js() -> str:
    """plotly.min.js from the installed package (read once per process)."""
    return files("plotly").joinpath("package_data", "plotly.min.js").read_text(encoding="utf-8")
