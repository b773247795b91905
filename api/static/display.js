// Control-room display: renders /api/v1/live messages into the tiles.
// Plain JS, no build step, nothing loaded from the internet.
(function () {
  "use strict";
  const { $, t, zh, name, fmt } = Page;

  const model = { plant: null, config: null, status: null, kpi: null, since: {}, clockOffsetMs: 0, ytd: null, ytdError: false, backfill: null };

  // Every rule (state colours, bands, low charge, savings) comes from the API: /api/v1/display/config once,
  // and per item in the live messages (state_family, metres_band, low_charge, energy_saving_pct, band).
  // This file only lays out and formats. Text from the plant file goes in with textContent only.

  const f = (root, key) => root.querySelector(`[data-f="${key}"]`);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  // Write only what changed: a value left alone costs no style or layout work (a hundred robots, every second).
  const setText = (e, v) => { if (e.textContent !== v) e.textContent = v; };
  const setClass = (e, v) => { if (e.className !== v) e.className = v; };
  const setData = (e, k, v) => { if (e.dataset[k] !== v) e.dataset[k] = v; };
  const setStyle = (e, k, v) => { if (e.style[k] !== v) e.style[k] = v; };
  const pct = (v) => `${Math.max(0, Math.min(100, v || 0))}%`;

  function duration(ms) {
    if (ms < 0 || !Number.isFinite(ms)) return "—";
    const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const two = (x) => String(x).padStart(2, "0");
    return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
  }

  function translate(root) {
    root.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  }

  function applyStatic() {
    Page.applyLanguage();
    if (model.plant) { $("plant-name").textContent = name(model.plant); document.title = name(model.plant); }
  }

  // ---- one tile per line and per fleet, made once from the templates and kept by id
  const tiles = { printers: new Map(), fleets: new Map() };

  function tileFor(map, id, templateId, box, attr) {
    let tile = map.get(id);
    if (!tile) {
      tile = $(templateId).content.firstElementChild.cloneNode(true);
      tile.dataset[attr] = id;
      translate(tile);
      box.appendChild(tile);
      map.set(id, tile);
    }
    return tile;
  }

  // Layout by how much there is to show (lines, robots): the stylesheet picks sizes from these.
  function layout(s) {
    const robots = s.fleets.reduce((n, x) => n + x.robots.length, 0);
    const grid = $("grid");
    grid.dataset.lines = String(s.printers.length);
    grid.dataset.fleets = String(s.fleets.length);
    grid.dataset.robots = String(robots);
    grid.dataset.size = s.printers.length > 1 || robots > 24 || s.fleets.length > 1 ? "many" : "one";
  }

  function renderStatus() {
    const s = model.status;
    if (!s) return;
    const shiftDef = model.plant && model.plant.shifts.find((x) => x.id === s.shift.id);
    const crew = model.plant && model.plant.teams.find((x) => x.id === s.shift.crew);
    setText($("shift-label"), `${t("shift")}: ${shiftDef ? name(shiftDef) : s.shift.id} ${s.shift.start.slice(11, 16)}–${s.shift.end.slice(11, 16)}`
      + (crew ? ` · ${t("crew")}: ${name(crew)}` : ""));
    setStyle($("shift-progress"), "width", pct(s.shift.elapsed_pct));
    layout(s);
    s.printers.forEach(renderPrinter);
    s.fleets.forEach(renderFleet);
  }

  function renderPrinter(p) {
    const tile = tileFor(tiles.printers, p.id, "printer-template", $("lines"), "line");
    setText(f(tile, "name"), name(p));
    setPrinterState(p.id, p.state, zh() ? p.state_label_zh : p.state_label, p.state_family, p.since_ns);
    const reason = p.stop_reason ? (zh() ? p.stop_reason_label_zh : p.stop_reason_label) : null;
    setText(f(tile, "reason"), p.stopped ? `${t("reason")}: ${reason || t("no_reason")}` : "");
    setText(f(tile, "speed"), fmt(p.speed_m_min, 1));
    setText(f(tile, "setpoint"), fmt(p.speed_setpoint_m_min, 0));
    const sp = p.speed_setpoint_m_min || p.ideal_speed_m_min;
    setStyle(f(tile, "speed-bar"), "width", pct(100 * (p.speed_m_min || 0) / sp));
    setText(f(tile, "metres"), fmt(p.printed_m_shift, 0));
    setText(f(tile, "target"), fmt(p.target_m_shift, 0));
    setData(f(tile, "metres-box"), "band", p.metres_band || "");
    setText(f(tile, "metres-note"), p.metres_ahead_m === null ? ""
      : `${p.metres_ahead_m >= 0 ? t("ahead") : t("behind")} ${fmt(Math.abs(p.metres_ahead_m), 0)} m`);
    if (p.target_m_shift) {
      setStyle(f(tile, "metres-bar"), "width", pct(100 * (p.printed_m_shift || 0) / p.target_m_shift));
      setStyle(f(tile, "metres-expected"), "left", pct(100 * (p.expected_m_now || 0) / p.target_m_shift));
    }
    setText(f(tile, "energy"), fmt(p.energy_kwh_per_m_shift, 3));
    setText(f(tile, "baseline"), fmt(p.baseline_energy_kwh_per_m, 3));
    const saving = p.energy_saving_pct;
    setText(f(tile, "saving"), saving === null ? "—" : `${t("saving")} ${fmt(saving, 0)} %`);
    setClass(f(tile, "saving"), saving === null ? "" : saving >= 0 ? "good" : "bad");
    renderPrinterKpi(p.id);
  }

  function setPrinterState(id, code, label, family, sinceNs) {
    const tile = tiles.printers.get(id);
    if (!tile) return;
    const st = f(tile, "state");
    setText(st, label || "—");
    setData(st, "state", code === null || code === undefined ? "" : String(code));
    setData(st, "family", family || "off");
    setClass(st, `state ${family || "off"}`);
    if (sinceNs) model.since[id] = sinceNs / 1e6;
  }

  function robotCell(r, box) {
    let cell = $(`robot-${r.id}`);
    if (!cell) {
      cell = el("div", "robot");
      cell.id = `robot-${r.id}`;
      cell.dataset.testid = `robot-${r.id}`;
      cell.parts = {};
      const parts = [["rid", "id"], ["rstate", "state"], ["soc", null], ["rsoc", "soc"], ["rsess", "sessions"]];
      for (const [cls, test] of parts) {
        const part = el("div", cls);
        if (test) part.dataset.testid = `robot-${r.id}-${test}`;
        if (cls === "soc") part.appendChild(el("div"));
        cell.appendChild(part);
        cell.parts[cls] = part;
      }
      cell.parts.bar = cell.parts.soc.firstChild;
      box.appendChild(cell);
    }
    return cell;
  }

  function renderRobot(r, box) {
    if (!box && !$(`robot-${r.id}`)) return; // a pushed change before the first status: that status draws it
    const cell = robotCell(r, box);
    const parts = cell.parts;
    const label = (zh() ? r.state_label_zh : r.state_label) || "—";
    const code = r.state === null ? "" : String(r.state);
    setText(parts.rid, r.id.toUpperCase());
    const title = `${name(r)} · ${label}`;
    if (cell.title !== title) cell.title = title;
    setText(parts.rstate, label);
    setData(parts.rstate, "state", code);
    setData(cell, "state", code);
    setData(cell, "family", r.state_family || "off");
    setData(cell, "low", r.low_charge ? "true" : "false");
    setClass(cell, `robot ${r.state_family || "off"}`);
    setStyle(parts.bar, "width", pct(r.soc_pct));
    setClass(parts.bar, r.low_charge ? "low" : "");
    setText(parts.rsoc, `${fmt(r.soc_pct, 0)} %`);
    setText(parts.rsess, `${fmt(r.sessions_shift, 0)} ${t("sessions_unit")} · ${fmt(r.energy_delivered_kwh_shift, 0)} kWh`);
  }

  function familyName(family) {
    const row = model.config && model.config.families.find((x) => x.family === family);
    return row ? (zh() ? row.zh : row.en) : family;
  }

  function renderSummary(fl, box) {
    // Robots per state family in the config's order, then faults and low charge: what a room reads first.
    const key = JSON.stringify([Page.lang(), !!model.config, fl.families, fl.low_charge, fl.low_charge_pct, fl.faults]);
    if (box.dataset.key === key) return; // unchanged: left alone
    box.dataset.key = key;
    box.textContent = "";
    const order = model.config ? model.config.families.map((x) => x.family) : Object.keys(fl.families);
    for (const family of order) {
      const n = fl.families[family];
      if (!n) continue;
      const chip = el("span", `chip ${family}`);
      chip.dataset.testid = `fleet-family-${family}`;
      chip.append(el("b", "", String(n)), el("span", "", ` ${familyName(family)}`));
      box.appendChild(chip);
    }
    const low = el("span", `chip lowc${fl.low_charge ? " alert" : ""}`);
    low.dataset.testid = "fleet-low-charge";
    low.append(el("b", "", String(fl.low_charge)), el("span", "", ` ${t("low_charge")} < ${fmt(fl.low_charge_pct, 0)} %`));
    box.appendChild(low);
    box.dataset.faults = String(fl.faults);
  }

  function renderFleet(fl) {
    const tile = tileFor(tiles.fleets, fl.id, "fleet-template", $("fleets"), "fleet");
    setText(f(tile, "name"), name(fl));
    setText(f(tile, "sessions"), fmt(fl.sessions_shift, 0));
    setText(f(tile, "sessions-target"), fl.target_sessions_shift ? ` / ${fmt(fl.target_sessions_shift, 0)}` : "");
    setText(f(tile, "kwh"), fmt(fl.energy_delivered_kwh_shift, 0));
    setText(f(tile, "charging"), `${fl.charging_now} / ${fl.robots.length}`);
    renderSummary(fl, f(tile, "summary"));
    const box = f(tile, "robots");
    setData(box, "count", String(fl.robots.length));
    setStyle(tile, "flexGrow", String(Math.max(1, Math.ceil(fl.robots.length / 12))));
    fl.robots.forEach((r) => renderRobot(r, box));
    renderFleetKpi(fl.id);
  }

  function renderPrinterKpi(id) {
    renderOrder(id);
    const k = model.kpi && model.kpi.printers[id];
    const tile = tiles.printers.get(id);
    if (!k || !tile) return;
    const o = k.oee;
    f(tile, "oee").textContent = fmt(o.oee_pct, 1);
    f(tile, "apq").textContent = `${t("a")} ${fmt(o.availability_pct, 0)}% · ${t("p")} ${fmt(o.performance_pct, 0)}% · ${t("q")} ${fmt(o.quality_pct, 1)}%`;
  }

  // The running order (kpi message, "orders"): every figure and the ETA come from the API; this only formats.
  const ETA_REASON = { "no plan": "order_no_plan", done: "order_done", stopped: "order_stopped" };
  function plantTime(ns) {
    const tz = model.plant ? model.plant.timezone : undefined;
    const at = new Date(ns / 1e6);
    const opts = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: tz };
    // Beyond the next twelve hours a time alone would read as today's: the date goes with it.
    if (ns / 1e6 - plantNowMs() > 12 * 3600 * 1000) Object.assign(opts, { month: "numeric", day: "numeric" });
    return at.toLocaleString(zh() ? "zh-CN" : "en-GB", opts);
  }

  function renderOrder(id) {
    const tile = tiles.printers.get(id);
    if (!tile) return;
    const o = model.kpi && model.kpi.orders ? model.kpi.orders[id] : null;
    const box = f(tile, "extra"), head = f(tile, "order-head");
    if (box.hidden !== !o) { box.hidden = !o; head.hidden = !o; }
    if (!o) return;
    setData(box, "order", String(o.order_number));
    setText(f(tile, "order-number"), `${t("order")} ${o.order_number}`);
    // A design the plant file does not list shows its code; no design (0) shows nothing. The plan's colourway
    // (the customer's) over the design's own, and the plan's fabric: one line, cut with an ellipsis if long.
    const colourway = o.colourway || (o.design ? o.design.colourway : "");
    const design = o.design ? `${name(o.design)} · ${colourway}` : o.design_code ? `${t("design")} ${o.design_code}` : "";
    setText(f(tile, "order-design"), o.fabric ? `${design} · ${o.fabric}` : design);
    setStyle(f(tile, "order-bar"), "width", pct(o.progress_pct));
    setText(f(tile, "order-metres"), `${fmt(o.done_m, 0)} / ${fmt(o.metres_ordered, 0)} m`);
    setText(f(tile, "order-remaining"), o.remaining_m === null ? "" : `${t("order_left")} ${fmt(o.remaining_m, 0)} m`);
    setText(f(tile, "order-eta"), o.eta_ns ? `${t("order_eta")} ${plantTime(o.eta_ns)}` : t(ETA_REASON[o.eta_reason] || "order_no_plan"));
  }

  function renderFleetKpi(id) {
    const k = model.kpi && model.kpi.fleets[id];
    const tile = tiles.fleets.get(id);
    if (k && tile) f(tile, "avail").textContent = fmt(k.availability_pct, 1);
  }

  function objectiveRow(o) {
    const meterMax = model.config ? model.config.attainment_meter_max_pct : 100;
    const att = o.attainment_pct;
    const row = el("div", `obj ${o.band || "na"}`);
    row.title = o.kpi;
    const meter = el("div", "ometer");
    const fill = el("div");
    fill.style.width = pct(100 * (att || 0) / meterMax);
    const mark = el("i");
    mark.style.left = pct(100 * 100 / meterMax); // where 100 % of the target stands
    meter.append(fill, mark);
    row.append(el("span", "", zh() ? o.name_zh : o.name), meter, el("b", "", att === null ? "—" : `${fmt(att, 0)}%`));
    return row;
  }

  function renderKpi() {
    const k = model.kpi;
    if (!k) return;
    tiles.printers.forEach((_, id) => renderPrinterKpi(id));
    tiles.fleets.forEach((_, id) => renderFleetKpi(id));
    const box = $("teams");
    box.textContent = "";
    k.scoreboard.teams.forEach((team) => {
      const row = el("div", `team rank${team.rank}${team.shifts === 0 ? " off" : ""}`);
      row.dataset.testid = `team-${team.team}`;
      const rank = el("div", "rank", String(team.rank));
      rank.dataset.testid = `team-${team.team}-rank`;
      const score = el("div", `score${team.score === null ? " na" : ""}`,
        team.score !== null ? fmt(team.score, 0) : team.shifts === 0 ? t("off_shift") : t("no_score"));
      score.dataset.testid = `team-${team.team}-score`;
      const objs = el("div", "objs");
      team.objectives.forEach((o) => objs.appendChild(objectiveRow(o)));
      row.append(rank, el("div", "tname", zh() ? team.name_zh : team.name), score, objs);
      box.appendChild(row);
    });
  }

  // ---- the year so far: figures from /api/v1/year-to-date (the server caches them), shown as they are
  const YTD_EVERY_MS = 15000;
  const BACKFILL_EVERY_MS = 3000;

  function setFigure(id, value, digits) {
    const el = $(id);
    el.textContent = fmt(value, digits);
    el.className = value !== null && value !== undefined && value < 0 ? "bad" : "";
  }

  function renderYtd() {
    const y = model.ytd;
    if (!y) {
      $("ytd-note").textContent = model.ytdError ? t("ytd_building") : "";
      return;
    }
    const f = y.plant;
    $("ytd-year").textContent = y.year;
    $("ytd-note").textContent = y.from_year_start || !y.covered_from ? "" : `${t("ytd_since")} ${y.covered_from.slice(0, 10)}`;
    $("ytd-metres").textContent = fmt(f.printed_m, 0);
    $("ytd-target").textContent = f.annual_target_m === null ? t("ytd_no_target") : fmt(f.annual_target_m, 0);
    $("ytd-metres-box").dataset.band = f.band || "";
    $("ytd-bar").style.width = `${Math.min(100, f.attainment_pct || 0)}%`;
    const marker = $("ytd-expected");
    marker.hidden = f.expected_pct === null;
    marker.style.left = `${Math.min(100, f.expected_pct || 0)}%`;
    $("ytd-pace").textContent = f.pace_pct === null ? ""
      : `${fmt(f.pace_pct, 1)} % ${t("ytd_pace")} · ${t("ytd_projected")} ${fmt(f.projected_m, 0)} m`;
    // kWh -> MWh, L -> m³, kg -> t: units for a year's amounts
    setFigure("ytd-energy", f.energy_saving_kwh === null ? null : f.energy_saving_kwh / 1000, 1);
    setFigure("ytd-water", f.water_saving_l === null ? null : f.water_saving_l / 1000, 0);
    setFigure("ytd-money", f.money_saving, 0);
    $("ytd-currency").textContent = ` ${y.currency}`;
    setFigure("ytd-co2", f.co2_avoided_kg === null ? null : f.co2_avoided_kg / 1000, 1);
  }

  function loadYtd() {
    fetch("/api/v1/year-to-date")
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((y) => { model.ytd = y; model.ytdError = false; renderYtd(); })
      .catch(() => { model.ytdError = true; renderYtd(); }); // 503 while the ledger is built: asked again
  }

  function renderBackfill() {
    const b = model.backfill;
    const el = $("backfill");
    el.hidden = !b || b.state !== "running";
    if (el.hidden) return;
    const days = `${b.days_done}/${b.days_total} ${t("backfill_days")}`;
    el.textContent = zh() ? `${t("backfill")}：${fmt(b.percent, 0)} %（${days}）` : `${t("backfill")}: ${fmt(b.percent, 0)} % (${days})`;
  }

  function loadBackfill() {
    fetch("/api/v1/backfill")
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((b) => {
        const was = model.backfill && model.backfill.state;
        model.backfill = b;
        renderBackfill();
        if (b.state === "running") setTimeout(loadBackfill, BACKFILL_EVERY_MS);
        else if (was === "running") loadYtd(); // the whole past is in: show it now
      })
      .catch(() => setTimeout(loadBackfill, BACKFILL_EVERY_MS));
  }

  function onState(msg) {
    // Pushed the moment the hub sees a change: update the tile without waiting for the next snapshot.
    const label = zh() ? msg.label_zh : msg.label_en;
    const fields = { state: msg.state, state_label: msg.label_en, state_label_zh: msg.label_zh, state_family: msg.family, since_ns: msg.since_ns };
    if (msg.kind === "printer") {
      setPrinterState(msg.equipment, msg.state, label, msg.family, msg.since_ns);
      if (model.status) {
        const p = model.status.printers.find((x) => x.id === msg.equipment);
        if (p) Object.assign(p, fields);
      }
    } else if (model.status) {
      for (const fl of model.status.fleets) {
        const r = fl.robots.find((x) => x.id === msg.equipment);
        if (r) { Object.assign(r, fields); renderRobot(r); }
      }
    }
  }

  // The plant's "now" is the server's (a time-scaled demo runs on simulated time), kept as an offset to
  // this PC's clock from each status message.
  function plantNowMs() { return Date.now() + model.clockOffsetMs; }

  function tick() {
    const now = new Date(plantNowMs());
    // The plant's wall clock, whatever the time zone of the PC showing it.
    const tz = model.plant ? model.plant.timezone : undefined;
    $("clock").textContent = now.toLocaleTimeString(zh() ? "zh-CN" : "en-GB", { hour12: false, timeZone: tz });
    tiles.printers.forEach((tile, id) => {
      if (model.since[id]) f(tile, "since").textContent = duration(plantNowMs() - model.since[id]);
    });
  }

  // ---- live channel, reconnecting by itself (1 s, doubling to 10 s)
  let delay = 1000;
  const renderTimes = (window.__renderTimes = []);
  function setLive(ok) {
    $("live").dataset.connected = ok ? "true" : "false";
    $("live-text").textContent = ok ? t("live") : t("offline");
  }
  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`);
    ws.onopen = () => { delay = 1000; setLive(true); window.dispatchEvent(new Event("shopfloor:live-open")); };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      window.dispatchEvent(new CustomEvent("shopfloor:live", { detail: msg })); // other modules (alerts.js) listen
      if (msg.type === "status") {
        model.status = msg;
        model.clockOffsetMs = msg.now_ns / 1e6 - Date.now();
        // How long one live update takes to draw, layout included (reading offsetHeight lays the page out now,
        // work the browser does before the next paint anyway): the last 100, read by bench/display.py.
        const started = performance.now();
        renderStatus();
        void document.body.offsetHeight;
        renderTimes.push(performance.now() - started);
        if (renderTimes.length > 100) renderTimes.shift();
        window.__renders = (window.__renders || 0) + 1;
      }
      else if (msg.type === "kpi") { model.kpi = msg; renderKpi(); }
      else if (msg.type === "state") onState(msg);
    };
    ws.onclose = () => { setLive(false); setTimeout(connect, delay); delay = Math.min(10000, delay * 2); };
    ws.onerror = () => ws.close();
  }

  $("lang").addEventListener("click", () => {
    Page.toggleLang();
    applyStatic(); renderStatus(); renderKpi(); renderYtd(); renderBackfill(); setLive($("live").dataset.connected === "true");
  });

  applyStatic();
  setLive(false);
  fetch("/api/v1/plant").then((r) => r.json()).then((plant) => {
    model.plant = plant;
    applyStatic(); renderStatus();
  });
  fetch("/api/v1/display/config").then((r) => r.json()).then((config) => {
    model.config = config;
    renderStatus(); renderKpi();
  });
  connect();
  loadYtd();
  setInterval(loadYtd, YTD_EVERY_MS);
  loadBackfill();
  setInterval(tick, 1000);
  tick();
})();
