// The projected screen: /present/{username} (and ?embed=1 inside slides).
import { RoomSocket, api, el, renderResults, whoAmI } from "./common.js";

const room = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
const embed = new URLSearchParams(location.search).get("embed") === "1";
const $ = (id) => document.getElementById(id);

let poll = null;
let results = null;
let owner = null;

document.body.classList.toggle("embed", embed);
document.title = `pollcast · ${room}`;
const joinURL = `${location.host}/${room}`;
$("join-url").textContent = joinURL;
$("qr").src = `/qr/${encodeURIComponent(room)}.svg`;

new RoomSocket(room, "screen", {
  onMessage: (message) => {
    if (message.type === "state") showState(message.poll);
    if (message.type === "results") showResults(message);
  },
  onStatus: (status) => {
    $("connection").textContent = status === "online" ? "" : status === "offline" ? "Reconnecting…" : "Connecting…";
  },
});

function showState(next) {
  if (!next || !poll || next.id !== poll.id || next.round !== poll.round) results = null;
  poll = next;
  $("title").textContent = poll ? poll.title : "Waiting for the presenter";
  const badges = [];
  if (poll?.hidden) badges.push(el("span", { class: "badge hidden" }, "Responses hidden"));
  if (poll?.locked) badges.push(el("span", { class: "badge locked" }, "Responses closed"));
  if (poll && poll.round > 1) badges.push(el("span", { class: "badge" }, `Round ${poll.round}`));
  $("badges").replaceChildren(...badges);
  draw();
}

function showResults(frame) {
  if (!poll || frame.poll !== poll.id || frame.round !== poll.round) return;
  if (results && frame.seq < results.seq) return;
  results = frame;
  draw();
}

function draw() {
  if (!poll) {
    $("results").replaceChildren(el("p", { class: "hint" }, `Join at ${joinURL} and wait for the question.`));
    $("total").textContent = "";
    return;
  }
  if (!results) {
    $("results").replaceChildren();
    $("total").textContent = "";
    return;
  }
  renderResults($("results"), poll, results);
  // While hidden the results area already says how many answered.
  $("total").textContent = results.hidden && !results.counts ? ""
    : `${results.total} ${results.total === 1 ? "response" : "responses"}`;
}

// Full screen: the button and F.
function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen?.();
}
$("fullscreen").addEventListener("click", toggleFullscreen);

// Presenter shortcuts, when the presenter of this room is logged in here.
whoAmI().then((me) => {
  if (!me || me.username !== room) return;
  owner = me;
  $("shortcuts").hidden = embed;
});

async function control(command) {
  if (!owner || !poll) return;
  try {
    await api("POST", `/api/polls/${poll.id}/${command}`);
  } catch (error) {
    $("connection").textContent = error.message;
  }
}

async function step(direction) {
  if (!owner) return;
  const polls = await api("GET", "/api/polls");
  if (!polls.length) return;
  const ordered = polls.slice().reverse(); // oldest first, as a slide deck
  const index = ordered.findIndex((p) => p.id === poll?.id);
  const next = ordered[Math.min(ordered.length - 1, Math.max(0, index + direction))];
  if (next && next.id !== poll?.id) await api("POST", `/api/polls/${next.id}/activate`);
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select, dialog") || event.metaKey || event.ctrlKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === "f") return toggleFullscreen();
  if (!owner) return;
  if (key === "h") control(poll?.hidden ? "show" : "hide");
  else if (key === "l") control(poll?.locked ? "unlock" : "lock");
  else if (key === "c" && poll) $("confirm-clear").showModal();
  else if (event.key === "ArrowRight") step(1);
  else if (event.key === "ArrowLeft") step(-1);
});

$("confirm-clear").addEventListener("close", () => {
  if ($("confirm-clear").returnValue === "clear") control("clear");
});
