"""Whether a table fits the console, so a renderer can choose a stacked layout when it does not.

A Rich table narrower than its content cuts every cell to `sand…`; each
renderer that prints a table for people checks `fits` first and, on a narrow
terminal (80 columns), prints the same facts as short lines instead.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.measure import Measurement

__all__ = ["fits"]


def fits(console: Console, renderable: RenderableType) -> bool:
    """True when `renderable` fits `console.width` with every row on one line.

    Rich would wrap a cell at its spaces, then cut it; a table wrapped into
    `ABC` / `Sprint` / `11` is barely better than a cut one, so a table fits
    only at its natural width.
    """
    unbounded = console.options.update_width(1_000_000)  # measured, not clamped to the console
    return Measurement.get(console, unbounded, renderable).maximum <= console.width
