// The orders page (/orders): per line, the running order, starting and ending an order, importing a plan, the
// recent orders with their reports and the operator's order events (withdraw). Plain JS, no build step.
// Every figure comes from the API (the order reports are the KPI core's); the page only formats.
// Text from the plant file and from people (names, designs, operators) is set with textContent only.
(function () {
  "use strict";
  const { $, params, t, name, fmt, getJson } = Page;
  const when = (iso) => iso.slice(5, 16).replace("T", " "); // plant-local, as the API gives it
  const RELOAD_MS = 15000;

  const model = { plant: null, printer: params.get("printer"), orders: [], events: [], plan: [] };
  let render = 0;

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "status error" : "status";
  }

  const key = Page.operatorKey(() => applyStatic());
  const send = key.send;

  const base = () => `/api/v1/printers/${encodeURIComponent(model.printer)}/orders`;
  const design = (code) => (model.plant.designs || []).find((d) => d.code === code);
  const designText = (code, d) => (d ? `${code} ${name(d)} · ${d.colourway}` : (code ? String(code) : "—"));

  // ---- static labels and language
  function applyStatic() {
    Page.applyLanguage();
    $("key-button").textContent = key.has() ? t("key_change") : t("key_enter");
    if (model.plant) {
      $("plant-name").textContent = name(model.plant);
      document.title = `${t("orders_title")} · ${name(model.plant)}`;
      Array.from($("printer").options).forEach((o) => { o.textContent = name(model.plant.printers.find((p) => p.id === o.value)); });
      const chosen = $("design").value;
      $("design").replaceChildren();
      const fromPlan = document.createElement("option");
      fromPlan.value = "";
      fromPlan.textContent = t("design_from_plan");
      $("design").appendChild(fromPlan);
      (model.plant.designs || []).forEach((d) => {
        const o = document.createElement("option");
        o.value = String(d.code);
        o.textContent = designText(d.code, d);
        $("design").appendChild(o);
      });
      $("design").value = chosen;
    }
  }

  async function load() {
    try {
      // no range given: the current shift by the server's clock (the browser's may be off)
      const [orders, events, plan] = await Promise.all([
        getJson(base()), getJson(`${base()}/events?limit=30`), getJson(`${base()}/plan?limit=100`),
      ]);
      model.orders = orders.orders;
      model.events = events.events;
      model.plan = plan.orders;
    } catch (err) {
      setStatus(err.message, true);
    }
    draw();
  }

  // ---- drawing
  function cell(row, f) { return row.querySelector(`[data-f="${f}"]`); }
  function td(text, numeric) {
    const c = document.createElement("td");
    if (numeric) c.className = "num";
    c.textContent = text;
    return c;
  }

  function drawRunning() {
    const running = model.orders.length ? model.orders[model.orders.length - 1] : null;
    const on = running && running.ongoing ? running : null;
    $("run-order").textContent = on ? String(on.order_number) : t("order_none");
    $("run-design").textContent = on ? designText(on.design_code, on.design) : "—";
    $("run-metres").textContent = on ? `${fmt(on.kpis.printed_m)} m` : "—";
    const last = model.events.find((e) => e.withdrawn_id === null);
    $("run-source").textContent = !on ? "—" : (last && last.kind === "start" && last.order_number === on.order_number
      ? t("order_by_operator") : t("order_by_plc"));
  }

  // per metre, and the saving against the plant's baseline (the API's figure) in brackets
  function perMetre(v, digits, savingPct) {
    if (v === null) return "—";
    return savingPct === null || savingPct === undefined ? fmt(v, digits) : `${fmt(v, digits)} (${t("saving")} ${fmt(savingPct, 0)} %)`;
  }

  function drawOrders() {
    const body = $("orders");
    body.replaceChildren();
    model.orders.slice().reverse().forEach((o) => {
      const tr = document.createElement("tr");
      tr.setAttribute("data-testid", "order-row");
      tr.dataset.order = String(o.order_number);
      tr.dataset.running = String(o.ongoing);
      const k = o.kpis, times = k.times;
      tr.append(
        td(String(o.order_number)), td(designText(o.design_code, o.design)),
        td(o.colourway || "—"), td(o.fabric || "—"), // the plan's; none without one
        td(`${when(o.start)} – ${o.ongoing ? "…" : when(o.end)}`),
        td(fmt(k.good_m), true), td(fmt(k.defective_m), true),
        td(fmt(times.apt_s / 60), true), td(fmt(times.aust_s / 60), true),
        td(k.oee.oee_pct === null ? "—" : `${fmt(k.oee.oee_pct, 1)} %`, true),
        td(perMetre(k.energy.energy_kwh_per_m, 3, k.energy.energy_saving_pct), true),
        td(perMetre(k.energy.water_l_per_m, 2, k.energy.water_saving_pct), true),
        td(o.remaining_m === null ? "—" : `${fmt(o.remaining_m)} m`, true),
      );
      body.appendChild(tr);
    });
    if (!model.orders.length) {
      const tr = document.createElement("tr");
      const c = td(t("orders_none"));
      c.colSpan = 13;
      tr.appendChild(c);
      body.appendChild(tr);
    }
  }

  function drawEvents() {
    const list = $("events");
    list.replaceChildren();
    model.events.forEach((e) => {
      const li = $("event-item").content.firstElementChild.cloneNode(true);
      li.dataset.id = String(e.id);
      li.dataset.withdrawn = String(e.withdrawn_id !== null);
      cell(li, "what").textContent = e.kind === "start"
        ? `${t("order_started")} ${e.order_number} (${designText(e.design_code, design(e.design_code))})` : t("order_ended");
      cell(li, "when").textContent = when(e.at);
      cell(li, "who").textContent = e.withdrawn_id === null ? e.operator : `${e.operator} · ${t("withdrawn_by")} ${e.withdrawn_by}`;
      const button = cell(li, "withdraw");
      button.hidden = e.withdrawn_id !== null;
      button.textContent = t("withdraw");
      button.addEventListener("click", () => {
        send("DELETE", `${base()}/events/${e.id}`, null)
          .then(() => { setStatus(t("saved"), false); return load(); })
          .catch((err) => setStatus(err.message, true));
      });
      list.appendChild(li);
    });
  }

  function drawPlan() {
    $("planned").replaceChildren();
    model.plan.forEach((p) => {
      const o = document.createElement("option");
      o.value = String(p.order_number);
      o.textContent = `${p.order_number} · ${designText(p.design_code, design(p.design_code))} · ${fmt(p.metres_ordered)} m`;
      $("planned").appendChild(o);
    });
  }

  function draw() {
    if (model.plant) { drawRunning(); drawOrders(); drawEvents(); drawPlan(); }
    render += 1;
    document.body.dataset.render = String(render);
  }

  // ---- actions
  $("start-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { order_number: Number($("order-number").value) };
    if ($("design").value !== "") body.design_code = Number($("design").value);
    if ($("start-at").value) body.at = $("start-at").value; // no offset: plant-local, as the API reads it
    send("POST", `${base()}/start`, body)
      .then((r) => { setStatus(`${t("order_started")} ${r.event.order_number}`, false); return load(); })
      .catch((err) => setStatus(err.message, true));
  });
  $("end-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = $("end-at").value ? { at: $("end-at").value } : {};
    send("POST", `${base()}/end`, body)
      .then(() => { setStatus(t("order_ended"), false); return load(); })
      .catch((err) => setStatus(err.message, true));
  });
  $("plan-file").addEventListener("change", () => {
    const file = $("plan-file").files[0];
    if (file) file.text().then((text) => { $("plan-csv").value = text; });
  });
  $("plan-form").addEventListener("submit", (e) => {
    e.preventDefault();
    send("POST", `${base()}/plan`, { csv: $("plan-csv").value })
      .then((r) => { setStatus(`${t("plan_imported")}: ${r.orders.length}`, false); return load(); })
      .catch((err) => setStatus(err.message, true));
  });

  $("lang").addEventListener("click", () => {
    Page.toggleLang();
    applyStatic(); draw();
  });
  $("printer").addEventListener("change", () => {
    model.printer = $("printer").value;
    const u = new URL(location.href);
    u.searchParams.set("printer", model.printer);
    history.replaceState(null, "", u);
    load();
  });

  applyStatic();
  getJson("/api/v1/plant").then((plant) => {
    model.plant = plant;
    model.printer = Page.printerPicker($("printer"), plant, model.printer);
    if (model.printer === null) { setStatus(t("no_printers_board"), true); return; }
    applyStatic();
    setInterval(load, RELOAD_MS);
    return load();
  }).catch((err) => setStatus(err.message, true));
})();
