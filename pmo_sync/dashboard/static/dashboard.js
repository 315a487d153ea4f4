// Draws every chart of the page: each <figure> holds its Plotly figure as a JSON block.
// No inline script anywhere: the Content-Security-Policy allows this file and plotly.min.js only.
(function () {
  "use strict";
  function draw() {
    var blocks = document.querySelectorAll("script[data-figure-for]");
    blocks.forEach(function (block) {
      var target = document.getElementById(block.getAttribute("data-figure-for"));
      if (!target) { return; }
      var figure = JSON.parse(block.textContent);
      var config = { displaylogo: false, responsive: true, staticPlot: false };
      if (target.closest(".spark")) { config.displayModeBar = false; }
      Plotly.newPlot(target, figure.data, figure.layout, config).then(function () {
        target.setAttribute("data-drawn", "true");
      });
      target.on && target.on("plotly_click", function (event) {
        var point = event && event.points && event.points[0];
        var url = point && point.customdata && point.customdata[2];
        if (url) { window.open(url, "_blank", "noopener"); }
      });
    });
  }
  // A search box with data-filter-rows="NAME" hides the rows of table[data-table=NAME] whose
  // data-search does not contain what is typed; submitting still searches on the server.
  function filterRows() {
    document.querySelectorAll("input[data-filter-rows]").forEach(function (input) {
      var table = document.querySelector('table[data-table="' + input.getAttribute("data-filter-rows") + '"]');
      if (!table) { return; }
      input.addEventListener("input", function () {
        var needle = input.value.trim().toLowerCase();
        table.querySelectorAll("tbody tr[data-search]").forEach(function (row) {
          row.hidden = needle !== "" && row.getAttribute("data-search").indexOf(needle) < 0;
        });
      });
    });
  }
  function start() { draw(); filterRows(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
