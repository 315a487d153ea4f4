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
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
