// What every page shares (plain JS, no build step): the language and its strings (api/static/i18n.js), number
// formatting, reading the API, and - for the pages that change state - the operator's key. Load after i18n.js.
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  // ?lang= first (a link or a screen's start-up URL says which), then the last one chosen here, else zh-CN
  let lang = params.get("lang") || localStorage.getItem("shopfloor.lang") || "zh";
  if (!(lang in I18N)) lang = "zh";
  const zh = () => lang === "zh";
  const fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v)) ? "—"
    : Number(v).toLocaleString(zh() ? "zh-CN" : "en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });

  // The API's reason for a refusal: its `detail` (a sentence, or FastAPI's list of field errors), else the status.
  function detailOf(answer, status) {
    const d = answer.detail;
    return (Array.isArray(d) ? d.map((x) => `${(x.loc || []).slice(1).join(".")}: ${x.msg}`).join("; ") : d) || `${status}`;
  }

  async function getJson(url) {
    const r = await fetch(url);
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(detailOf(body, r.status));
    return body;
  }

  // The other language, remembered, and in the address (a reload or a copied link keeps it).
  function toggleLang() {
    lang = zh() ? "en" : "zh";
    localStorage.setItem("shopfloor.lang", lang);
    const u = new URL(location.href);
    u.searchParams.set("lang", lang);
    history.replaceState(null, "", u);
  }

  // The page's fixed text in the language: every [data-i18n] element, the language button, and the links to the
  // other pages (`a[data-page]`), which carry the language on.
  function applyLanguage() {
    document.documentElement.lang = zh() ? "zh-CN" : "en";
    document.body.dataset.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = I18N[lang][el.dataset.i18n] || el.dataset.i18n; });
    const button = document.getElementById("lang");
    if (button) { button.textContent = I18N[lang].lang_button; button.dataset.lang = lang; }
    document.querySelectorAll("a[data-page]").forEach((a) => { a.href = `${a.dataset.page}?lang=${lang}`; });
  }

  // Fill a page's printer <select> (its options are named by applyLanguage's caller) and return the printer to
  // show: the one asked for (?printer=) if the plant has it, else the first; null when the plant has none.
  function printerPicker(select, plant, wanted) {
    if (!plant.printers.length) return null;
    const chosen = plant.printers.some((p) => p.id === wanted) ? wanted : plant.printers[0].id;
    plant.printers.forEach((p) => {
      const o = document.createElement("option");
      o.value = p.id;
      select.appendChild(o);
    });
    select.value = chosen;
    return chosen;
  }

  const KEY = "shopfloor.apiKey", OPERATOR = "shopfloor.operator";

  // The API key of a page that changes state (the page has #key-form, #key-input, #operator-input, #key-cancel,
  // #key-button): asked once per browser session and kept in sessionStorage (gone when the browser closes), with
  // the operator's name sent as who did it. A 401/403 forgets the key, so it is asked again. `onSaved` runs after
  // the form is submitted (the page relabels its key button).
  function operatorKey(onSaved) {
    const $ = (id) => document.getElementById(id);
    let waiters = [];
    function ask() {
      $("key-form").hidden = false;
      $("operator-input").value = sessionStorage.getItem(OPERATOR) || "";
      $("key-input").focus();
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    }
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY, $("key-input").value);
      sessionStorage.setItem(OPERATOR, $("operator-input").value.trim());
      $("key-input").value = "";
      $("key-form").hidden = true;
      waiters.forEach((w) => w.resolve());
      waiters = [];
      onSaved();
    });
    $("key-cancel").addEventListener("click", () => {
      $("key-form").hidden = true;
      waiters.forEach((w) => w.reject(new Error(I18N[lang].key_needed)));
      waiters = [];
    });
    $("key-button").addEventListener("click", () => { ask().catch(() => {}); });

    // A request with the key (asked first if none is kept); the operator's name goes in a JSON body, or in the
    // query of a request without one (a DELETE).
    async function send(method, url, body) {
      if (!sessionStorage.getItem(KEY)) await ask();
      const operator = sessionStorage.getItem(OPERATOR);
      const init = { method, headers: { "X-API-Key": sessionStorage.getItem(KEY) } };
      if (body !== null) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(operator ? { ...body, operator } : body);
      } else if (operator) {
        url += `?${new URLSearchParams({ operator })}`;
      }
      const r = await fetch(url, init);
      const answer = await r.json().catch(() => ({}));
      if (r.status === 401 || r.status === 403) sessionStorage.removeItem(KEY);
      if (!r.ok) throw new Error(detailOf(answer, r.status));
      return answer;
    }
    return { ask, send, has: () => !!sessionStorage.getItem(KEY) };
  }

  window.Page = {
    params,
    $: (id) => document.getElementById(id),
    lang: () => lang,
    zh,
    t: (key) => I18N[lang][key] || key,
    name: (o) => (o ? (zh() ? (o.name_zh || o.name) : o.name) : "—"),
    fmt,
    detailOf,
    getJson,
    toggleLang,
    applyLanguage,
    printerPicker,
    operatorKey,
  };
})();
