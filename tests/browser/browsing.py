"""Load a page in the real browser, wait for its charts, read them back from the DOM.

`Browser.open` loads a URL (the served dashboard or the report file), waits
until every `.plot` in view has `data-drawn="true"` (dashboard.js sets it
when Plotly's promise resolves), fails on any SEVERE console entry (with its
message), writes a screenshot and returns each chart as the browser drew it:
its kind, the series Plotly drew in its SVG (`g.trace` groups holding a
drawn path) and the points it holds (`gd.data`), beside the counts the page
announced (`data-series`, `data-points` on the `<figure>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Browser", "DrawnChart"]

WAIT_SECONDS = 30  # a ceiling for a slow machine, not a measurement: nothing asserts a duration

_ALL_DRAWN = """
const root = arguments[0] ? document.querySelector(arguments[0]) : document;
if (document.readyState !== "complete" || root === null) { return false; }
return Array.from(root.querySelectorAll(".plot")).every(
  (plot) => plot.getAttribute("data-drawn") === "true");
"""

_CHARTS = """
const root = arguments[0] ? document.querySelector(arguments[0]) : document;
return Array.from(root.querySelectorAll(".plot")).map((plot) => {
  const figure = plot.closest("figure");
  const drawn = Array.from(plot.querySelectorAll("g.trace")).filter((trace) =>
    Array.from(trace.querySelectorAll("path")).some((p) => (p.getAttribute("d") || "").length > 1));
  const svg = plot.querySelector("svg.main-svg");
  return {
    id: plot.id,
    kind: figure ? figure.getAttribute("data-chart-kind") : null,
    series: drawn.length,
    points: (plot.data || []).reduce((n, t) => n + (t.x || t.y || []).length, 0),
    names: (plot.data || []).map((t) => t.name || ""),
    expected_series: figure ? Number(figure.getAttribute("data-series")) : -1,
    expected_points: figure ? Number(figure.getAttribute("data-points")) : -1,
    width: svg ? Math.round(svg.getBoundingClientRect().width) : 0,
  };
});
"""


@dataclass(frozen=True, slots=True)
class DrawnChart:
    """One chart as the browser drew it, and what the page said it would draw."""

    id: str
    kind: str | None
    series: int
    points: int
    names: list[str]
    expected_series: int
    expected_points: int
    width: int


class Browser:
    """The session's driver bound to one test: its name names the screenshots."""

    def __init__(self, driver: Any, screenshots: Path, test_name: str) -> None:
        self.driver = driver
        self.screenshots = screenshots
        self.test_name = test_name
        self._shots = 0

    def open(self, url: str, *, within: str | None = None) -> list[DrawnChart]:
        """Load `url`; the charts within the `within` CSS selector (default: the page)."""
        self.driver.get(url)
        return self.charts(within)

    def charts(self, within: str | None = None) -> list[DrawnChart]:
        """Wait for the charts in view to be drawn, check the console, take the screenshot."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            WebDriverWait(self.driver, WAIT_SECONDS).until(
                lambda d: d.execute_script(_ALL_DRAWN, within)
            )
        except TimeoutException:
            raise AssertionError(
                f"charts not drawn on {self.driver.current_url} within {within or 'the page'}; "
                f"console: {self.console()}"
            ) from None
        errors = [e["message"] for e in self.console() if e.get("level") == "SEVERE"]
        assert not errors, f"console errors on {self.driver.current_url}: {errors}"
        self.screenshot()
        raw = self.driver.execute_script(_CHARTS, within)
        return [DrawnChart(**chart) for chart in raw]

    def console(self) -> list[dict[str, Any]]:
        """The browser's console entries since the last call (reading them drains them)."""
        entries: list[dict[str, Any]] = self.driver.get_log("browser")
        return entries

    def screenshot(self) -> Path:
        """tests/.screenshots/<test>.png, then <test>-2.png, ... (not committed: gitignored)."""
        self._shots += 1
        suffix = "" if self._shots == 1 else f"-{self._shots}"
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{self.test_name}{suffix}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path

    def script(self, source: str, *args: Any) -> Any:
        return self.driver.execute_script(source, *args)
