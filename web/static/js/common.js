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
 * Bars animate through CSS transitions on sizes set with the CSSOM (CSP allows it).
 * Options: `compact` (phones, console rounds); `moderate(text, hidden)` (console, open
 * polls); `total: false` leaves the respondent count out, for a page that shows it
 * elsewhere (the screen), so it is never printed twice.
 */
export function renderResults(container, poll, results, options = {}) {
  const compact = options.compact || false;
  const withTotal = options.total !== false;
  if (!poll || !results) {
    container.replaceChildren();
    return;
  }
  const total = withTotal ? el("p", { class: "total" }, respondents(results.total)) : null;
  // `replaceChildren` would print a null as the text "null": leave the missing parts out.
  const fill = (...parts) => container.replaceChildren(...parts.filter(Boolean));
  if (results.hidden && !results.counts && !results.words && !results.responses) {
    fill(el("p", { class: "hidden-note" }, "Responses hidden"), total);
    return;
  }
  if (results.responses) {
    // The console passes `moderate(text, hidden)`: each response gets a button to hide
    // it from the room, and hidden ones are listed with a button to show them again.
    const moderate = options.moderate;
    const item = (text, hidden) => el("li", { class: hidden ? "moderated" : null }, el("span", {}, text),
      moderate ? el("button", { type: "button", class: "small", onclick: () => moderate(text, !hidden) },
        hidden ? "Show again" : "Hide from screen") : null);
    fill(
      total,
      el("ul", { class: "responses" }, results.responses.slice(0, 100).map((text) => item(text, false))),
      moderate && results.moderated?.length
        ? el("div", {}, el("h4", {}, "Hidden from the room"),
          el("ul", { class: "responses" }, results.moderated.map((text) => item(text, true))))
        : null);
    return;
  }
  if (results.baseline && results.counts && poll.settings?.compareRounds) {
    drawComparison(container, poll, results, total);
    return;
  }
  const rows = resultRows(poll, results);
  const sum = rows.reduce((a, r) => a + r.count, 0);
  const percent = (n) => (sum ? Math.round((100 * n) / sum) : 0);
  const shown = (n) => (poll.settings?.showPercent ? `${percent(n)}%` : String(n));
  const correct = new Set(poll.revealed ? poll.settings?.correct || [] : []);
  const style = results.words ? "cloud" : chartStyle(poll.settings?.chart);
  const chart = drawChart(style, rows, sum, shown, correct, container.querySelector(".chart"));
  // The caption names the round only: the count is the page's to show, once.
  const table = el("table", { class: compact ? "figures compact" : "figures" },
    el("caption", {}, `Results, round ${results.round}`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Answer"), el("th", { scope: "col" }, "Count"), el("th", { scope: "col" }, "Share"))),
    el("tbody", {}, rows.map((r) => el("tr", { class: correct.has(r.index) ? "correct" : null },
      el("th", { scope: "row" }, results.words ? r.label : `${r.key}. ${r.label}`, correct.has(r.index) ? " (correct)" : ""),
      el("td", { "data-count": r.count }, r.count),
      el("td", {}, `${percent(r.count)}%`)))));
  // Keep a reused chart in place (moving it would restart its transitions).
  const oldTable = container.querySelector("table.figures");
  const oldTotal = container.querySelector(":scope > p.total");
  if (chart.isConnected && chart.parentNode === container && oldTable && !oldTotal === !total) {
    oldTable.replaceWith(table);
    oldTotal?.replaceWith(total);
  } else {
    fill(chart, total, table);
  }
}

/** A share of respondents as a whole percentage (0 with nobody). */
const share = (count, total) => (total ? Math.round((100 * count) / total) : 0);

/** "+12 pts", "−1 pt", "±0 pts": a change in percentage points. */
export function pointsChange(before, after) {
  const d = after - before;
  return `${d > 0 ? "+" : d < 0 ? "−" : "±"}${Math.abs(d)} ${Math.abs(d) === 1 ? "pt" : "pts"}`;
}

/**
 * Pre/post: round 1 beside the current round for every option, as shares of each
 * round's respondents (the rounds may have different numbers of people), with the
 * change in percentage points; once the right answer is revealed, a headline with the
 * share who got it right then and now. The table says the same for screen readers.
 */
function drawComparison(container, poll, results, total) {
  const before = results.baseline, after = results;
  const correct = new Set(poll.revealed ? poll.settings?.correct || [] : []);
  const nowName = `Round ${after.round}`;
  const rows = poll.options.map((label, i) => ({
    key: letter(i), label, index: i,
    before: share(before.counts[i] || 0, before.total), after: share(after.counts[i] || 0, after.total),
  }));
  const bar = (kind, value) => el("span", { class: `compare-bar ${kind}` },
    el("span", { class: "bar-track" }, (() => {
      const fill = el("span", { class: `bar-fill ${kind}` });
      fill.style.width = `${value}%`;
      return fill;
    })()),
    el("span", { class: "bar-value" }, `${value}%`));
  const children = [
    el("p", { class: "compare-legend" },
      el("span", { class: "swatch before" }), ` Round ${before.round}: ${respondents(before.total)}`,
      el("span", { class: "legend-gap" }), el("span", { class: "swatch after" }), ` ${nowName}: ${respondents(after.total)}`),
  ];
  // With one answer to pick, the share who got it right is the right options' shares added up.
  if (correct.size && (poll.settings?.maxChoices || 1) === 1) {
    const right = (counts, n) => share([...correct].reduce((a, i) => a + (counts[i] || 0), 0), n);
    const [was, now] = [right(before.counts, before.total), right(after.counts, after.total)];
    children.push(el("p", { class: "compare-headline" },
      `Right answer: ${was}% → ${now}% `, el("span", { class: `delta ${now > was ? "up" : now < was ? "down" : "same"}` },
        `(${pointsChange(was, now)})`)));
  }
  children.push(el("div", { class: `compare-rows${correct.size ? " revealed" : ""}` }, rows.map((r) => {
    const trend = r.after > r.before ? "up" : r.after < r.before ? "down" : "same";
    return el("div", { class: correct.has(r.index) ? "compare-row correct" : "compare-row" },
      keyedLabel("bar-label", r),
      el("span", { class: "compare-bars" }, bar("before", r.before), bar("after", r.after)),
      el("span", { class: `delta ${trend}` }, pointsChange(r.before, r.after)));
  })));
  const chart = el("div", { class: "chart chart-compare", "data-style": "compare", "aria-hidden": "true" }, children);
  const table = el("table", { class: "figures" },
    el("caption", {}, `Round ${before.round} compared with round ${after.round}, as shares of each round's responses`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Answer"), el("th", { scope: "col" }, `Round ${before.round}`),
      el("th", { scope: "col" }, nowName), el("th", { scope: "col" }, "Change"))),
    el("tbody", {}, rows.map((r) => el("tr", { class: correct.has(r.index) ? "correct" : null },
      el("th", { scope: "row" }, `${r.key}. ${r.label}`, correct.has(r.index) ? " (correct)" : ""),
      el("td", {}, `${r.before}%`),
      el("td", { "data-count": after.counts[r.index] || 0 }, `${r.after}%`),
      el("td", {}, pointsChange(r.before, r.after))))));
  container.replaceChildren(...[chart, total, table].filter(Boolean));
}

