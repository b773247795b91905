// Team performance tracking (/tracking): one team per period of a year or a month, from /api/v1/tracking.
// Plain JS, no build step; charts by the vendored Apache ECharts (static/vendor/echarts), nothing from the internet.
// Names from the plant file reach the page only as text: textContent, and ECharts drawing on canvas (tooltips too).
(function () {
  "use strict";
  const { $, params, t, zh, name, fmt, getJson } = Page;
  const PERIODS = ["month", "quarter", "week", "year", "day", "shift"];
  const BY_MONTH = ["day", "shift"]; // a year of these is too many: they are listed per month
  const COLOURS = ["#3fa9ff", "#2ecc71", "#ffb020", "#b388ff", "#ff6b9a", "#4dd0e1", "#c0ca33", "#ff8a65"];
  const AXIS = { axisLine: { lineStyle: { color: "#6b778a" } }, axisLabel: { color: "#c5cfdd" }, splitLine: { lineStyle: { color: "#232b38" } } };

  const model = { plant: null, tracking: null, ranking: null, pick: null };
  let generation = 0; // one per render: charts report "finished" for the render they belong to

  // ---- charts: each reports when it has drawn; the page says so when all have (data-charts-ready)
  const CHARTS = ["chart-score", "chart-rank", "chart-pareto", "chart-savings"];
  const charts = {};
  const pending = new Set();
  function chart(id) {
    if (!charts[id]) {
      charts[id] = echarts.init($(id), null, { renderer: "canvas" });
      charts[id].on("finished", () => {
        if (!pending.delete(id) || pending.size) return;
        document.body.dataset.render = String(generation);
        document.body.dataset.chartsReady = "true";
      });
      // a point of a period chart picks that period for the Pareto
      charts[id].on("click", (e) => { if (id !== "chart-pareto" && e.name) { model.pick = e.name; render(); } });
    }
    return charts[id];
  }
  function draw(id, option) {
    // animation off: what is drawn is final at once (a screenshot, a test, a slow display PC)
    chart(id).setOption({ animation: false, textStyle: { fontFamily: getComputedStyle(document.body).fontFamily }, ...option }, true);
  }
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

  function state() {
    const period = PERIODS.includes(params.get("period")) ? params.get("period") : "month";
    return { team: params.get("team"), period, year: params.get("year"), month: params.get("month") };
  }

  function query(s) {
    const q = new URLSearchParams({ period: s.period });
    if (BY_MONTH.includes(s.period)) q.set("month", s.month || new Date().toISOString().slice(0, 7));
    else if (s.year) q.set("year", s.year);
    return q;
  }

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "status error" : "status";
  }

  function applyStatic() {
    Page.applyLanguage();
    if (model.plant) {
      $("plant-name").textContent = name(model.plant);
      document.title = `${t("tracking_title")} · ${name(model.plant)}`;
      const select = $("team");
      Array.from(select.options).forEach((o) => { o.textContent = name(model.plant.teams.find((x) => x.id === o.value)); });
    }
  }

  function fillControls(s) {
    const select = $("team");
    if (!select.options.length) {
      model.plant.teams.forEach((team) => {
        const o = document.createElement("option");
        o.value = team.id;
        o.textContent = name(team);
        select.appendChild(o);
      });
    }
    select.value = s.team;
    $("period").value = s.period;
    const byMonth = BY_MONTH.includes(s.period);
    $("month-box").hidden = !byMonth;
    $("year-box").hidden = byMonth;
    if (s.year) $("year").value = s.year;
    if (s.month) $("month").value = s.month;
    else if (!$("month").value) $("month").value = new Date().toISOString().slice(0, 7);
  }

  async function load() {
    const s = state();
    if (!s.team || !model.plant.teams.some((x) => x.id === s.team)) s.team = model.plant.teams[0].id;
    fillControls(s);
    document.body.dataset.chartsReady = "false";
    setStatus(t("loading"), false);
    const q = query(s);
    const csv = new URLSearchParams(q);
    $("csv").href = `/api/v1/tracking/teams/${encodeURIComponent(s.team)}.csv?${csv}`;
    try {
      const [tracking, ranking] = await Promise.all([
        getJson(`/api/v1/tracking/teams/${encodeURIComponent(s.team)}?${q}`),
        getJson(`/api/v1/tracking/ranking?${q}`),
      ]);
      model.tracking = tracking;
      model.ranking = ranking;
      if (!s.year && !BY_MONTH.includes(s.period)) $("year").value = tracking.span.label.slice(0, 4);
      const labels = tracking.periods.map((p) => p.label);
      model.pick = labels.includes(model.pick) ? model.pick : labels[labels.length - 1] || null;
      render();
    } catch (err) {
      setStatus(err.message, true);
    }
  }

  // ---------------------------------------------------------------------------------------------- rendering

  function render() {
    const tr = model.tracking;
    if (!tr) return;
    generation += 1;
    document.body.dataset.chartsReady = "false";
    // every chart of this render is pending before any is drawn: one that finishes at once cannot end the wait
    CHARTS.forEach((id) => pending.add(id));
    renderPick();
    renderStatus();
    renderScore();
    renderRank();
    renderPareto();
    renderSavings();
    renderSheet();
  }

  function renderPick() {
    const select = $("pick");
    select.replaceChildren();
    model.tracking.periods.forEach((p) => {
      const o = document.createElement("option");
      o.value = p.label;
      o.textContent = p.complete ? p.label : `${p.label} (${t("running")})`;
      select.appendChild(o);
    });
    select.value = model.pick || "";
  }

  function renderStatus() {
    const ps = model.tracking.periods;
    const raw = ps.reduce((n, p) => n + p.basis.raw_shifts, 0);
    const stale = ps.reduce((n, p) => n + p.basis.stale_shift_keys.length, 0);
    const parts = [`${name(model.tracking.team)} · ${model.tracking.span.label}`];
    if (raw) parts.push(t("raw_note").replace("{n}", fmt(raw)));
    if (stale) parts.push(t("stale_note").replace("{n}", fmt(stale)));
    setStatus(parts.join(" · "), false);
    $("status").dataset.stale = String(stale);
  }

  const labelsOf = () => model.tracking.periods.map((p) => p.label);

  function renderScore() {
    const ps = model.tracking.periods;
    draw("chart-score", {
      grid: { left: 48, right: 24, top: 24, bottom: 48 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: { type: "category", data: labelsOf(), ...AXIS },
      yAxis: { type: "value", min: 0, max: 100, name: t("score"), nameTextStyle: { color: "#93a1b5" }, ...AXIS },
      series: [{
        name: name(model.tracking.team), type: "line", data: ps.map((p) => p.score), connectNulls: false,
        symbolSize: 9, lineStyle: { width: 3, color: COLOURS[0] }, itemStyle: { color: COLOURS[0] },
        label: { show: ps.length <= 16, position: "top", color: "#f2f5f9", formatter: (x) => fmt(x.value, 0) },
        markLine: { silent: true, symbol: "none", data: [{ yAxis: 100 }], lineStyle: { color: "#2ecc71", type: "dashed" }, label: { show: false } },
      }],
    });
  }

  function renderRank() {
    const r = model.ranking;
    const teams = r.teams;
    const mine = model.tracking.team.id;
    draw("chart-rank", {
      grid: { left: 48, right: 24, top: 40, bottom: 48 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0, textStyle: { color: "#c5cfdd" }, data: teams.map((x) => name(x)) },
      xAxis: { type: "category", data: r.periods.map((p) => p.label), ...AXIS },
      yAxis: { type: "value", inverse: true, min: 1, max: Math.max(1, teams.length), interval: 1, name: t("rank"), nameTextStyle: { color: "#93a1b5" }, ...AXIS },
      series: teams.map((team, k) => ({
        name: name(team), type: "line", symbolSize: team.id === mine ? 10 : 6,
        data: r.periods.map((p) => { const e = p.ranks.find((x) => x.team === team.id); return e && e.score !== null ? e.rank : null; }),
        lineStyle: { width: team.id === mine ? 4 : 1.5, opacity: team.id === mine ? 1 : 0.6 },
        color: COLOURS[k % COLOURS.length], z: team.id === mine ? 3 : 2,
      })),
    });
  }

  function picked() { return model.tracking.periods.find((p) => p.label === model.pick) || null; }

  function renderPareto() {
    const p = picked();
    $("pareto-period").textContent = p ? p.label : "";
    const entries = p ? p.pareto.filter((e) => e.downtime_min > 0) : [];
    const total = entries.reduce((n, e) => n + e.downtime_min, 0);
    let cumulative = 0;
    const cumulativePct = entries.map((e) => { cumulative += e.downtime_min; return total ? (100 * cumulative) / total : null; });
    const none = !p || p.energy_water === null;
    draw("chart-pareto", {
      title: none ? { text: t("no_printers"), left: "center", top: "middle", textStyle: { color: "#93a1b5", fontSize: 14 } } : undefined,
      grid: { left: 56, right: 48, top: 32, bottom: 72 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: { type: "category", data: entries.map((e) => (zh() ? e.name_zh : e.name)), ...AXIS, axisLabel: { color: "#c5cfdd", rotate: 30, interval: 0 } },
      yAxis: [
        { type: "value", name: t("downtime_min"), nameTextStyle: { color: "#93a1b5" }, ...AXIS },
        { type: "value", min: 0, max: 100, name: "%", nameTextStyle: { color: "#93a1b5" }, ...AXIS, splitLine: { show: false } },
      ],
      series: [
        { name: t("downtime_min"), type: "bar", data: entries.map((e) => e.downtime_min), itemStyle: { color: "#ff4d4f" } },
        { name: "%", type: "line", yAxisIndex: 1, data: cumulativePct, itemStyle: { color: "#ffb020" }, lineStyle: { color: "#ffb020" } },
      ],
    });
  }

  function renderSavings() {
    const ps = model.tracking.periods;
    const none = ps.every((p) => p.energy_water === null);
    const sum = (key) => ps.reduce((n, p) => n + ((p.energy_water && p.energy_water[key]) || 0), 0);
    draw("chart-savings", {
      title: none ? { text: t("no_printers"), left: "center", top: "middle", textStyle: { color: "#93a1b5", fontSize: 14 } } : undefined,
      grid: { left: 64, right: 64, top: 40, bottom: 48 },
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0, textStyle: { color: "#c5cfdd" }, data: [t("energy_saved"), t("water_saved")] },
      xAxis: { type: "category", data: labelsOf(), ...AXIS },
      yAxis: [
        { type: "value", name: "kWh", nameTextStyle: { color: "#93a1b5" }, ...AXIS },
        { type: "value", name: "L", nameTextStyle: { color: "#93a1b5" }, ...AXIS, splitLine: { show: false } },
      ],
      series: [
        { name: t("energy_saved"), type: "bar", data: ps.map((p) => (p.energy_water ? p.energy_water.energy_saving_kwh : null)), itemStyle: { color: "#2ecc71" } },
        { name: t("water_saved"), type: "bar", yAxisIndex: 1, data: ps.map((p) => (p.energy_water ? p.energy_water.water_saving_l : null)), itemStyle: { color: "#3fa9ff" } },
      ],
    });
    const currency = (ps.find((p) => p.energy_water) || { energy_water: { currency: "" } }).energy_water.currency;
    $("savings-total").textContent = none ? "" : `${t("total_saved")}: ${fmt(sum("energy_saving_kwh"))} kWh · ${fmt(sum("water_saving_l"))} L · `
      + `${t("co2_avoided")} ${fmt(sum("co2_avoided_kg"))} kg · ${t("money_saved")} ${fmt(sum("money_saving"))} ${currency}`;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function renderSheet() {
    const body = $("sheet");
    body.replaceChildren();
    model.tracking.periods.forEach((p) => {
      p.objectives.forEach((o, k) => {
        const row = document.createElement("tr");
        row.dataset.period = p.label;
        if (k === 0) {
          const span = p.objectives.length;
          cell(row, p.complete ? p.label : `${p.label} (${t("running")})`, "period").rowSpan = span;
          cell(row, fmt(p.score, 1), "num").rowSpan = span;
          // no score (no data): ranked last by id, which says nothing about the team
          cell(row, p.score === null ? "—" : `${p.rank} / ${p.teams_ranked}`, "num").rowSpan = span;
        }
        cell(row, zh() ? o.name_zh : o.name);
        const unit = o.unit ? ` ${o.unit}` : "";
        cell(row, `${fmt(o.target, 2)}${unit}`, "num");
        cell(row, o.actual === null ? "—" : `${fmt(o.actual, 2)}${unit}`, "num");
        const att = o.attainment_pct;
        cell(row, att === null ? "—" : `${fmt(att, 0)} %`, `num ${att === null ? "na" : att >= 100 ? "green" : att >= 90 ? "amber" : "red"}`);
        cell(row, fmt(o.weight, 2), "num");
        body.appendChild(row);
      });
    });
  }

  // ---------------------------------------------------------------------------------------------- controls

  function navigate(changes) {
    Object.entries(changes).forEach(([k, v]) => (v ? params.set(k, v) : params.delete(k)));
    params.set("lang", Page.lang());
    history.replaceState(null, "", `${location.pathname}?${params}`);
    load();
  }
  $("team").addEventListener("change", (e) => navigate({ team: e.target.value }));
  $("period").addEventListener("change", (e) => navigate({ period: e.target.value }));
  $("year").addEventListener("change", (e) => navigate({ year: e.target.value, month: null }));
  $("month").addEventListener("change", (e) => navigate({ month: e.target.value }));
  $("pick").addEventListener("change", (e) => { model.pick = e.target.value; render(); });
  $("controls").addEventListener("submit", (e) => e.preventDefault());
  $("lang").addEventListener("click", () => {
    Page.toggleLang();
    params.set("lang", Page.lang());
    applyStatic();
    render();
  });

  applyStatic();
  getJson("/api/v1/plant").then((plant) => {
    model.plant = plant;
    applyStatic();
    load();
  }).catch((err) => setStatus(err.message, true));
})();
