// Control-room display: renders /api/v1/live messages into the tiles.
// Plain JS, no build step, nothing loaded from the internet.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let lang = params.get("lang") || localStorage.getItem("shopfloor.lang") || "zh";
  if (!(lang in I18N)) lang = "zh";
  const t = (key) => I18N[lang][key] || key;
  const zh = () => lang === "zh";

  const model = { plant: null, status: null, kpi: null, since: {}, clockOffsetMs: 0, ytd: null, ytdError: false, backfill: null };

  // Colours by state family: the same meaning on every tile.
  const PRINTER_CLASS = { 0: "idle", 1: "idle", 2: "setup", 3: "run", 4: "warn", 5: "warn", 6: "fault", 7: "plan", 8: "off" };
  const ROBOT_CLASS = { 0: "idle", 1: "move", 2: "move", 3: "move", 4: "run", 5: "move", 6: "setup", 7: "fault", 8: "off", 9: "plan" };

  const fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v)) ? "—"
    : Number(v).toLocaleString(zh() ? "zh-CN" : "en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const name = (o) => (o ? (zh() ? (o.name_zh || o.name) : o.name) : "—");

  function duration(ms) {
    if (ms < 0 || !Number.isFinite(ms)) return "—";
    const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const two = (x) => String(x).padStart(2, "0");
    return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
  }

  function applyStatic() {
    document.documentElement.lang = zh() ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("lang").textContent = t("lang_button");
    $("lang").dataset.lang = lang;
    $("tracking-link").href = `/tracking?lang=${lang}`;
    document.body.dataset.lang = lang;
    if (model.plant) { $("plant-name").textContent = name(model.plant); document.title = name(model.plant); }
  }

  function renderStatus() {
    const s = model.status;
    if (!s) return;
    const shiftDef = model.plant && model.plant.shifts.find((x) => x.id === s.shift.id);
    const crew = model.plant && model.plant.teams.find((x) => x.id === s.shift.crew);
    $("shift-label").textContent = `${t("shift")}: ${shiftDef ? name(shiftDef) : s.shift.id} ${s.shift.start.slice(11, 16)}–${s.shift.end.slice(11, 16)}`
      + (crew ? ` · ${t("crew")}: ${name(crew)}` : "");
    $("shift-progress").style.width = `${Math.min(100, s.shift.elapsed_pct).toFixed(1)}%`;
    const p = s.printers[0];
    if (p) renderPrinter(p);
    const f = s.fleets[0];
    if (f) renderFleet(f);
  }

  function renderPrinter(p) {
    $("printer-name").textContent = name(p);
    setPrinterState(p.id, p.state, zh() ? p.state_label_zh : p.state_label, p.since_ns);
    const reason = p.stop_reason && p.state !== 3 ? (zh() ? p.stop_reason_label_zh : p.stop_reason_label) : null;
    $("printer-reason").textContent = p.state !== 3 && p.state !== null ? `${t("reason")}: ${reason || t("no_reason")}` : "";
    $("printer-speed").textContent = fmt(p.speed_m_min, 1);
    $("printer-setpoint").textContent = fmt(p.speed_setpoint_m_min, 0);
    const sp = p.speed_setpoint_m_min || p.ideal_speed_m_min;
    $("speed-bar").style.width = `${Math.min(100, 100 * (p.speed_m_min || 0) / sp)}%`;
    $("printer-metres").textContent = fmt(p.printed_m_shift, 0);
    $("printer-target").textContent = fmt(p.target_m_shift, 0);
    // Bands against the pro-rata target at this moment of the shift: >= 100 % green, >= 90 % amber, else red.
    let band = "";
    if (p.expected_m_now && p.printed_m_shift !== null) {
      const ratio = p.printed_m_shift / p.expected_m_now;
      band = ratio >= 1 ? "green" : ratio >= 0.9 ? "amber" : "red";
      $("metres-note").textContent = `${band === "green" ? t("ahead") : t("behind")} ${fmt(p.printed_m_shift - p.expected_m_now, 0)} m`;
    }
    $("metres-box").dataset.band = band;
    if (p.target_m_shift) {
      $("metres-bar").style.width = `${Math.min(100, 100 * (p.printed_m_shift || 0) / p.target_m_shift)}%`;
      $("metres-expected").style.left = `${Math.min(100, 100 * (p.expected_m_now || 0) / p.target_m_shift)}%`;
    }
    $("printer-energy").textContent = fmt(p.energy_kwh_per_m_shift, 3);
    $("printer-baseline").textContent = fmt(p.baseline_energy_kwh_per_m, 3);
    const saving = p.energy_kwh_per_m_shift ? 100 * (1 - p.energy_kwh_per_m_shift / p.baseline_energy_kwh_per_m) : null;
    $("printer-saving").textContent = saving === null ? "—" : `${t("saving")} ${fmt(saving, 0)} %`;
    $("printer-saving").className = saving === null ? "" : saving >= 0 ? "good" : "bad";
  }

  function setPrinterState(id, code, label, sinceNs) {
    const el = $("printer-state");
    el.textContent = label || "—";
    el.dataset.state = code === null || code === undefined ? "" : String(code);
    el.className = `state ${PRINTER_CLASS[code] || "off"}`;
    if (sinceNs) model.since[id] = sinceNs / 1e6;
  }

  function robotCard(r) {
    let card = $(`robot-${r.id}`);
    if (!card) {
      card = document.createElement("div");
      card.id = `robot-${r.id}`;
      card.className = "robot";
      card.setAttribute("data-testid", `robot-${r.id}`);
      card.innerHTML = `<div class="rid"></div><div class="rstate" data-testid="robot-${r.id}-state"></div>
        <div class="soc"><div></div></div><div class="rsoc" data-testid="robot-${r.id}-soc"></div>
        <div class="rsess" data-testid="robot-${r.id}-sessions"></div>`;
      $("robots").appendChild(card);
    }
    return card;
  }

  function renderRobot(r) {
    const card = robotCard(r);
    card.querySelector(".rid").textContent = r.id.toUpperCase();
    const st = card.querySelector(".rstate");
    st.textContent = (zh() ? r.state_label_zh : r.state_label) || "—";
    st.dataset.state = r.state === null ? "" : String(r.state);
    card.className = `robot ${ROBOT_CLASS[r.state] || "off"}`;
    const soc = r.soc_pct === null ? 0 : r.soc_pct;
    const bar = card.querySelector(".soc div");
    bar.style.width = `${soc}%`;
    bar.className = soc < 25 ? "low" : "";
    card.querySelector(".rsoc").textContent = `${fmt(r.soc_pct, 0)} %`;
    card.querySelector(".rsess").textContent = `${fmt(r.sessions_shift, 0)} ${t("sessions_unit")} · ${fmt(r.energy_delivered_kwh_shift, 0)} kWh`;
  }

  function renderFleet(f) {
    $("fleet-name").textContent = name(f);
    $("fleet-sessions").textContent = fmt(f.sessions_shift, 0);
    $("fleet-sessions-target").textContent = f.target_sessions_shift ? ` / ${fmt(f.target_sessions_shift, 0)}` : "";
    $("fleet-kwh").textContent = fmt(f.energy_delivered_kwh_shift, 0);
    $("fleet-charging").textContent = `${f.charging_now} / ${f.robots.length}`;
    f.robots.forEach(renderRobot);
  }

  function renderKpi() {
    const k = model.kpi;
    if (!k) return;
    const pid = Object.keys(k.printers)[0];
    if (pid) {
      const o = k.printers[pid].oee;
      $("printer-oee").textContent = fmt(o.oee_pct, 1);
      $("printer-apq").textContent = `${t("a")} ${fmt(o.availability_pct, 0)}% · ${t("p")} ${fmt(o.performance_pct, 0)}% · ${t("q")} ${fmt(o.quality_pct, 1)}%`;
    }
    const fid = Object.keys(k.fleets)[0];
    if (fid) $("fleet-avail").textContent = fmt(k.fleets[fid].availability_pct, 1);
    const box = $("teams");
    box.innerHTML = "";
    k.scoreboard.teams.forEach((team) => {
      const row = document.createElement("div");
      row.className = `team rank${team.rank}${team.shifts === 0 ? " off" : ""}`;
      row.setAttribute("data-testid", `team-${team.team}`);
      const objectives = team.objectives.map((o) => {
        const att = o.attainment_pct;
        const cls = att === null ? "na" : att >= 100 ? "green" : att >= 90 ? "amber" : "red";
        return `<div class="obj ${cls}" title="${o.kpi}"><span>${zh() ? o.name_zh : o.name}</span>
          <div class="ometer"><div style="width:${Math.min(100, (att || 0) / 1.2)}%"></div><i></i></div>
          <b>${att === null ? "—" : fmt(att, 0) + "%"}</b></div>`;
      }).join("");
      row.innerHTML = `<div class="rank" data-testid="team-${team.team}-rank">${team.rank}</div>
        <div class="tname">${zh() ? team.name_zh : team.name}</div>
        <div class="score${team.score === null ? " na" : ""}" data-testid="team-${team.team}-score">${team.score !== null ? fmt(team.score, 0) : team.shifts === 0 ? t("off_shift") : t("no_score")}</div>
        <div class="objs">${objectives}</div>`;
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
    if (msg.kind === "printer") {
      setPrinterState(msg.equipment, msg.state, label, msg.since_ns);
      if (model.status) {
        const p = model.status.printers.find((x) => x.id === msg.equipment);
        if (p) Object.assign(p, { state: msg.state, state_label: msg.label_en, state_label_zh: msg.label_zh, since_ns: msg.since_ns });
      }
    } else if (model.status) {
      for (const f of model.status.fleets) {
        const r = f.robots.find((x) => x.id === msg.equipment);
        if (r) { Object.assign(r, { state: msg.state, state_label: msg.label_en, state_label_zh: msg.label_zh, since_ns: msg.since_ns }); renderRobot(r); }
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
    const p = model.status && model.status.printers[0];
    if (p && model.since[p.id]) $("printer-since").textContent = duration(plantNowMs() - model.since[p.id]);
  }

  // ---- live channel, reconnecting by itself (1 s, doubling to 10 s)
  let delay = 1000;
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
      if (msg.type === "status") { model.status = msg; model.clockOffsetMs = msg.now_ns / 1e6 - Date.now(); renderStatus(); }
      else if (msg.type === "kpi") { model.kpi = msg; renderKpi(); }
      else if (msg.type === "state") onState(msg);
    };
    ws.onclose = () => { setLive(false); setTimeout(connect, delay); delay = Math.min(10000, delay * 2); };
    ws.onerror = () => ws.close();
  }

  $("lang").addEventListener("click", () => {
    lang = zh() ? "en" : "zh";
    localStorage.setItem("shopfloor.lang", lang);
    const u = new URL(location.href);
    u.searchParams.set("lang", lang);
    history.replaceState(null, "", u);
    applyStatic(); renderStatus(); renderKpi(); renderYtd(); renderBackfill(); setLive($("live").dataset.connected === "true");
  });

  applyStatic();
  setLive(false);
  fetch("/api/v1/plant").then((r) => r.json()).then((plant) => {
    model.plant = plant;
    applyStatic(); renderStatus();
  });
  connect();
  loadYtd();
  setInterval(loadYtd, YTD_EVERY_MS);
  loadBackfill();
  setInterval(tick, 1000);
  tick();
})();
