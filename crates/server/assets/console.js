// servicetask console: the page's script. Plain JavaScript, no dependencies.
// Views (by the URL hash): #/ instances (filters in the hash query), #/instance/ID, #/tasks
// (time window and refresh interval in the hash query: #/tasks?window=3600&refresh=5).
// Every view polls the server once a second (the task panels as often as chosen); actions go
// through the API with the token typed.
"use strict";

const POLL_MS = 1000;
const main = document.getElementById("main");
const live = document.getElementById("live");
const banner = document.getElementById("banner");
const tokenInput = document.getElementById("token");
let timer = null;
let view = null; // the current view's state; a new route makes a new one

tokenInput.value = sessionStorage.getItem("servicetask-token") || "";
tokenInput.addEventListener("change", () => {
  sessionStorage.setItem("servicetask-token", tokenInput.value);
  route(); // read again at once with the new token
});

// ---- helpers -------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function showError(message) {
  banner.textContent = message;
  banner.hidden = !message;
}

// GET or POST JSON; a problem+json answer becomes an Error carrying its detail.
async function api(path, body) {
  // the token goes with every call: a server with a token may guard reads too
  const init = { headers: { Accept: "application/json" } };
  if (tokenInput.value) init.headers.Authorization = "Bearer " + tokenInput.value;
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (res.status === 401) {
    throw new Error(`${init.method || "GET"} ${path}: the server asks for its API token: type it in the API token field above`);
  }
  if (!res.ok) {
    const detail = data && data.detail ? data.detail : text || res.statusText;
    throw new Error(`${init.method || "GET"} ${path}: ${res.status} ${detail}`);
  }
  return data;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

function seconds(s) {
  if (!(s > 0)) return "0";
  if (s < 1e-3) return (s * 1e6).toFixed(0) + " µs";
  if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + " ms";
  return s.toFixed(s < 10 ? 2 : 1) + " s";
}

function badge(state) {
  return el("span", { class: "badge " + state, "data-state": state, text: state });
}

function query() {
  const q = location.hash.split("?")[1] || "";
  return new URLSearchParams(q);
}

// ---- routing and polling -------------------------------------------------------------------

function route() {
  clearTimeout(timer);
  const hash = location.hash || "#/";
  for (const a of document.querySelectorAll("header nav a")) a.classList.remove("current");
  let nav = "instances";
  if (hash.startsWith("#/instance/")) {
    view = instanceView(decodeURIComponent(hash.slice("#/instance/".length)));
  } else if (hash.startsWith("#/tasks")) {
    view = tasksView();
    nav = "tasks";
  } else {
    view = listView();
    if (query().get("state") === "incident") nav = "incidents";
  }
  const current = document.querySelector(`header nav a[data-nav="${nav}"]`);
  if (current) current.classList.add("current");
  tick(view);
}

async function tick(v) {
  try {
    await v.refresh();
    if (v !== view) return;
    live.textContent = "live · " + new Date().toLocaleTimeString();
    live.classList.remove("stale");
  } catch (e) {
    if (v !== view) return;
    live.textContent = "not answering";
    live.classList.add("stale");
    showError(e.message);
  }
  // a view may poll at its own pace, or not at all (pollMs 0: refreshed only when asked)
  const every = v.pollMs === undefined ? POLL_MS : v.pollMs;
  if (v === view && every > 0) timer = setTimeout(() => tick(v), every);
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

// ---- the instances list --------------------------------------------------------------------

const STATES = ["", "active", "waiting", "incident", "completed", "failed", "cancelled"];
const SHOWN = 500; // instances listed at most

function listView() {
  const q = query();
  const state = el("select", { name: "state" }, STATES.map((s) => el("option", { value: s, text: s || "any" })));
  state.value = q.get("state") || "";
  const process = el("input", { name: "processId", value: q.get("processId") || "", placeholder: "any" });
  const key = el("input", { name: "businessKey", value: q.get("businessKey") || "", placeholder: "any" });
  const form = el("form", { class: "filters", id: "filters" },
    el("label", {}, "State", state), el("label", {}, "Process", process), el("label", {}, "Business key", key),
    el("button", { type: "submit", text: "Filter" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = "#/?" + p.toString();
  });
  const body = el("tbody", { id: "instances" });
  const counts = el("p", { class: "muted", id: "counts" });
  main.replaceChildren(el("h1", { text: "Instances" }), form, counts,
    el("table", {}, el("thead", {}, el("tr", {}, ["Instance", "Process", "Business key", "State", "Where", "Started"].map((h) => el("th", { text: h })))), body));
  return {
    async refresh() {
      // the API lists oldest first: the store's counts by state tell where the newest start
      const metrics = await api("/v1/metrics");
      const by = (metrics.store && metrics.store.instances) || [];
      const pairs = Array.isArray(by) ? by : Object.entries(by);
      const p = new URLSearchParams();
      for (const k of ["state", "processId", "businessKey"]) if (q.get(k)) p.set(k, q.get(k));
      p.set("limit", String(SHOWN));
      const narrowed = q.get("processId") || q.get("businessKey");
      const total = pairs.filter(([s]) => !q.get("state") || s === q.get("state")).reduce((n, [, c]) => n + c, 0);
      if (!narrowed && total > SHOWN) p.set("offset", String(total - SHOWN));
      const rows = await api("/v1/instances?" + p);
      showError("");
      let shown = pairs.map(([s, n]) => `${s}: ${n}`).join(" · ");
      if (total > SHOWN || rows.length === SHOWN) shown += narrowed ? ` — the first ${SHOWN} that match` : ` — the newest ${SHOWN}`;
      counts.textContent = shown;
      body.replaceChildren(...rows.slice().reverse().map((i) => el("tr", { "data-instance": i.id },
        el("td", {}, el("a", { href: "#/instance/" + encodeURIComponent(i.id) }, el("code", { text: i.id }))),
        el("td", { text: i.processId }), el("td", { text: i.businessKey || "" }), el("td", {}, badge(i.state)),
        el("td", { text: i.incidents.length ? i.incidents.map((x) => x.elementId).join(", ")
          : i.activeElements.map((a) => a.elementId).join(", ") }),
        el("td", { text: when(i.createdMs) }))));
      if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No instance matches." })));
    },
  };
}

// ---- one instance --------------------------------------------------------------------------

function instanceView(id) {
  const head = el("div", { class: "card", id: "summary" });
  const diagram = el("div", { class: "diagram", id: "diagram" }, el("p", { class: "muted", text: "Loading the diagram…" }));
  const note = el("div", { id: "diagram-note" });
  const incidents = el("section", { id: "incidents" });
  const tasks = el("section", { id: "user-tasks" });
  const vars = el("section", { id: "variables" });
  const history = el("section", { id: "history" });
  const legend = el("div", { class: "legend" }, [["done", "completed"], ["active", "active"], ["waiting", "waiting"], ["incident", "incident"]]
    .map(([c, t]) => el("span", {}, el("i", { class: "sw-" + c }), t)));
  main.replaceChildren(el("h1", {}, "Instance ", el("code", { text: id })), head, note, diagram, legend, incidents, tasks, vars, history);
  for (const i of legend.querySelectorAll("i")) i.style.background = getComputedStyle(document.documentElement).getPropertyValue("--" + i.className.slice(3));
  let drawnFor = null;
  let incidentKey = null;
  let taskKey = null;

  async function drawDiagram(inst) {
    const key = inst.deploymentId + "/" + inst.processId;
    if (drawnFor === key) return;
    drawnFor = key;
    const d = await api(`/console/api/diagram/${encodeURIComponent(inst.deploymentId)}/${encodeURIComponent(inst.processId)}`);
    diagram.innerHTML = d.svg; // drawn by the server, every name escaped
    diagram.dataset.layout = d.layout;
    note.replaceChildren(...(d.note ? [el("div", { class: "note", text: d.note })] : []));
  }

  function mark(inst) {
    const svg = diagram.querySelector("svg");
    if (!svg) return;
    const done = new Set(inst.completed);
    const state = new Map();
    for (const a of inst.activeElements) state.set(a.elementId, a.state === "incident" ? "incident" : a.state === "waiting" ? "waiting" : "active");
    for (const g of svg.querySelectorAll("g.el")) {
      const id = g.dataset.element;
      g.classList.toggle("done", done.has(id) && !state.has(id));
      for (const c of ["active", "waiting", "incident"]) g.classList.toggle(c, state.get(id) === c);
    }
    const reached = (e) => done.has(e) || state.has(e);
    for (const f of svg.querySelectorAll("g.flow")) f.classList.toggle("done", done.has(f.dataset.source) && reached(f.dataset.target));
  }

  function renderIncidents(inst, hist) {
    const key = JSON.stringify(inst.incidents);
    if (key === incidentKey) return;
    incidentKey = key;
    if (!inst.incidents.length) { incidents.replaceChildren(); return; }
    incidents.replaceChildren(el("h2", { text: "Incidents" }), ...inst.incidents.map((x) => {
      const failures = hist.filter((h) => h.element_id === x.elementId && h.kind === "job_completed");
      const input = el("textarea", { rows: 3, id: "retry-vars-" + x.tokenId, "aria-label": "variables to set before retrying" });
      input.value = "{}";
      const status = el("span", { class: "muted" });
      const button = el("button", { type: "button", id: "retry-" + x.tokenId, "data-retry": x.elementId, text: "Retry" });
      button.addEventListener("click", async () => {
        let variables;
        try { variables = JSON.parse(input.value || "{}"); } catch (e) { status.textContent = "variables: not JSON: " + e.message; return; }
        if (typeof variables !== "object" || Array.isArray(variables) || variables === null) { status.textContent = "variables: give a JSON object"; return; }
        button.disabled = true;
        status.textContent = "retrying…";
        try {
          const after = await api(`/v1/instances/${encodeURIComponent(id)}/incidents/${x.tokenId}/retry`, { variables });
          status.textContent = "retried: the instance is " + after.state;
          showError("");
        } catch (e) {
          status.textContent = "";
          showError(e.message);
          button.disabled = false;
        }
      });
      return el("div", { class: "card incident", "data-incident": x.elementId },
        el("div", {}, el("b", { text: x.elementId }), " · error class ", el("code", { text: x.errorClass })),
        el("pre", { class: "report", text: x.message }),
        el("p", { class: "muted", text: `${failures.length} recorded job result(s) at this element` }),
        el("label", {}, "Variables to set before retrying (JSON object)", input),
        el("div", { class: "actions" }, button, status));
    }));
  }

  // rebuilt only when the waiting tasks change, so a form being filled in is kept
  function renderTasks(inst) {
    const key = JSON.stringify(inst.waitingTasks);
    if (key === taskKey) return;
    taskKey = key;
    if (!inst.waitingTasks.length) { tasks.replaceChildren(); return; }
    tasks.replaceChildren(el("h2", { text: "Waiting tasks" }), ...inst.waitingTasks.map((t) => userTaskForm(id, t, inst.variables)));
  }

  return {
    async refresh() {
      const [inst, hist] = await Promise.all([api(`/v1/instances/${encodeURIComponent(id)}`), api(`/v1/instances/${encodeURIComponent(id)}/history`)]);
      head.replaceChildren(el("dl", { class: "kv" },
        el("dt", { text: "State" }), el("dd", { id: "state", "data-state": inst.state }, badge(inst.state)),
        el("dt", { text: "Process" }), el("dd", { text: inst.processId }),
        el("dt", { text: "Business key" }), el("dd", { text: inst.businessKey || "—" }),
        el("dt", { text: "Revision" }), el("dd", { text: inst.revision }),
        el("dt", { text: "Started" }), el("dd", { text: when(inst.createdMs) }),
        el("dt", { text: "Where" }), el("dd", { text: inst.activeElements.map((a) => `${a.elementId} (${a.state})`).join(", ") || "—" })));
      await drawDiagram(inst);
      mark(inst);
      renderIncidents(inst, hist);
      renderTasks(inst);
      vars.replaceChildren(el("h2", { text: "Variables" }), el("table", {}, el("tbody", {}, Object.entries(inst.variables).map(([k, v]) =>
        el("tr", {}, el("td", {}, el("code", { text: k })), el("td", {}, el("code", { text: JSON.stringify(v) })))))));
      history.replaceChildren(el("h2", { text: "History" }), el("table", {}, el("tbody", {}, hist.slice(-50).reverse().map((h) =>
        el("tr", {}, el("td", { text: when(h.at_ms) }), el("td", { text: h.kind }), el("td", {}, el("code", { text: h.element_id || "" })),
          el("td", {}, el("code", { text: h.detail || "" })))))));
      showError("");
    },
  };
}

// A form generated from the instance's variables: one field per variable, typed by its value
// (text, number, checkbox, JSON), and a free name/value pair. Only changed fields are sent, so a
// redacted value is never written back.
function userTaskForm(instanceId, task, variables) {
  const fields = [];
  const form = el("form", { class: "card user-task", "data-task": task.elementId });
  form.append(el("div", {}, el("b", { text: task.elementId }), el("span", { class: "muted", text: ` · token ${task.tokenId}` })));
  for (const [name, value] of Object.entries(variables)) {
    let input;
    if (typeof value === "boolean") input = el("input", { type: "checkbox", checked: value });
    else if (typeof value === "number") input = el("input", { type: "number", step: "any", value: String(value) });
    else if (typeof value === "string") input = el("input", { type: "text", value });
    else { input = el("textarea", { rows: 2 }); input.value = JSON.stringify(value); }
    input.name = name;
    input.dataset.kind = typeof value === "object" ? "json" : typeof value;
    fields.push(input);
    form.append(el("div", { class: "field" }, el("label", { text: name }), input));
  }
  const newName = el("input", { placeholder: "new variable", "aria-label": "new variable name" });
  const newValue = el("input", { placeholder: "JSON value, e.g. true", "aria-label": "new variable value" });
  form.append(el("div", { class: "field" }, newName, newValue));
  const status = el("span", { class: "muted" });
  const submit = el("button", { type: "submit", text: "Complete", "data-complete": task.elementId });
  form.append(el("div", { class: "actions" }, submit, status));
  for (const f of fields) f.addEventListener("change", () => { f.dataset.changed = "1"; });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = {};
    try {
      for (const f of fields.filter((f) => f.dataset.changed)) {
        const k = f.dataset.kind;
        out[f.name] = k === "boolean" ? f.checked : k === "number" ? Number(f.value) : k === "json" ? JSON.parse(f.value) : f.value;
      }
      if (newName.value.trim()) out[newName.value.trim()] = JSON.parse(newValue.value || "null");
    } catch (e) { status.textContent = "not JSON: " + e.message; return; }
    submit.disabled = true;
    status.textContent = "completing…";
    try {
      const after = await api(`/v1/instances/${encodeURIComponent(instanceId)}/tasks/${task.tokenId}/complete`, { variables: out });
      status.textContent = "completed: the instance is " + after.state;
      showError("");
    } catch (e) {
      status.textContent = "";
      showError(e.message);
      submit.disabled = false;
    }
  });
  return form;
}

// ---- per-task panels -----------------------------------------------------------------------

function chart(buckets) {
  const W = 400, H = 150, L = 48, B = 18, T = 8;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  const used = buckets.filter((b) => b.runs > 0);
  const max = Math.max(1e-9, ...used.map((b) => b.p99));
  const n = Math.max(1, buckets.length);
  const x = (i) => L + (i + 0.5) * (W - L - 4) / n;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  add("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B });
  add("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B });
  add("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, seconds(max));
  add("text", { x: L - 4, y: H - B, "text-anchor": "end" }, "0");
  const bw = Math.max(1, (W - L - 4) / n * 0.6);
  const maxFail = Math.max(1, ...buckets.map((b) => b.failures + b.breakerRejections));
  buckets.forEach((b, i) => {
    const hf = 30 * b.failures / maxFail, hr = 30 * b.breakerRejections / maxFail;
    if (hf) add("rect", { class: "fail", x: x(i) - bw / 2, y: H - B - hf, width: bw, height: hf });
    if (hr) add("rect", { class: "reject", x: x(i) - bw / 2, y: H - B - hf - hr, width: bw, height: hr });
  });
  for (const p of ["p50", "p95", "p99"]) {
    const pts = buckets.map((b, i) => [i, b]).filter(([, b]) => b.runs > 0).map(([i, b]) => `${x(i).toFixed(1)},${y(b[p]).toFixed(1)}`);
    if (pts.length) add("polyline", { class: p, points: pts.join(" ") });
  }
  if (buckets.length) {
    add("text", { x: L, y: H - 4 }, new Date(buckets[0].atMs).toLocaleTimeString());
    add("text", { x: W - 4, y: H - 4, "text-anchor": "end" }, new Date(buckets[buckets.length - 1].atMs).toLocaleTimeString());
  }
  return svg;
}

// a window in seconds as a person says it
function duration(s) {
  for (const [unit, n] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (s >= n && s % n === 0) return `${s / n} ${unit}${s / n === 1 ? "" : "s"}`;
  }
  return `${s} s`;
}

function taskCard(t, windowParam) {
  const size = el("input", { type: "number", min: "0", step: "any", placeholder: "input size", "aria-label": "input size" });
  const out = el("span", { class: "muted" });
  const ask = el("button", { type: "button", class: "secondary", text: "Predict", disabled: !t.predictable });
  ask.addEventListener("click", async () => {
    if (size.value === "") { out.textContent = "give an input size"; return; }
    try {
      const w = windowParam ? "&window=" + windowParam : "";
      const p = await api(`/console/api/tasks/${encodeURIComponent(t.name)}/predict?size=${encodeURIComponent(size.value)}${w}`);
      out.textContent = `expected ${seconds(p.expected)} (${Math.round(p.level * 100)}% interval ${seconds(p.low)} – ${seconds(p.high)})`;
    } catch (e) { out.textContent = e.message; }
  });
  return el("div", { class: "card task", "data-task": t.name },
    el("h2", { text: t.name }),
    el("div", {}, [["runs", t.runs], ["error rate", (100 * t.errorRate).toFixed(1) + " %"], ["p50", seconds(t.p50)], ["p95", seconds(t.p95)],
      ["p99", seconds(t.p99)], ["anomalies", t.anomalyCount]].map(([k, v]) => el("span", { class: "stat" }, el("b", { text: v }), k))),
    chart(t.buckets),
    el("p", { class: "muted", text: "lines: p50 (blue), p95 (amber), p99 (red) per time bucket; bars: failures (red), breaker rejections (purple)" }),
    t.errorClasses.length ? el("p", {}, "Errors: ", t.errorClasses.map(([c, n]) => `${c} × ${n}`).join(", ")) : null,
    t.anomalies.length ? el("table", {}, el("tbody", {}, t.anomalies.slice(0, 5).map((a) => el("tr", {}, el("td", { text: when(a.atMs) }),
      el("td", { text: a.metric }), el("td", { text: a.metric === "memory" ? `${Math.round(a.value)} B` : seconds(a.value) }),
      el("td", { class: "muted", text: a.expected == null ? "" : "expected " + (a.metric === "memory" ? `${Math.round(a.expected)} B` : seconds(a.expected)) }))))) : null,
    el("div", { class: "actions" }, size, ask, out,
      el("span", { class: "muted", text: t.model ? `grows as ${t.model}` : t.predictable ? "" : "needs 5 sized runs of 2 sizes to predict" })));
}

// the batches (`cx.batch`) running in this process: progress, rate and time left
function batchRows(list) {
  if (!list.length) return [];
  const count = (b) => `${b.done} done · ${b.failed} failed · ${b.total == null ? "?" : b.total} total`;
  const left = (b) => (b.finished ? "finished" : b.etaSeconds == null ? "unknown" : seconds(b.etaSeconds));
  return [el("h2", { text: "Batches" }), el("table", {},
    el("thead", {}, el("tr", {}, ["task", "batch", "progress", "items", "rate", "time left"].map((h) => el("th", { text: h })))),
    el("tbody", {}, list.map((b) => el("tr", { "data-batch": `${b.task}/${b.batch}` },
      el("td", { text: b.task }), el("td", {}, el("code", { text: b.batch })),
      el("td", {}, b.total == null ? el("progress", {}) : el("progress", { max: Math.max(b.total, 1), value: Math.min(b.done + b.failed, b.total) })),
      el("td", { text: count(b) }), el("td", { text: `${b.rate.toFixed(b.rate < 10 ? 1 : 0)}/s` }), el("td", { text: left(b) })))))];
}

// the task panels' time windows and refresh intervals offered (seconds; refresh 0: off)
const WINDOWS = [[300, "5 minutes"], [900, "15 minutes"], [3600, "1 hour"], [6 * 3600, "6 hours"], [86400, "24 hours"], [7 * 86400, "7 days"]];
const REFRESHES = [[1, "1 s"], [2, "2 s"], [5, "5 s"], [10, "10 s"], [30, "30 s"], [0, "off"]];

// the window and refresh controls, kept in the URL (#/tasks?window=S&refresh=S) so a link
// reproduces the view; a value from the URL not in the lists is offered as it is
function panelControls(q) {
  const option = ([v, t]) => el("option", { value: String(v), text: t });
  const withValue = (list, value, label) => (value && !list.some(([v]) => String(v) === value) ? [...list, [value, label(value)]] : list);
  const windowSel = el("select", { name: "window", id: "panel-window" },
    el("option", { value: "", text: "server default" }), withValue(WINDOWS, q.get("window"), (v) => `${v} s`).map(option));
  windowSel.value = q.get("window") || "";
  const refreshSel = el("select", { name: "refresh", id: "panel-refresh" }, withValue(REFRESHES, q.get("refresh"), (v) => `${v} s`).map(option));
  refreshSel.value = q.get("refresh") || "1";
  const now = el("button", { type: "button", class: "secondary", id: "panel-now", text: "Refresh now" });
  const change = () => {
    const p = new URLSearchParams();
    if (windowSel.value) p.set("window", windowSel.value);
    if (refreshSel.value !== "1") p.set("refresh", refreshSel.value);
    const qs = p.toString();
    location.hash = "#/tasks" + (qs ? "?" + qs : "");
  };
  windowSel.addEventListener("change", change);
  refreshSel.addEventListener("change", change);
  now.addEventListener("click", () => route());
  return el("form", { class: "filters", id: "panel-controls" },
    el("label", {}, "Time window", windowSel), el("label", {}, "Refresh", refreshSel), now);
}

function tasksView() {
  const q = query();
  const windowParam = /^\d+$/.test(q.get("window") || "") ? q.get("window") : null;
  const refresh = /^\d+$/.test(q.get("refresh") || "") ? Number(q.get("refresh")) : 1;
  const batches = el("section", { id: "batches" });
  const breakers = el("section", { id: "breakers" });
  const node = el("section", { id: "node" });
  const grid = el("div", { class: "grid", id: "task-panels" });
  const note = el("div", { id: "tasks-note" });
  const span = el("p", { class: "muted", id: "panel-span" });
  main.replaceChildren(el("h1", { text: "Tasks" }), panelControls(q), span, note, node, batches, breakers, grid);
  let shown = null;
  return {
    pollMs: refresh * 1000,
    async refresh() {
      const panelsPath = "/console/api/tasks" + (windowParam ? "?window=" + windowParam : "");
      const [p, m, b] = await Promise.all([api(panelsPath), api("/v1/metrics"), api("/console/api/batches")]);
      grid.dataset.window = String(p.windowSeconds);
      span.textContent = `over the last ${duration(p.windowSeconds)} · ${p.runs} execution(s) · ` +
        (refresh ? `refreshed every ${refresh} s` : "refreshed only when asked");
      batches.replaceChildren(...batchRows(b.batches));
      note.replaceChildren(...(p.message ? [el("div", { class: "note", text: p.message })] : []));
      const num = (o, snake) => (o ? o[snake] ?? o[snake.replace(/_(.)/g, (_, c) => c.toUpperCase())] ?? 0 : 0);
      node.replaceChildren(el("div", { class: "card" }, [["jobs completed", num(m, "jobs_completed")], ["jobs queued", num(m.store, "queue_depth")],
        ["jobs leased", num(m.store, "leased_jobs")], ["lease expiries", num(m, "lease_expiries")], ["take-overs", num(m, "takeovers")],
        ["late completions", num(m, "late_completions")], ["conflicts", num(m, "conflicts")]].map(([k, v]) => el("span", { class: "stat" }, el("b", { text: v }), k))));
      breakers.replaceChildren(...(p.breakers.length ? [el("h2", { text: "Circuit breakers" }), el("table", {}, el("tbody", {},
        p.breakers.map((b) => el("tr", {}, el("td", { text: b.name }), el("td", {}, badge(b.state === "closed" ? "completed" : "incident"), " ", b.state)))))] : []));
      // keep a prediction the user is reading: redraw only when the numbers changed
      const key = JSON.stringify(p.tasks);
      if (key !== shown) {
        shown = key;
        grid.replaceChildren(...p.tasks.map((t) => taskCard(t, windowParam)));
      }
      showError("");
    },
  };
}
