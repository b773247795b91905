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

  const model = { plant: null, status: null, kpi: null, since: {}, clockOffsetMs: 0 };

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
    ws.onopen = () => { delay = 1000; setLive(true); };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
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
    applyStatic(); renderStatus(); renderKpi(); setLive($("live").dataset.connected === "true");
  });

  applyStatic();
  setLive(false);
  fetch("/api/v1/plant").then((r) => r.json()).then((plant) => {
    model.plant = plant;
    applyStatic(); renderStatus();
  });
  connect();
  setInterval(tick, 1000);
  tick();
})();