export function respondents(n) {
  return `${n || 0} ${n === 1 ? "response" : "responses"}`;
}

const chartStyles = ["bar", "column", "pie", "donut"];

/** The chart a poll's settings ask for, bars when they name none we draw. */
export function chartStyle(name) {
  return chartStyles.includes(name) ? name : "bar";
}

/** A label's parts: the letter (A..Z) in its own span, so CSS can set it apart. */
function keyedLabel(className, r) {
  return el("span", { class: className }, el("span", { class: "key" }, r.key), " ", r.label);
}

/**
 * The chart element for `style`. Bars and columns reuse `previous` when it has the same
 * style and rows, so their sizes animate from where they were.
 */
export function drawChart(style, rows, sum, shown, correct, previous) {
  if (style === "cloud") return drawCloud(rows);
  if (style === "pie" || style === "donut") return drawPie(style, rows, sum, shown, correct);
  return drawBars(style, rows, shown, correct, previous);
}

function drawCloud(rows) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return el("div", { class: "chart chart-cloud", "data-style": "cloud", "aria-hidden": "true" }, rows.map((r) => {
    const word = el("span", {}, r.label);
    word.style.fontSize = `${1 + (2.5 * r.count) / max}em`;
    return word;
  }));
}

function drawBars(style, rows, shown, correct, previous) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  const sameRows = previous && previous.dataset.style === style && previous.children.length === rows.length
    && rows.every((r, i) => previous.children[i].dataset.label === r.label);
  const chart = sameRows ? previous : el("div", { class: `chart bars chart-${style}`, "data-style": style, "aria-hidden": "true" },
    rows.map((r, i) => el("div", { class: "bar-row", "data-label": r.label },
      keyedLabel("bar-label", r),
      el("span", { class: "bar-track" }, el("span", { class: `bar-fill s${i % 8}` })),
      el("span", { class: "bar-value" }))));
  // Columns grow up (height), bars grow right (width); the other side stays full.
  const grow = style === "column" ? "height" : "width";
  chart.classList.toggle("revealed", correct.size > 0);
  rows.forEach((r, i) => {
    const row = chart.children[i];
    row.querySelector(".bar-fill").style[grow] = `${(100 * r.count) / max}%`;
    row.classList.toggle("correct", correct.has(r.index));
    row.classList.toggle("zero", r.count === 0);
    row.querySelector(".bar-value").textContent = shown(r.count);
  });
  return chart;
}

