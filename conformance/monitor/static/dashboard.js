// tokencert monitoring dashboard: leaderboard (sort, filter), medians chart, drill-down.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { rows: [], sortKey: null, sortDesc: false, target: null };
  let mediansChart = null, seriesChart = null;
  const COLORS = ["#1f6feb", "#2da44e", "#cf222e", "#8250df", "#bf8700", "#1b7c83"];

  function params() {
    const p = new URLSearchParams();
    for (const k of ["hours", "campaign", "workload", "scenario", "prober", "metric"]) {
      if ($(k).value) p.set(k, $(k).value);
    }
    return p;
  }

  async function loadMeta() {
    const meta = await (await fetch("/api/meta")).json();
    for (const k of ["campaign", "workload", "scenario", "prober"]) {
      const sel = $(k);
      for (const v of meta[k]) {
        const o = document.createElement("option");
        o.value = v; o.textContent = v; sel.appendChild(o);
      }
    }
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null ? "–" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function sorted(rows) {
    if (!state.sortKey) return rows;
    const k = state.sortKey, d = state.sortDesc ? -1 : 1;
    return rows.slice().sort((a, b) => {
      const x = a[k], y = b[k];
      if (x == null) return 1;
      if (y == null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * d;
    });
  }

  function renderTable() {
    const body = $("leaderboard").tBodies[0];
    body.textContent = "";
    for (const r of sorted(state.rows)) {
      const tr = document.createElement("tr");
      tr.dataset.target = r.target;
      if (r.target === state.target) tr.className = "sel";
      cell(tr, r.ws, "l");
      cell(tr, r.rank_text, "rank"); cell(tr, r.target, "l"); cell(tr, r.n);
      cell(tr, r.speed); cell(tr, r.speed90); cell(tr, r.ttft); cell(tr, r.ttft90);
      cell(tr, r.e2e); cell(tr, r.avail);
      const h = cell(tr, r.honesty, r.metering === "exact" ? "l wrap" : "l wrap bad");
      h.title = r.honesty_detail;
      cell(tr, r.price); cell(tr, r.trend);
      tr.addEventListener("click", () => { state.target = r.target; renderTable(); loadSeries(); });
      body.appendChild(tr);
    }
  }

  function renderMedians() {
    const labels = state.rows.map((r) => `${r.target} · ${r.workload}/${r.scenario}`);
    const data = state.rows.map((r) => r.median_output_tps);
    const colors = state.rows.map((r) => (r.metering === "exact" ? "#2da44e" : "#cf222e"));
    if (mediansChart) mediansChart.destroy();
    mediansChart = new Chart($("medians"), {
      type: "bar",
      data: { labels, datasets: [
        { label: "median output tokens/s", data, backgroundColor: colors, barPercentage: 0.5 },
        { label: "95% interval of the median", backgroundColor: "rgba(31,111,235,0.25)",
          data: state.rows.map((r) => (r.speed_lo == null ? null : [r.speed_lo, r.speed_hi])) }] },
      options: { animation: false, maintainAspectRatio: false, indexAxis: "y",
        scales: { y: { stacked: true } },
        plugins: { title: { display: true, text: "Median output speed (red: metering not exact)" } } },
    });
  }

  async function loadSeries() {
    const p = params();
    if (state.target) p.set("target", state.target);
    const res = await (await fetch("/api/series?" + p.toString())).json();
    const pts = res.points.filter((x) => x.ttft_ms != null);
    const t0 = pts.length ? Date.parse(pts[0].t) : 0;
    const ds = [{ label: "TTFT (ms)", data: pts.map((x) => ({ x: (Date.parse(x.t) - t0) / 60000, y: x.ttft_ms })),
      backgroundColor: COLORS[0], yAxisID: "y" },
    { label: "output tokens/s", data: pts.filter((x) => x.output_tps != null).map((x) => ({ x: (Date.parse(x.t) - t0) / 60000, y: x.output_tps })),
      backgroundColor: COLORS[1], yAxisID: "y2" }];
    if (seriesChart) seriesChart.destroy();
    seriesChart = new Chart($("series"), {
      type: "scatter", data: { datasets: ds },
      options: { animation: false, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: "minutes since the first probe in the window" } },
          y: { title: { display: true, text: "TTFT (ms)" } },
          y2: { position: "right", title: { display: true, text: "tokens/s" }, grid: { drawOnChartArea: false } } },
        plugins: { title: { display: true, text: "Every probe: " + (state.target || "all targets") } } },
    });
  }

  async function refresh() {
    const res = await (await fetch("/api/leaderboard?" + params().toString())).json();
    state.rows = (res.rows || []).map((r) => Object.assign(r, { ws: `${r.workload} · ${r.scenario}` }));
    if (!state.target && state.rows.length) state.target = state.rows[0].target;
    renderTable(); renderMedians(); await loadSeries();
    $("updated").textContent = "Updated " + new Date().toISOString().slice(0, 19) + "Z.";
    document.body.dataset.loaded = String(state.rows.length);
  }

  for (const th of document.querySelectorAll("#leaderboard th")) {
    th.addEventListener("click", () => {
      state.sortDesc = state.sortKey === th.dataset.k ? !state.sortDesc : false;
      state.sortKey = th.dataset.k; renderTable();
    });
  }
  $("filters").addEventListener("change", refresh);
  loadMeta().then(refresh);
  setInterval(refresh, Number(document.body.dataset.refreshMs) || 10000);
})();
