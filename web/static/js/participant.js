// The participant's phone page: /{username}.
import { RoomSocket, api, el, letter, participantId, renderResults } from "./common.js";

const room = decodeURIComponent(location.pathname.split("/").filter(Boolean)[0] || "");
const me = participantId();
const $ = (id) => document.getElementById(id);
const pendingKey = `pollcast.pending.${room}`;
const lastStateKey = `pollcast.state.${room}`;

let poll = null;          // the public poll shown
let mine = null;          // the acknowledged answer of this poll and round
let results = null;
let nextRef = 1;
let sentRef = null;       // ref of the answer in flight
let shownKey = null;      // poll id + round + options: what the form was built for
let tapped = false;       // the last choice came from a finger or mouse, not the arrow keys

$("room").textContent = `/${room}`;
document.title = `pollcast · ${room}`;

// An installable app (manifest, service worker): the page and its files open from the
// phone's cache, also offline. Browsers allow service workers on https and localhost.
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
try { localStorage.setItem("pollcast.lastRoom", room); } catch { /* private mode */ }

// Friends without data can answer by text: the line shows only when the server has a number.
api("GET", `/api/rooms/${encodeURIComponent(room)}`).then((info) => {
  if (!info?.sms) return;
  $("sms-example").textContent = `${info.sms.keyword} B`;
  $("sms-number").textContent = info.sms.number;
  $("sms-hint").hidden = false;
}).catch(() => {});
$("name").value = localStorage.getItem("pollcast.name") || "";
$("name").addEventListener("change", () => localStorage.setItem("pollcast.name", $("name").value.trim()));

const socket = new RoomSocket(room, "participant", {
  onOpen: () => {
    // A reconnect (maybe to a restarted server): its next state and results are the truth.
    results = null;
    const hello = { type: "hello", participant: me };
    const name = $("name").value.trim();
    if (name) hello.name = name;
    socket.send(hello);
  },
  onMessage: handle,
  onStatus: (status) => {
    const text = { connecting: "Connecting…", online: "Connected", offline: "Offline: reconnecting…" }[status];
    $("connection").textContent = text;
    $("connection").dataset.status = status;
    if (status === "offline") showLastState();
    if (status === "offline" && pending()) feedback("You are offline. Your answer will be sent when the connection is back.", "warn");
  },
});

function handle(message) {
  switch (message.type) {
    case "state": return showState(message.poll, message.mine);
    case "results": return showResults(message);
    case "ack": return acknowledged(message);
    case "error": return refused(message);
  }
}

// Opened offline (from the app's cache) or on Wi-Fi that does not connect: the last
// question this phone saw, so an answer can be given now and sent when the connection
// is back. The server's next `state` replaces it (and refuses an answer to a question
// no longer asked).
let live = false;
function showLastState() {
  if (live || poll) return;
  try {
    const saved = JSON.parse(localStorage.getItem(lastStateKey) || "null");
    if (saved?.poll) showState(saved.poll, saved.mine, { saved: true });
  } catch { /* nothing saved */ }
}
setTimeout(showLastState, 1500);

