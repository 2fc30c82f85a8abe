// Shared by every page: API calls, the reconnecting socket, ids, charts.

/** Calls the JSON API. Mutations carry the CSRF token the login handed out. */
export async function api(method, path, body) {
  const headers = {};
  const csrf = sessionStorage.getItem("pollcast.csrf");
  if (csrf) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = new Error(data?.error?.message || `request failed (${response.status})`);
    error.status = response.status;
    error.code = data?.error?.code;
    throw error;
  }
  return data;
}

/** The presenter behind the session cookie, or null. Keeps the CSRF token for later calls. */
export async function whoAmI() {
  try {
    const me = await api("GET", "/api/me");
    sessionStorage.setItem("pollcast.csrf", me.csrf);
    return me;
  } catch {
    return null;
  }
}

/** A random participant id of 128 bits, kept in localStorage so a reload is the same person. */
export function participantId() {
  let id = localStorage.getItem("pollcast.participant");
  if (!id || !/^[0-9a-f]{32}$/.test(id)) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem("pollcast.participant", id);
  }
  return id;
}

/**
 * A WebSocket to a room that reconnects by itself with capped, jittered backoff.
 * `onStatus` hears "connecting" | "online" | "offline"; `onMessage` every frame.
 * `onEnded` (consoles) hears the server end the session (close 1008): no reconnect.
 */
