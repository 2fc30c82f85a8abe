// The participant's phone page: /{username}.
import { RoomSocket, el, letter, participantId, renderResults } from "./common.js";

const room = decodeURIComponent(location.pathname.split("/").filter(Boolean)[0] || "");
const me = participantId();
const $ = (id) => document.getElementById(id);
const pendingKey = `pollcast.pending.${room}`;

let poll = null;          // the public poll shown
let mine = null;          // the acknowledged answer of this poll and round
let results = null;
let nextRef = 1;
let sentRef = null;       // ref of the answer in flight
let shownKey = null;      // poll id + round + options: what the form was built for

$("room").textContent = `/${room}`;
document.title = `pollcast · ${room}`;
$("name").value = localStorage.getItem("pollcast.name") || "";
$("name").addEventListener("change", () => localStorage.setItem("pollcast.name", $("name").value.trim()));

const socket = new RoomSocket(room, "participant", {
  onOpen: () => {
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

function showState(next, nextMine) {
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
  const badges = [];
  if (poll.locked) badges.push(el("span", { class: "badge locked" }, "Responses are closed"));
  if (poll.round > 1) badges.push(el("span", { class: "badge" }, `Round ${poll.round}`));
  $("badges").replaceChildren(...badges);
  // Rebuild the form only when the poll itself changed: a hide, lock or reveal
  // must not wipe what the participant is selecting or typing.
  if (changed) {
    shownKey = key;
    buildForm();
  }
  $("answer-fields").disabled = poll.locked;
  $("submit").disabled = poll.locked;
  const waiting = pending();
  if (waiting && waiting.poll === poll.id && waiting.round === poll.round && !sameAnswer(waiting.answer, mine)) {
    resend(waiting);
  } else if (waiting && (waiting.poll !== poll.id || waiting.round !== poll.round || sameAnswer(waiting.answer, mine))) {
    localStorage.removeItem(pendingKey);
  }
  if (mine) {
    applyAnswer(mine);
    feedback(poll.settings.allowChange && !poll.locked ? "Answer received. You can change it." : "Answer received.", "ok");
  } else if (poll.locked) {
    feedback("Responses are closed.", "warn");
  } else if (!pending()) {
    feedback("", null);
  }
  updateResultsVisibility();
}

function buildForm() {
  const box = $("choices");
  box.replaceChildren();
  const single = poll.type === "choice" && poll.settings.maxChoices === 1;
  $("submit").hidden = single;
  if (poll.type === "choice") {
    const type = single ? "radio" : "checkbox";
    poll.options.forEach((label, i) => {
      const input = el("input", { type, name: "choice", value: String(i), id: `choice-${i}` });
      input.addEventListener("change", () => {
        if (single) submit();
        else limitChoices();
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
  document.querySelectorAll(".choice").forEach((c) => c.classList.toggle("chosen", c.querySelector("input").checked));
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
  document.querySelectorAll(".choice").forEach((c) => c.classList.toggle("chosen", c.querySelector("input").checked));
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