function showState(next, nextMine, { saved = false } = {}) {
  if (!saved) {
    live = true;
    try { localStorage.setItem(lastStateKey, JSON.stringify({ poll: next, mine: nextMine })); } catch { /* full */ }
  }
  const key = next ? `${next.id}/${next.round}/${next.options.join("\u0001")}/${next.type}` : null;
  const changed = key !== shownKey;
  poll = next;
  mine = nextMine && next && nextMine.poll === next.id && nextMine.round === next.round ? nextMine : null;
  if (changed) results = null;
  $("waiting").hidden = !!poll;
  $("question").hidden = !poll;
  if (!poll) {
    shownKey = null;
    $("results-card").hidden = true;
    return;
  }
  $("title").textContent = poll.title;
  $("legend").textContent = poll.title;
  $("name-row").hidden = !poll.settings.identified;
  // No "Round N" here: rounds are the presenter's bookkeeping. A re-asked question
  // just says so once, below.
  $("badges").replaceChildren(...(poll.locked ? [el("span", { class: "badge locked" }, "Responses are closed")] : []));
  // Rebuild the form only when the poll itself changed: a hide, lock or reveal
  // must not wipe what the participant is selecting or typing.
  const reasked = changed && shownKey !== null && shownKey.split("/")[0] === poll.id;
  if (changed) {
    shownKey = key;
    buildForm();
  }
  // Closed, or answered once where answers cannot change: nothing left to send.
  freeze();
  const waiting = pending();
  if (waiting && waiting.poll === poll.id && waiting.round === poll.round && !sameAnswer(waiting.answer, mine)) {
    // Sent while offline: the page shows that answer (not the older one the server
    // holds until this one lands) and sends it again.
    applyAnswer(waiting.answer);
    resend(waiting);
    updateResultsVisibility();
    return;
  } else if (waiting && (waiting.poll !== poll.id || waiting.round !== poll.round || sameAnswer(waiting.answer, mine))) {
    localStorage.removeItem(pendingKey);
  }
  if (mine) {
    applyAnswer(mine);
    feedback(poll.settings.allowChange && !poll.locked ? "Answer received. You can change it." : "Answer received.", "ok");
  } else if (poll.locked) {
    feedback("Responses are closed.", "warn");
  } else if (reasked) {
    feedback("The presenter asked this again: please answer again.", "warn");
  } else if (!pending() && changed) {
    feedback("", null);
  }
  updateResultsVisibility();
}

function freeze() {
  const done = !!poll && (poll.locked || (!poll.settings.allowChange && !!mine));
  $("answer-fields").disabled = done;
  $("submit").disabled = done;
}

function buildForm() {
  const box = $("choices");
  box.replaceChildren();
  const single = poll.type === "choice" && poll.settings.maxChoices === 1;
  if (poll.type === "choice") {
    const type = single ? "radio" : "checkbox";
    poll.options.forEach((label, i) => {
      const input = el("input", { type, name: "choice", value: String(i), id: `choice-${i}` });
      // A tap on a single choice sends it at once. The arrow keys only move the choice
      // (they fire the same change event); Space, Enter or "Send answer" sends it.
      input.addEventListener("change", () => {
        markChosen();
        if (!single) limitChoices();
        else if (tapped) submit();
        tapped = false;
      });
      input.addEventListener("keyup", (event) => {
        if (single && event.key === " ") submit();
      });
      box.append(el("label", { class: "choice", for: `choice-${i}` }, input,
        el("span", { class: "key", "aria-hidden": "true" }, letter(i)), el("span", { class: "text" }, label)));
    });
    if (!single) box.append(el("p", { class: "hint" }, `Choose up to ${poll.settings.maxChoices}.`));
  } else if (poll.type === "open") {
    box.append(el("label", { for: "text", class: "visually-hidden" }, "Your answer"),
      el("textarea", { id: "text", name: "text", maxlength: "280", rows: "4", placeholder: "Your answer" }));
  } else {
    for (let i = 0; i < 3; i++) {
      box.append(el("label", { for: `word-${i}`, class: "visually-hidden" }, `Word ${i + 1}`),
        el("input", { id: `word-${i}`, name: "word", maxlength: "40", placeholder: i === 0 ? "A word" : "Another word (optional)" }));
    }
  }
}

// A pointer press precedes the change it causes; a key never sets this.
document.addEventListener("pointerdown", (event) => { tapped = !!event.target.closest?.(".choice"); });
document.addEventListener("keydown", () => { tapped = false; });

function markChosen() {
  document.querySelectorAll(".choice").forEach((c) => c.classList.toggle("chosen", c.querySelector("input").checked));
}

function limitChoices() {
  const boxes = [...document.querySelectorAll("input[name=choice]")];
  const count = boxes.filter((b) => b.checked).length;
  boxes.forEach((b) => { b.disabled = poll.locked || (!b.checked && count >= poll.settings.maxChoices); });
}

