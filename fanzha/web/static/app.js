/* Fanzha pages: live updates over server-sent events and ECharts drawing.
 * No inline scripts anywhere (CSP: scripts only from this server). */
(function () {
  "use strict";

  var charts = [];

  function drawCharts() {
    if (typeof echarts === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      fetch(el.getAttribute("data-chart"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (option) {
          if (!option) { return; }
          var chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas" });
          chart.setOption(option, true);
          if (charts.indexOf(chart) < 0) { charts.push(chart); }
          el.setAttribute("data-drawn", "1");
        });
    });
  }

  function toast(text) {
    var box = document.getElementById("toast");
    if (!box) { return; }
    box.textContent = text;
    box.classList.add("show");
    window.setTimeout(function () { box.classList.remove("show"); }, 6000);
  }

  var LEVELS = { zh: { 4: "特危", 3: "高危", 2: "中危", 1: "低危" }, en: { 4: "critical", 3: "high", 2: "medium", 1: "low" } };

  function listen() {
    var unit = document.body.getAttribute("data-sse-unit");
    if (!unit || typeof EventSource === "undefined") { return; }
    var en = (document.body.getAttribute("data-lang") || "").indexOf("en") === 0;
    var source = new EventSource("/api/v1/units/" + encodeURIComponent(unit) + "/events");
    var dot = document.getElementById("live-dot");
    source.onopen = function () { if (dot) { dot.classList.add("on"); } document.body.setAttribute("data-live", "1"); };
    source.onerror = function () { if (dot) { dot.classList.remove("on"); } };
    function changed(kind) {
      return function (message) {
        var data = {};
        try { data = JSON.parse(message.data); } catch (e) { data = {}; }
        if (kind === "issued" || kind === "upgraded") {
          var level = (en ? LEVELS.en : LEVELS.zh)[data.level] || "";
          toast((en ? "New instruction " : "新指令 ") + level + " · " + (data.instruction_id || ""));
        }
        if (window.htmx) { window.htmx.trigger(document.body, "fz:changed", data); }
        drawCharts();
      };
    }
    ["issued", "upgraded", "overdue", "closed", "updated", "resync"].forEach(function (kind) {
      source.addEventListener(kind, changed(kind));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    listen();
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();
