// The hour-by-hour board (/board): per hour of a shift, target against actual, comments, and the shift's stops
// that need a reason, from /api/v1/printers/{id}/hour-by-hour. Plain JS, no build step.
// Everything computed (targets, variances, bands, the projection) comes from the API; the page only formats.
// Text from the plant file and from people (names, reasons, comments) is set with textContent only.
(function () {
  "use strict";
  const { $, params, t, zh, name, fmt, getJson } = Page;
  const signed = (v) => (v === null || v === undefined) ? "—" : (v > 0 ? "+" : "") + fmt(v);
  const hhmm = (iso) => iso.slice(11, 16); // the API's times are plant-local with their offset
  const RELOAD_MIN_MS = 5000; // live messages come every few seconds: the board reloads at most this often

  const model = { plant: null, board: null, printer: params.get("printer"), shift: params.get("shift"), picking: null };
  let render = 0;
  let lastLoad = 0;

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "status error" : "status";
  }

  const key = Page.operatorKey(() => applyStatic());
  const post = (url, body) => key.send("POST", url, body);

  // ---- static labels and language
  function applyStatic() {
    Page.applyLanguage();
    $("key-button").textContent = key.has() ? t("key_change") : t("key_enter");
    if (model.plant) {
      $("plant-name").textContent = name(model.plant);
      document.title = `${t("board_title")} · ${name(model.plant)}`;
      Array.from($("printer").options).forEach((o) => { o.textContent = name(model.plant.printers.find((p) => p.id === o.value)); });
    }
  }

  function url() {
    const q = new URLSearchParams();
    if (model.shift) q.set("shift", model.shift);
    return `/api/v1/printers/${encodeURIComponent(model.printer)}/hour-by-hour?${q}`;
  }

  async function load() {
    lastLoad = Date.now();
    try {
      model.board = await getJson(url());
      setStatus("", false);
    } catch (err) {
      setStatus(err.message, true);
    }
    draw();
  }

  // ---- drawing
  function cell(row, f) { return row.querySelector(`[data-f="${f}"]`); }
  function banded(el, text, band) {
    el.textContent = text;
    el.classList.remove("green", "amber", "red");
    if (band) el.classList.add(band);
  }

  function drawHours(b) {
    const body = $("hours");
    const open = new Set(Array.from(body.querySelectorAll("form:not([hidden])")).map((f) => f.closest("tr").dataset.index));
    body.replaceChildren();
    b.hours.forEach((h) => {
      const row = $("hour-row").content.firstElementChild.cloneNode(true);
      row.dataset.index = String(h.index);
      row.dataset.band = h.band || "";
      row.dataset.started = String(h.started);
      row.dataset.running = String(h.started && !h.finished);
      cell(row, "hour").textContent = `${hhmm(h.start)}–${hhmm(h.end)}`;
      cell(row, "planned").textContent = fmt(h.planned_min);
      cell(row, "target").textContent = fmt(h.target_m);
      cell(row, "actual").textContent = h.started ? fmt(h.actual_m) : "";
      banded(cell(row, "variance"), h.started ? signed(h.variance_m) : "", h.band);
      cell(row, "cum_target").textContent = fmt(h.cum_target_m);
      cell(row, "cum_actual").textContent = h.started ? fmt(h.cum_actual_m) : "";
      banded(cell(row, "cum_variance"), h.started ? signed(h.cum_variance_m) : "", null);
      const comment = cell(row, "comment");
      comment.textContent = h.comment ? h.comment.text : "";
      if (h.comment) comment.title = `${h.comment.operator} · ${h.comment.at.slice(0, 16).replace("T", " ")}`;
      const edit = cell(row, "edit");
      edit.hidden = !h.started;
      edit.textContent = h.comment ? t("edit") : t("add_comment");
      const form = cell(row, "form");
      edit.addEventListener("click", () => {
        form.hidden = false;
        cell(row, "text").value = h.comment ? h.comment.text : "";
        cell(row, "text").focus();
      });
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const text = cell(row, "text").value.trim();
        post(`/api/v1/printers/${encodeURIComponent(model.printer)}/hour-by-hour/comments`,
          { shift: b.range.shift.key, hour_index: h.index, text })
          .then(() => { form.hidden = true; setStatus(t("saved"), false); return load(); })
          .catch((err) => setStatus(err.message, true));
      });
      if (open.has(String(h.index))) form.hidden = false;
      form.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
      body.appendChild(row);
    });
  }

  function reasonText(stop) {
    const parts = stop.segments.map((s) => (s.reason_key === null ? t("no_reason") : (zh() ? s.reason_zh : s.reason)));
    return Array.from(new Set(parts)).join(" / ");
  }

  function drawStops(b) {
    const list = $("stops");
    list.replaceChildren();
    const all = $("all-stops").checked;
    const shown = b.stops.filter((s) => all || s.needs_reason);
    shown.forEach((s) => {
      const li = $("stop-item").content.firstElementChild.cloneNode(true);
      li.dataset.start = s.start;
      li.dataset.needsReason = String(s.needs_reason);
      cell(li, "when").textContent = `${s.start.slice(11, 19)}–${s.ongoing ? "…" : s.end.slice(11, 19)}`;
      cell(li, "duration").textContent = `${fmt(s.duration_s / 60, 1)} ${t("min")}`;
      cell(li, "reason").textContent = reasonText(s);
      cell(li, "pick").textContent = t("set_reason");
      cell(li, "split").textContent = t("split");
      cell(li, "pick").addEventListener("click", () => openPicker({ stop: s, split: false, first: null }));
      cell(li, "split").addEventListener("click", () => openPicker({ stop: s, split: true, first: null }));
      list.appendChild(li);
    });
    if (!shown.length) {
      const li = document.createElement("li");
      li.setAttribute("data-testid", "no-stops");
      li.textContent = t(all ? "no_stops" : "all_have_reasons");
      list.appendChild(li);
    }
  }

  // ---- the reason picker: one stop's reason, or the two parts of a split one after the other
  function openPicker(picking) {
    model.picking = picking;
    const s = picking.stop;
    $("picker").hidden = false;
    $("split-box").hidden = !picking.split || picking.first !== null;
    if (picking.split && picking.first === null) {
      const mid = new Date((Date.parse(s.start) + Date.parse(s.end)) / 2);
      const offsetMs = Date.parse(s.start.slice(0, 19) + "Z") - Date.parse(s.start); // the plant's UTC offset
      $("split-at").value = new Date(mid.getTime() + offsetMs).toISOString().slice(11, 19);
    }
    const when = `${s.start.slice(11, 19)}–${s.end.slice(11, 19)}`;
    $("picker-title").textContent = !picking.split ? `${t("reason_for")} ${when}`
      : `${picking.first === null ? t("reason_first") : t("reason_second")} ${when}`;
    const groups = $("picker-groups");
    groups.replaceChildren();
    const byCategory = new Map();
    model.plant.stop_reasons.forEach((r) => {
      if (!byCategory.has(r.category)) byCategory.set(r.category, []);
      byCategory.get(r.category).push(r);
    });
    byCategory.forEach((reasons, category) => {
      const h = document.createElement("h3");
      h.textContent = t(`cat_${category}`);
      const box = document.createElement("div");
      box.className = "choices";
      reasons.forEach((r) => {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.dataset.code = String(r.code);
        btn.setAttribute("data-testid", "reason-choice");
        btn.textContent = zh() ? r.name_zh : r.name;
        btn.addEventListener("click", () => choose(r.code));
        box.appendChild(btn);
      });
      groups.append(h, box);
    });
    $("picker").scrollIntoView({ block: "nearest" });
  }

  function closePicker() { model.picking = null; $("picker").hidden = true; }
  $("picker-cancel").addEventListener("click", closePicker);

  function splitAtIso(stop) {
    // the picked wall time on the stop's day (or the next one, for a stop across midnight), with the plant's offset
    const time = $("split-at").value.length === 5 ? `${$("split-at").value}:00` : $("split-at").value;
    const offset = (iso) => iso.match(/([+-]\d\d:\d\d|Z)$/)[1]; // the times may carry fractions of a second
    const onStart = `${stop.start.slice(0, 11)}${time}${offset(stop.start)}`;
    return Date.parse(onStart) > Date.parse(stop.start) ? onStart : `${stop.end.slice(0, 11)}${time}${offset(stop.end)}`;
  }

  function choose(code) {
    const p = model.picking;
    if (!p) return;
    const base = `/api/v1/printers/${encodeURIComponent(model.printer)}/stops`;
    let request;
    if (!p.split) {
      request = post(`${base}/reason`, { start: p.stop.start, end: p.stop.end, reason_code: code });
    } else if (p.first === null) {
      p.splitAt = splitAtIso(p.stop);
      openPicker({ ...p, first: code });
      model.picking.splitAt = p.splitAt;
      return;
    } else {
      request = post(`${base}/split`, {
        start: p.stop.start, end: p.stop.end, split_at: p.splitAt, reason_before: p.first, reason_after: code,
      });
    }
    request.then(() => { closePicker(); setStatus(t("saved"), false); return load(); })
      .catch((err) => setStatus(err.message, true));
  }

  function draw() {
    const b = model.board;
    if (b) {
      const sh = b.range.shift;
      $("shift-label").textContent = `${zh() ? sh.name_zh : sh.name} · ${sh.key}${sh.crew ? ` · ${t("crew")} ${sh.crew}` : ""}`;
      $("sum-target").textContent = `${fmt(b.target_m)} m`;
      $("sum-due").textContent = `${fmt(b.due_m)} m`;
      $("sum-actual").textContent = b.actual_m === null ? "—" : `${fmt(b.actual_m)} m`;
      $("sum-rate").textContent = b.rate_m_min === null ? "—" : `${fmt(b.rate_m_min, 1)} m/min`;
      banded($("sum-projected"), b.projected_m === null ? "—" : `${fmt(b.projected_m)} m`, b.projected_band);
      $("gap-note").textContent = b.across_gap_m > 0 ? t("gap_note").replace("{m}", fmt(b.across_gap_m)) : "";
      drawHours(b);
      drawStops(b);
    }
    render += 1;
    document.body.dataset.render = String(render);
  }

  // ---- live: reload on the live channel's KPI snapshots (at most every RELOAD_MIN_MS), reconnecting by itself
  let delay = 1000;
  function setLive(ok) {
    $("live").dataset.connected = ok ? "true" : "false";
    $("live-text").textContent = ok ? t("live") : t("offline");
  }
  // the current shift (no shift= in the URL: it moves on to the next shift by itself), or a named one still running
  function following() {
    const b = model.board;
    return !model.shift || !b || !b.hours[b.hours.length - 1].finished;
  }
  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`);
    ws.onopen = () => { delay = 1000; setLive(true); };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "kpi" && model.printer && following() && Date.now() - lastLoad >= RELOAD_MIN_MS) load();
    };
    ws.onclose = () => { setLive(false); setTimeout(connect, delay); delay = Math.min(10000, delay * 2); };
    ws.onerror = () => ws.close();
  }

  $("lang").addEventListener("click", () => {
    Page.toggleLang();
    applyStatic(); setLive($("live").dataset.connected === "true"); draw();
    if (model.picking) openPicker(model.picking);
  });
  $("all-stops").addEventListener("change", () => draw());
  $("printer").addEventListener("change", () => {
    model.printer = $("printer").value;
    const u = new URL(location.href);
    u.searchParams.set("printer", model.printer);
    history.replaceState(null, "", u);
    closePicker();
    load();
  });

  applyStatic();
  setLive(false);
  getJson("/api/v1/plant").then((plant) => {
    model.plant = plant;
    model.printer = Page.printerPicker($("printer"), plant, model.printer);
    if (model.printer === null) { setStatus(t("no_printers_board"), true); return; }
    applyStatic();
    connect();
    return load();
  }).catch((err) => setStatus(err.message, true));
})();
