// The projected screen: /present/{username} (and ?embed=1 inside slides).
// The audience sees the question, the chart and how to join; the presenter of this room,
// logged in here, also gets a control bar on mouse move, Tab or "?" (never in an embed).
import { RoomSocket, api, chartStyle, el, renderResults, respondents, whoAmI } from "./common.js";

const room = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const embed = new URLSearchParams(location.search).get("embed") === "1";
const $ = (id) => document.getElementById(id);

let poll = null;
let results = null;
// The newest results seq taken on this connection; null after a (re)connect, so a
// restarted server's next frame is the truth even when it counts from 1 again.
let seq = null;
let owner = null;
// The owner's own copy of the active poll: the public one leaves out the correct answers.
let ownPoll = null;
// "Round N" shows to the audience only for a moment after a clear: "answer again".
let announcedRound = null;
let announceTimer = 0;
let joinAddress = "";

/** The join address, breakable only between its parts ("host:port" / "alice"), never inside one. */
function showJoinAddress(address) {
  const parts = address.split(/(?=\/)/);
  $("join-url").replaceChildren(...parts.flatMap((part, i) => [
    i ? document.createElement("wbr") : null, el("span", { class: "join-part" }, part)].filter(Boolean)));
  joinAddress = address;
  if (!poll) draw();
  fit();
}

function showState(next) {
  if (!next || !poll || next.id !== poll.id || next.round !== poll.round) {
    results = null;
    seq = null;
  }
  if (next && poll && next.id === poll.id && next.round > poll.round) announceRound(next.round);
  if (next?.id !== poll?.id) {
    ownPoll = null;
    clearTimeout(announceTimer);
    announcedRound = null;
  }
  poll = next;
  $("title").textContent = poll ? poll.title : "Waiting for the presenter";
  showBanners();
  updateControls();
  if (owner && poll && ownPoll?.id !== poll.id) loadOwnPoll();
  draw();
}

function showBanners() {
  const banners = [];
  if (poll?.locked) banners.push(el("span", { class: "banner locked" }, "Responses closed"));
  if (poll?.hidden) banners.push(el("span", { class: "banner hidden" }, "Responses hidden"));
  if (poll && announcedRound === poll.round) banners.push(el("span", { class: "banner round" }, `Round ${poll.round}: answer again`));
  $("badges").replaceChildren(...banners);
}

function announceRound(round) {
  announcedRound = round;
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => {
    announcedRound = null;
    showBanners();
    fit();
  }, 6000);
}

function showResults(frame) {
  if (!poll || frame.poll !== poll.id || frame.round !== poll.round) return;
  if (seq !== null && frame.seq < seq) return;
  seq = frame.seq;
  results = frame;
  draw();
}

function draw() {
  document.body.dataset.kind = !poll ? "none" : !results ? "waiting" : results.hidden && !results.counts ? "hidden"
    : results.responses ? "open" : results.words ? "cloud"
    : results.baseline && poll.settings?.compareRounds ? "compare" : chartStyle(poll.settings?.chart);
  if (!poll) {
    $("chart").replaceChildren(el("p", { class: "hint" }, `Join at ${joinAddress} and wait for the question.`));
    $("total").textContent = "";
  } else if (!results) {
    $("chart").replaceChildren();
    $("total").textContent = "";
  } else if (results.hidden && !results.counts) {
    // The banner says hidden; the count of respondents may still show.
    $("chart").replaceChildren();
    $("total").textContent = respondents(results.total);
  } else {
    // The comparison is drawn anew for every frame: it keeps the two columns the last
    // fitting chose (a count changing does not refit).
    const twoUp = !!$("chart").querySelector(".compare-rows.two-up");
    renderResults($("chart"), poll, results, { total: false });
    const rows = $("chart").querySelector(".compare-rows");
    if (twoUp && rows) setTwoUp(rows, true);
    $("total").textContent = respondents(results.total);
  }
  fitSoon();
}

// Fitting: the largest text at which the question and the results fit the screen.
// CSS alone cannot do it for both 2 and 26 options, so measure and shrink.

let lastLayout = "";