function currentAnswer() {
  if (poll.type === "choice") {
    const choices = [...document.querySelectorAll("input[name=choice]:checked")].map((b) => Number(b.value));
    return choices.length ? { choices } : null;
  }
  if (poll.type === "open") {
    const text = $("text").value.trim();
    return text ? { text } : null;
  }
  const words = [...document.querySelectorAll("input[name=word]")].map((w) => w.value.trim()).filter(Boolean);
  return words.length ? { words } : null;
}

function applyAnswer(answer) {
  if (answer.choices) {
    document.querySelectorAll("input[name=choice]").forEach((b) => { b.checked = answer.choices.includes(Number(b.value)); });
    if (poll.settings.maxChoices > 1) limitChoices();
  } else if (answer.text !== undefined && $("text") && !$("text").value) {
    $("text").value = answer.text;
  } else if (answer.words) {
    document.querySelectorAll("input[name=word]").forEach((w, i) => { if (!w.value) w.value = answer.words[i] || ""; });
  }
  markChosen();
}

$("answer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});

function submit() {
  if (!poll || poll.locked) return;
  const answer = currentAnswer();
  if (!answer) return feedback("Choose or write an answer first.", "warn");
  if (poll.settings.identified && !$("name").value.trim()) {
    $("name").focus();
    return feedback("This poll asks for your name.", "warn");
  }
  const entry = { poll: poll.id, round: poll.round, answer, ref: nextRef++ };
  localStorage.setItem(pendingKey, JSON.stringify(entry));
  markChosen();
  resend(entry);
}

function resend(entry) {
  const name = $("name").value.trim();
  if (name) socket.send({ type: "hello", participant: me, name });
  sentRef = entry.ref;
  if (socket.send({ type: "answer", ref: entry.ref, poll: entry.poll, ...entry.answer })) {
    feedback("Sending…", null);
  } else {
    feedback("You are offline. Your answer will be sent when the connection is back.", "warn");
  }
}

function pending() {
  try { return JSON.parse(localStorage.getItem(pendingKey) || "null"); } catch { return null; }
}

function acknowledged(ack) {
  const waiting = pending();
  if (waiting && waiting.ref === ack.ref) {
    mine = { poll: ack.poll, round: ack.round, ...waiting.answer };
    localStorage.removeItem(pendingKey);
  }
  if (ack.ref === sentRef) {
    feedback(poll?.settings.allowChange ? "Answer received. You can change it." : "Answer received.", "ok");
  }
  // What the server now holds is what the page shows (and shows offline next time).
  if (mine && poll && mine.poll === poll.id && mine.round === poll.round) {
    applyAnswer(mine);
    try { localStorage.setItem(lastStateKey, JSON.stringify({ poll, mine })); } catch { /* full */ }
  }
  freeze();
  updateResultsVisibility();
}

function refused(error) {
  const waiting = pending();
  if (waiting && waiting.ref === error.ref && error.code !== "unavailable" && error.code !== "rate_limited") {
    localStorage.removeItem(pendingKey);
  }
  const messages = {
    locked: "Responses are closed.",
    already_answered: "You have already answered this poll.",
    not_active: "This question is no longer open.",
    rate_limited: "Too fast: please wait a moment and try again.",
  };
  feedback(messages[error.code] || error.message, "error");
  if (mine) applyAnswer(mine);
}

function showResults(frame) {
  if (!poll || frame.poll !== poll.id || frame.round !== poll.round) return;
  if (results && frame.seq < results.seq) return;
  results = frame;
  updateResultsVisibility();
}

function updateResultsVisibility() {
  const visible = !!(poll && poll.settings.showResultsToParticipants && !poll.hidden && mine && results && !results.hidden);
  $("results-card").hidden = !visible;
  if (visible) renderResults($("results"), poll, results, { compact: true });
}

function feedback(text, kind) {
  $("feedback").textContent = text;
  $("feedback").dataset.kind = kind || "";
}

function sameAnswer(a, b) {
  if (!a || !b) return false;
  return JSON.stringify(a.choices ?? a.text ?? a.words) === JSON.stringify(b.choices ?? b.text ?? b.words);
}