export class RoomSocket {
  constructor(room, role, { onOpen, onMessage, onStatus, onEnded, token } = {}) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/${encodeURIComponent(room)}?role=${role}`
      + (token ? `&token=${encodeURIComponent(token)}` : "");
    this.onOpen = onOpen || (() => {});
    this.onMessage = onMessage || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onEnded = onEnded;
    this.attempt = 0;
    this.socket = null;
    this.closedByUs = false;
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    this.onStatus("connecting");
    const socket = new WebSocket(this.url, "pollcast.v1");
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onStatus("online");
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket || this.closedByUs) return;
      if (event.code === 1008 && this.onEnded) {
        this.closedByUs = true;
        this.onEnded(event.reason);
        return;
      }
      this.onStatus("offline");
      const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  reconnectNow() {
    if (!this.socket || this.socket.readyState === WebSocket.CLOSED) {
      this.attempt = 0;
      this.connect();
    }
  }

  get isOpen() { return this.socket?.readyState === WebSocket.OPEN; }

  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }
}

/** Creates an element with attributes and children (text is always text, never markup). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const letter = (index) => String.fromCharCode(65 + index);

/** Rows of `{label, count}` for a results frame of a poll. */
export function resultRows(poll, results) {
  if (!poll || !results) return [];
  if (results.counts) {
    return poll.options.map((label, i) => ({ key: letter(i), label, count: results.counts[i] || 0, index: i }));
  }
  if (results.words) return results.words.map(([word, count]) => ({ key: word, label: word, count }));
  return [];
}

/**
 * Draws results into `container`: the chart (bar, column, pie, donut) and, always,
 * a table with the same figures for screen readers and small screens.
 * Bars animate through CSS transitions on widths set with the CSSOM (CSP allows it).
 */
export function renderResults(container, poll, results, options = {}) {
  const compact = options.compact || false;
  if (!poll || !results) {
    container.replaceChildren();
    return;
  }
  if (results.hidden && !results.counts && !results.words && !results.responses) {
    container.replaceChildren(
      el("p", { class: "hidden-note" }, "Responses hidden"),
      el("p", { class: "total" }, respondents(results.total)));
    return;
  }
  if (results.responses) {
    // The console passes `moderate(text, hidden)`: each response gets a button to hide
    // it from the room, and hidden ones are listed with a button to show them again.
    const moderate = options.moderate;
    const item = (text, hidden) => el("li", { class: hidden ? "moderated" : null }, el("span", {}, text),
      moderate ? el("button", { type: "button", class: "small", onclick: () => moderate(text, !hidden) },
        hidden ? "Show again" : "Hide from screen") : null);
    container.replaceChildren(
      el("p", { class: "total" }, respondents(results.total)),
      el("ul", { class: "responses" }, results.responses.slice(0, 100).map((text) => item(text, false))),
      moderate && results.moderated?.length
        ? el("div", {}, el("h4", {}, "Hidden from the room"),
          el("ul", { class: "responses" }, results.moderated.map((text) => item(text, true))))
        : null);
    return;
  }
  const rows = resultRows(poll, results);
  const total = results.total || 0;
  const sum = rows.reduce((a, r) => a + r.count, 0);
  const percent = (n) => (sum ? Math.round((100 * n) / sum) : 0);
  const shown = (n) => (poll.settings?.showPercent ? `${percent(n)}%` : String(n));
  const correct = new Set(poll.revealed ? poll.settings?.correct || [] : []);
  const style = results.words ? "cloud" : poll.settings?.chart || "bar";
  const chart = drawChart(style, rows, sum, shown, correct, container.querySelector(".chart"));
  const table = el("table", { class: compact ? "figures compact" : "figures" },
    el("caption", {}, `Results, round ${results.round}: ${respondents(total)}`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Answer"), el("th", { scope: "col" }, "Count"), el("th", { scope: "col" }, "Share"))),
    el("tbody", {}, rows.map((r) => el("tr", { class: correct.has(r.index) ? "correct" : null },
      el("th", { scope: "row" }, results.words ? r.label : `${r.key}. ${r.label}`, correct.has(r.index) ? " (correct)" : ""),
      el("td", { "data-count": r.count }, r.count),
      el("td", {}, `${percent(r.count)}%`)))));
  // Keep a reused chart in place (moving it would restart its transitions).
  const oldTable = container.querySelector("table.figures");
  if (chart.isConnected && chart.parentNode === container && oldTable) oldTable.replaceWith(table);
  else container.replaceChildren(chart, table);
}

function respondents(n) {
  return `${n || 0} ${n === 1 ? "response" : "responses"}`;
}

function drawChart(style, rows, sum, shown, correct, previous) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  if (style === "cloud") {
    return el("div", { class: "chart cloud", "aria-hidden": "true" }, rows.map((r) => {
      const word = el("span", {}, r.label);
      word.style.fontSize = `${1 + (2.5 * r.count) / max}em`;
      return word;
    }));
  }
  if (style === "pie" || style === "donut") {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "-1.1 -1.1 2.2 2.2");
    svg.setAttribute("class", `chart ${style}`);
    svg.setAttribute("aria-hidden", "true");
    let angle = -Math.PI / 2;
    rows.forEach((r, i) => {
      if (!r.count || !sum) return;
      const sweep = (2 * Math.PI * r.count) / sum;
      const path = document.createElementNS(ns, "path");
      const x1 = Math.cos(angle), y1 = Math.sin(angle);
      const x2 = Math.cos(angle + sweep - 1e-6), y2 = Math.sin(angle + sweep - 1e-6);
      path.setAttribute("d", `M0 0 L${x1} ${y1} A1 1 0 ${sweep > Math.PI ? 1 : 0} 1 ${x2} ${y2} Z`);
      path.setAttribute("class", `slice s${i % 8}`);
      svg.append(path);
      const mid = angle + sweep / 2;
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", String(0.7 * Math.cos(mid)));
      label.setAttribute("y", String(0.7 * Math.sin(mid)));
      label.setAttribute("class", "slice-label");
      label.textContent = `${r.key} ${shown(r.count)}`;
      svg.append(label);
      angle += sweep;
    });
    if (style === "donut") {
      const hole = document.createElementNS(ns, "circle");
      hole.setAttribute("r", "0.5");
      hole.setAttribute("class", "hole");
      svg.append(hole);
    }
    return svg;
  }
  // Bars and columns: reuse the previous bars so widths animate from where they were.
  const reuse = previous && previous.dataset.style === style && previous.children.length === rows.length;
  const chart = reuse ? previous : el("div", { class: `chart bars ${style}`, "data-style": style, "aria-hidden": "true" },
    rows.map((r, i) => el("div", { class: "bar-row" },
      el("span", { class: "bar-label" }, `${r.key}. ${r.label}`),
      el("span", { class: "bar-track" }, el("span", { class: `bar-fill s${i % 8}` })),
      el("span", { class: "bar-value" }))));
  rows.forEach((r, i) => {
    const row = chart.children[i];
    const fill = row.querySelector(".bar-fill");
    const size = `${(100 * r.count) / max}%`;
    if (style === "column") fill.style.height = size;
    else fill.style.width = size;
    row.classList.toggle("correct", correct.has(r.index));
    row.querySelector(".bar-value").textContent = shown(r.count);
  });
  return chart;
}
