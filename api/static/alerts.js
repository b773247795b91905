// Andon banner of the control-room display: the active alerts, raised and cleared live.
// Self-contained: display.js forwards each live-channel message as a "shopfloor:live" window event
// (and "shopfloor:live-open" on every (re)connection, when the list is read again from the API).
// Text from the plant (messages) is set with textContent only. Sound is off until someone turns it on.
(function () {
  "use strict";
  const banner = document.getElementById("alert-banner");
  const list = document.getElementById("alerts-list");
  const soundButton = document.getElementById("alerts-sound");
  const title = document.getElementById("alerts-title");
  const active = new Map(); // alert id -> alert (as the API writes it)
  let sound = localStorage.getItem("shopfloor.alertSound") === "on";
  let audio = null;

  const lang = () => (document.documentElement.lang === "en" ? "en" : "zh");
  const t = (key) => I18N[lang()][`alerts_${key}`];

  function beep() {
    if (!sound) return;
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (e) { /* no audio device: the banner still shows */ }
  }

  function render() {
    const items = [...active.values()].sort((a, b) =>
      (b.severity === "critical") - (a.severity === "critical") || a.raised_ns - b.raised_ns);
    list.replaceChildren(...items.map((a) => {
      const li = document.createElement("li");
      li.className = `alert ${a.severity}`;
      li.dataset.testid = `alert-${a.rule}-${a.equipment}`;
      li.dataset.severity = a.severity;
      const msg = document.createElement("b");
      msg.textContent = lang() === "zh" ? a.message_zh : a.message;
      const when = document.createElement("small");
      const at = a.raised.slice(11, 19); // the plant's local time, as the API writes it (not this PC's zone)
      when.textContent = ` ${t("since")} ${at}` + (a.acknowledged_by ? ` · ${t("ack")} (${a.acknowledged_by})` : "");
      li.append(msg, when);
      return li;
    }));
    banner.hidden = items.length === 0;
    banner.dataset.count = String(items.length);
    title.textContent = `${t("title")} (${items.length})`;
    soundButton.textContent = sound ? t("sound_on") : t("sound_off");
    soundButton.setAttribute("aria-pressed", String(sound));
  }

  function load() {
    fetch("/api/v1/alerts?state=active").then((r) => r.json()).then((body) => {
      active.clear();
      body.alerts.forEach((a) => active.set(a.id, a));
      render();
    }).catch(() => { /* the live channel brings the next change; read again on reconnection */ });
  }

  window.addEventListener("shopfloor:live-open", load);
  window.addEventListener("shopfloor:live", (ev) => {
    const msg = ev.detail;
    if (msg.type !== "alert") return;
    if (msg.transition === "cleared") active.delete(msg.alert.id);
    else active.set(msg.alert.id, msg.alert);
    render();
    if (msg.transition === "raised") beep();
  });
  soundButton.addEventListener("click", () => {
    sound = !sound;
    localStorage.setItem("shopfloor.alertSound", sound ? "on" : "off");
    render();
  });
  new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  render();
})();