const svgNS = "http://www.w3.org/2000/svg";

function svgNode(tag, attributes) {
  const node = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** A pie or donut with a legend beside it: letter, option, value for every row. */
function drawPie(style, rows, sum, shown, correct) {
  const svg = svgNode("svg", { viewBox: "-1.05 -1.05 2.1 2.1", class: "pie-graphic" });
  const inner = style === "donut" ? 0.55 : 0;
  let angle = -Math.PI / 2;
  rows.forEach((r, i) => {
    if (!r.count || !sum) return;
    const sweep = (2 * Math.PI * r.count) / sum;
    svg.append(svgNode("path", { d: slicePath(angle, sweep, inner), class: `slice s${i % 8}` }));
    // A name on the slice only where it has room; the legend always has it.
    if (sweep > 0.35) {
      const mid = angle + sweep / 2, radius = inner ? (1 + inner) / 2 : 0.64;
      const label = svgNode("text", { x: radius * Math.cos(mid), y: radius * Math.sin(mid), class: "slice-label" });
      label.textContent = r.key;
      svg.append(label);
    }
    angle += sweep;
  });
  if (!sum) svg.append(svgNode("circle", { r: 1, class: "empty-pie" }));
  const legend = el("ul", { class: "legend" }, rows.map((r, i) => el("li", { class: correct.has(r.index) ? "correct" : null },
    el("span", { class: `swatch s${i % 8}` }),
    keyedLabel("legend-label", r),
    el("span", { class: "legend-value" }, shown(r.count)))));
  return el("div", { class: `chart chart-${style}${correct.size ? " revealed" : ""}`, "data-style": style, "aria-hidden": "true" },
    svg, legend);
}

/** The outline of one slice from `angle` through `sweep`; a ring segment when `inner` > 0. */
function slicePath(angle, sweep, inner) {
  // A whole circle cannot be one arc: draw it as two halves.
  if (sweep >= 2 * Math.PI - 1e-9) {
    const ring = (r) => `M${r} 0 A${r} ${r} 0 1 1 ${-r} 0 A${r} ${r} 0 1 1 ${r} 0 Z`;
    return inner ? `${ring(1)} ${ring(inner)}` : ring(1);
  }
  const point = (r, a) => `${r * Math.cos(a)} ${r * Math.sin(a)}`;
  const large = sweep > Math.PI ? 1 : 0;
  const end = angle + sweep;
  if (!inner) return `M0 0 L${point(1, angle)} A1 1 0 ${large} 1 ${point(1, end)} Z`;
  return `M${point(1, angle)} A1 1 0 ${large} 1 ${point(1, end)} L${point(inner, end)} `
    + `A${inner} ${inner} 0 ${large} 0 ${point(inner, angle)} Z`;
}