/** Refits when what is drawn changed shape; a count going from 9 to 10 does not. */
function fitSoon() {
  const layout = JSON.stringify([innerWidth, innerHeight, poll?.id, poll?.round, poll?.title, poll?.hidden,
    poll?.locked, poll?.revealed, poll?.settings?.chart, poll?.settings?.showPercent, poll?.settings?.compareRounds,
    !!results?.baseline, announcedRound,
    document.body.dataset.kind, results?.words?.map((w) => w[0]), results?.responses?.length,
    String(Math.max(0, ...(results?.counts || []))).length, $("join-url").textContent]);
  if (layout === lastLayout) return;
  lastLayout = layout;
  fit();
}

const overflows = (node) => !!node && (node.scrollHeight > node.clientHeight + 1 || node.scrollWidth > node.clientWidth + 1);

/**
 * Sets `node`'s font size to the largest in [min, max] px at which `fits()` holds, or to
 * min if none does; returns the size and whether it fits.
 */
function fitFont(node, min, max, fits) {
  node.style.fontSize = `${max}px`;
  if (fits()) return { size: max, fits: true };
  let low = min, high = max;
  node.style.fontSize = `${min}px`;
  if (!fits()) return { size: min, fits: false };
  for (let i = 0; i < 9 && high - low > 0.5; i += 1) {
    const middle = (low + high) / 2;
    node.style.fontSize = `${middle}px`;
    if (fits()) low = middle;
    else high = middle;
  }
  node.style.fontSize = `${low}px`;
  return { size: low, fits: true };
}

function fit() {
  const height = innerHeight;
  fitJoin(height);
  const stage = $("stage"), title = $("title"), area = $("results"), chartArea = $("chart");
  const space = stage.clientHeight;
  // The question: big, but never more than about a third of the screen (less with many options).
  const options = poll?.options?.length || 0;
  const share = document.body.dataset.kind === "none" ? 0.5 : options > 8 ? 0.24 : 0.3;
  fitFont(title, height / 40, height / 12, () => title.offsetHeight <= space * share && !overflows(title));

  const chart = chartArea.firstElementChild;
  // A list that may go two columns: the bars, a pie's legend, or the rounds compared.
  const list = chart?.classList.contains("chart-bar") ? chart : chart?.querySelector(".legend, .compare-rows");
  const fits = () => !overflows(stage) && !overflows(area) && !overflows(chartArea) && !overflows(chart)
    && labelsFit(chart);
  const [min, max] = [height / 64, document.body.dataset.kind === "open" ? height / 24 : height / 18];
  if (list) setTwoUp(list, false);
  const single = fitFont(area, min, max, fits);
  // Many options: two columns when one does not fit or two read clearly larger.
  if (list && list.children.length > 8 && single.size < max) {
    setTwoUp(list, true);
    const twoUp = fitFont(area, min, max, fits);
    if (!(twoUp.fits && (!single.fits || twoUp.size > single.size * 1.15))) {
      setTwoUp(list, false);
      fitFont(area, single.size, single.size, fits);
    }
  }
}

/**
 * No option label wraps to more than three lines: a label column squeezed into a sliver
 * fits no better with smaller text. Two columns give labels a fixed share, so there only
 * the height counts.
 */
function labelsFit(chart) {
  if (!chart) return true;
  if (!chart.classList.contains("chart-bar") || chart.classList.contains("two-up")) return true;
  const lines = 3;
  for (const label of chart.querySelectorAll(".bar-label")) {
    const lineHeight = parseFloat(getComputedStyle(label).fontSize) * 1.25;
    if (label.offsetHeight > (lines + 0.2) * lineHeight || overflows(label)) return false;
  }
  return true;
}

/** Lays many bars (or legend lines) out as two columns, A.. down the left, the rest down the right. */
function setTwoUp(list, on) {
  list.classList.toggle("two-up", on);
  const half = Math.ceil(list.children.length / 2);
  Array.from(list.children).forEach((row, i) => {
    row.style.gridRow = on ? String((i % half) + 1) : "";
    row.style.gridColumn = on ? String(i < half ? 1 : 2) : "";
  });
}

/** The QR code as large as the side column allows, whole; the address on as few lines as it can. */
function fitJoin(height) {
  const join = $("join"), qr = $("qr"), url = $("join-url");
  const text = join.querySelector(".join-text");
  fitFont(text, Math.max(11, height / 60), height / 26, () => !overflows(url)
    && Array.from(url.querySelectorAll(".join-part")).every((part) => part.offsetWidth <= url.clientWidth + 1));
  const style = getComputedStyle(join);
  const inner = join.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const sms = $("join-sms");
  sms.style.fontSize = getComputedStyle(text).fontSize;
  const free = join.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)
    - text.offsetHeight - parseFloat(style.rowGap || "0")
    - (sms.hidden ? 0 : sms.offsetHeight + parseFloat(style.rowGap || "0"));
  const side = Math.max(64, Math.floor(Math.min(inner, free)));
  qr.style.width = `${side}px`;
  qr.style.height = `${side}px`;
}

