// Draws every chart of the page: each <figure> holds its Plotly figure as a JSON block.
// No inline script anywhere: the Content-Security-Policy allows this file and plotly.min.js only
// (the report file carries both inline, allowed by their hashes).
// In the report file every page is an <article class="report-page">: the one named by the
// anchor is shown, and its charts are drawn when it is first shown (Plotly sizes a chart drawn
// in a hidden element wrong), then resized when it is shown again.
(function () {
  "use strict";

  function drawChart(block) {
    var target = document.getElementById(block.getAttribute("data-figure-for"));
    if (!target || target.hasAttribute("data-drawing")) { return; }
    target.setAttribute("data-drawing", "true");
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
  }

  function drawIn(root) {
    root.querySelectorAll("script[data-figure-for]").forEach(drawChart);
  }

  function resizeIn(root) {
    root.querySelectorAll('.plot[data-drawn="true"]').forEach(function (plot) {
      Plotly.Plots.resize(plot);
    });
  }

  function decoded(text) {
    try { return decodeURIComponent(text); } catch (e) { return text; }
  }

  function showReportPage(pages) {
    var wanted = decoded(window.location.hash.slice(1));
    var shown = null;
    pages.forEach(function (page) {
      if (shown === null && decoded(page.id) === wanted) { shown = page; }
    });
    var missing = document.querySelector("[data-report-missing]");
    if (missing) { missing.hidden = !(wanted && shown === null); }
    if (shown === null) { shown = pages[0]; }
    pages.forEach(function (page) { page.hidden = page !== shown; });
    document.title = shown.getAttribute("data-title") + " · pmo-sync report";
    document.querySelectorAll("header nav a").forEach(function (link) {
      if (link.getAttribute("href") === "#" + shown.id) {
        link.setAttribute("aria-current", "page");
      } else {
        link.removeAttribute("aria-current");
      }
    });
    resizeIn(shown);
    drawIn(shown);
    window.scrollTo(0, 0);
  }

  // Filters live in the URL: a changed filter reloads the page with it, the defaults left out
  // (`?team=Team+Alpha`, not `?team=Team+Alpha&source=&window=90`).
  function wireFilters() {
    document.querySelectorAll("form[data-filters]").forEach(function (form) {
      function submit() {
        form.querySelectorAll("select").forEach(function (select) {
          var option = select.options[select.selectedIndex];
          select.disabled = !select.value || (option && option.hasAttribute("data-default"));
        });
        form.submit();
      }
      form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
      form.querySelectorAll("select").forEach(function (select) {
        select.addEventListener("change", submit);
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

  function start() {
    wireFilters();
    filterRows();
    var pages = Array.prototype.slice.call(document.querySelectorAll("article.report-page"));
    if (pages.length === 0) {
      drawIn(document);
      return;
    }
    window.addEventListener("hashchange", function () { showReportPage(pages); });
    showReportPage(pages);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
