// The audit page's charts (served from this gateway; the CSP allows nothing inline).
// Reads #audit-charts[data-src] (a JSON endpoint that is itself an audited read) and
// draws three Apache ECharts charts: queries and denials per day, rows released per
// department, alerts per rule. Labels come from data-label-* (the message catalog).
(function () {
  "use strict";

  function bar(element, labels, series) {
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      legend: { show: series.length > 1, top: 0 },
      grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: labels, axisLabel: { rotate: 30 } },
      yAxis: { type: "value", minInterval: 1 },
      series: series.map(function (s) { return { type: "bar", name: s.name, data: s.data }; }),
      tooltip: { trigger: "axis" }
    });
  }

  function draw(root, data) {
    var label = function (name) { return root.getAttribute("data-label-" + name) || name; };
    bar(document.getElementById("chart-per-day"), data.per_day.labels, [
      { name: label("queries"), data: data.per_day.queries },
      { name: label("denials"), data: data.per_day.denials }
    ]);
    bar(document.getElementById("chart-released"), data.released.labels,
        [{ name: label("rows"), data: data.released.values }]);
    bar(document.getElementById("chart-alerts"), data.alerts.labels,
        [{ name: label("alerts"), data: data.alerts.values }]);
    root.setAttribute("data-drawn", "true");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("audit-charts");
    if (!root || typeof window.echarts === "undefined") {
      return;
    }
    fetch(root.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("charts: HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) { draw(root, data); })
      .catch(function (error) { root.setAttribute("data-error", String(error)); });
  });
})();