addEventListener("resize", () => fitSoon());

// Presenter controls: the bar, the keys, the confirm dialog.

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen?.().catch(() => {});
}
$("fullscreen").addEventListener("click", toggleFullscreen);
document.addEventListener("fullscreenchange", () => {
  $("fullscreen").textContent = document.fullscreenElement ? "Exit full screen" : "Full screen";
});

// `?poll=ID` (a slide of a deck that shows this screen): the slide's poll. Inside a
// frame (a slide that embeds the page) the presenter's browser activates it once, as
// the slide loads, so moving through the deck moves the room through the questions.
// Opened as a page (a link in a slide, or any link someone sends), it offers a button
// instead: a link alone never changes what the room is asked. Anyone else's browser
// just shows the room.
const slidePoll = new URLSearchParams(location.search).get("poll");
const framed = window.top !== window;

function activateSlidePoll(id) {
  api("POST", `/api/polls/${encodeURIComponent(id)}/activate`).catch(() => {});
}

function offerSlidePoll(id) {
  const button = el("button", { type: "button", id: "open-slide-poll", class: "fullscreen-prompt" },
    "Open this slide's poll for answers");
  button.addEventListener("click", () => {
    activateSlidePoll(id);
    button.remove();
  });
  document.body.append(button);
}

whoAmI().then((me) => {
  if (me && me.username === room && slidePoll) {
    if (framed && embed) activateSlidePoll(slidePoll);
    else offerSlidePoll(slidePoll);
  }
  if (!me || me.username !== room || embed) return;
  owner = me;
  $("presenter").hidden = false;
  updateControls();
  if (poll) loadOwnPoll();
  revealBar(5000); // a first look at what is there; it goes away by itself
  if (presenting) offerFullscreen();
});

// Opened by the console's "Present": the poll is live and the screen should fill the
// projector. A browser goes full screen only on a gesture made in this window, so the
// first click or key here does it.
const presenting = new URLSearchParams(location.search).get("present") === "1";
if (presenting) history.replaceState(null, "", location.pathname);

function offerFullscreen() {
  if (document.fullscreenElement || !document.documentElement.requestFullscreen) return;
  const prompt = el("button", { type: "button", id: "go-fullscreen", class: "fullscreen-prompt" },
    "Click or press any key for full screen");
  document.body.append(prompt);
  prompt.focus();
  const go = (event) => {
    if (event.type === "keydown" && ["Tab", "Shift", "Escape"].includes(event.key)) {
      if (event.key === "Escape") done();
      return;
    }
    document.documentElement.requestFullscreen().catch(() => {});
    done();
  };
  const done = () => {
    prompt.remove();
    removeEventListener("pointerdown", go, true);
    removeEventListener("keydown", go, true);
  };
  addEventListener("pointerdown", go, true);
  addEventListener("keydown", go, true);
}

async function loadOwnPoll() {
  const id = poll.id;
  try {
    const mine = await api("GET", `/api/polls/${id}`);
    if (poll?.id === id) ownPoll = mine;
  } catch {
    ownPoll = null;
  }
  updateControls();
}

function updateControls() {
  if (!owner) return;
  const none = !poll;
  $("round").textContent = poll ? `Round ${poll.round}` : "No active poll";
  $("toggle-hidden").textContent = poll?.hidden ? "Show results" : "Hide results";
  $("toggle-locked").textContent = poll?.locked ? "Open responses" : "Close responses";
  $("reveal").hidden = !(poll && !poll.revealed && ownPoll?.id === poll.id && ownPoll.settings?.correct?.length);
  for (const id of ["toggle-hidden", "toggle-locked", "clear", "reveal"]) $(id).disabled = none;
  const choice = poll?.type === "choice";
  for (const button of document.querySelectorAll("#presenter [data-chart]")) {
    button.disabled = !choice;
    button.setAttribute("aria-pressed", String(choice && chartStyle(poll.settings?.chart) === button.dataset.chart));
  }
  for (const button of document.querySelectorAll("#presenter [data-percent]")) {
    button.disabled = !choice;
    button.setAttribute("aria-pressed", String(choice && String(!!poll.settings?.showPercent) === button.dataset.percent));
  }
}

async function control(command, body) {
  if (!owner || !poll) return;
  try {
    await api("POST", `/api/polls/${poll.id}/${command}`, body);
    $("presenter-status").textContent = "";
  } catch (error) {
    $("presenter-status").textContent = error.message;
    revealBar();
  }
}

async function step(direction) {
  if (!owner) return;
  try {
    const polls = await api("GET", "/api/polls");
    const ordered = polls.slice().reverse(); // oldest first, as a slide deck
    const index = ordered.findIndex((p) => p.id === poll?.id);
    const next = ordered[Math.min(ordered.length - 1, Math.max(0, index + direction))];
    if (next && next.id !== poll?.id) await api("POST", `/api/polls/${next.id}/activate`);
  } catch (error) {
    $("presenter-status").textContent = error.message;
  }
}

const askClear = () => { if (poll) $("confirm-clear").showModal(); };
$("previous").addEventListener("click", () => step(-1));
$("next").addEventListener("click", () => step(1));
$("toggle-hidden").addEventListener("click", () => control(poll?.hidden ? "show" : "hide"));
$("toggle-locked").addEventListener("click", () => control(poll?.locked ? "unlock" : "lock"));
$("clear").addEventListener("click", askClear);
$("reveal").addEventListener("click", () => control("reveal"));
// Chart type and counts/percent change only how results are drawn, for every screen at once.
for (const button of document.querySelectorAll("#presenter [data-chart]")) {
  button.addEventListener("click", () => control("display", { chart: button.dataset.chart }));
}
for (const button of document.querySelectorAll("#presenter [data-percent]")) {
  button.addEventListener("click", () => control("display", { showPercent: button.dataset.percent === "true" }));
}
$("confirm-clear").addEventListener("close", () => {
  if ($("confirm-clear").returnValue === "clear") control("clear");
});

// The bar shows on mouse move, while the pointer or keyboard focus is in it, and while
// pinned with "?"; otherwise it fades after a few seconds, so the audience sees the poll.
let barTimer = 0;
let pinned = false;

function revealBar(ms = 3000) {
  if (!owner) return;
  document.body.classList.add("presenting");
  clearTimeout(barTimer);
  barTimer = setTimeout(hideBar, ms);
}

function hideBar() {
  const bar = $("presenter");
  if (pinned || bar.matches(":hover") || bar.querySelector(":focus-visible") || $("confirm-clear").open) {
    revealBar();
    return;
  }
  document.body.classList.remove("presenting");
}

document.addEventListener("mousemove", () => revealBar());
$("presenter").addEventListener("focusin", () => revealBar());

document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select, dialog") || event.metaKey || event.ctrlKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === "f") return toggleFullscreen();
  if (!owner) return;
  if (event.key === "?") {
    pinned = !pinned;
    revealBar();
  } else if (event.key === "Escape") {
    pinned = false;
    hideBar();
  } else if (key === "h") control(poll?.hidden ? "show" : "hide");
  else if (key === "l") control(poll?.locked ? "unlock" : "lock");
  else if (key === "c") askClear();
  else if (event.key === "ArrowRight") step(1);
  else if (event.key === "ArrowLeft") step(-1);
});

// Start: the join address, then the room's live state.
document.body.classList.toggle("embed", embed);
document.title = `pollcast · ${room}`;
showJoinAddress(`${location.host}/${room}`);
$("qr").src = `/qr/${encodeURIComponent(room)}.svg`;
$("qr").addEventListener("load", () => fit());
// The audience joins at the server's public address (never this page's localhost).
api("GET", `/api/rooms/${encodeURIComponent(room)}`).then((info) => {
  if (info?.join) showJoinAddress(info.join.replace(/^[a-z]+:\/\//i, ""));
  if (info?.sms) {
    $("join-sms-keyword").textContent = info.sms.keyword;
    $("join-sms-number").textContent = info.sms.number;
    $("join-sms").hidden = false;
    fit();
  }
}).catch(() => {});

new RoomSocket(room, "screen", {
  onOpen: () => { seq = null; },
  onMessage: (message) => {
    if (message.type === "state") showState(message.poll);
    if (message.type === "results") showResults(message);
  },
  onStatus: (status) => {
    $("connection").textContent = status === "online" ? "" : status === "offline" ? "Reconnecting…" : "Connecting…";
  },
});
