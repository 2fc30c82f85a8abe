// The presenter's console: /admin.
import { RoomSocket, api, el, letter, renderResults, whoAmI } from "./common.js";

const $ = (id) => document.getElementById(id);
let me = null;
let polls = [];
let selectedId = null;
let editingId = null;
let live = null;
const checked = new Set();

const me0 = await whoAmI();
if (!me0) {
  location.replace("/login");
} else {
  me = me0;
  $("who").textContent = me.username;
  $("room-link").href = `/${me.username}`;
  $("screen-link").href = `/present/${me.username}`;
  await refresh();
  new RoomSocket(me.username, "console", {
    onMessage: (message) => {
      if (message.type === "state") refresh();
      if (message.type === "results") { live = message; drawDetail(); }
    },
    // Logged out here or elsewhere, or the password changed: log in again.
    onEnded: () => { location.href = "/login"; },
  });
}

async function refresh() {
  try {
    polls = await api("GET", "/api/polls");
  } catch (error) {
    return status(error.message, "error");
  }
  drawList();
  drawDetail();
}

function status(text, kind) {
  $("status").textContent = text;
  $("status").dataset.kind = kind || "";
}

function badges(poll) {
  return [
    poll.active && el("span", { class: "badge active" }, "Active"),
    poll.hidden && el("span", { class: "badge hidden" }, "Hidden"),
    poll.locked && el("span", { class: "badge locked" }, "Locked"),
    poll.round > 1 && el("span", { class: "badge" }, `Round ${poll.round}`),
  ].filter(Boolean);
}

function drawList() {
  $("polls").replaceChildren(...polls.map((poll) => {
    const box = el("input", { type: "checkbox", "aria-label": `Select ${poll.title} for export`, checked: checked.has(poll.id) });
    box.addEventListener("change", () => {
      if (box.checked) checked.add(poll.id); else checked.delete(poll.id);
      $("export").disabled = checked.size === 0;
    });
    return el("li", { class: poll.id === selectedId ? "selected" : null },
      box,
      el("button", { type: "button", class: "poll-title", onclick: () => select(poll.id) }, poll.title),
      el("span", { class: "poll-type" }, poll.type),
      el("span", { class: "badges" }, badges(poll)),
      el("button", { type: "button", onclick: () => command(poll, poll.active ? "deactivate" : "activate") },
        poll.active ? "Deactivate" : "Activate"));
  }));
  if (!polls.length) $("polls").append(el("li", { class: "hint" }, "No polls yet: create one."));
  $("export").disabled = checked.size === 0;
}

function select(id) {
  selectedId = id;
  live = null;
  drawList();
  drawDetail();
}

async function drawDetail() {
  const poll = polls.find((p) => p.id === selectedId);
  $("detail").hidden = !poll;
  if (!poll) return;
  $("detail-title").textContent = poll.title;
  $("detail-state").replaceChildren(...badges(poll));
  const controls = [
    [poll.active ? "deactivate" : "activate", poll.active ? "Deactivate" : "Activate"],
    [poll.hidden ? "show" : "hide", poll.hidden ? "Show results" : "Hide results"],
    [poll.locked ? "unlock" : "lock", poll.locked ? "Unlock" : "Lock"],
    ["clear", "Clear (new round)"],
  ];
  if (poll.settings.correct?.length && !poll.revealed) controls.push(["reveal", "Reveal answer"]);
  $("controls").replaceChildren(
    ...controls.map(([cmd, label]) => el("button", { type: "button", onclick: () => command(poll, cmd) }, label)),
    el("button", { type: "button", onclick: () => edit(poll) }, "Edit"),
    el("a", { class: "button", href: `/api/polls/${poll.id}/export.csv`, download: "" }, "Download CSV"),
    el("button", { type: "button", class: "danger", onclick: () => remove(poll) }, "Delete"));
  let current = live && live.poll === poll.id && live.round === poll.round ? live : null;
  if (!current) {
    try { current = await api("GET", `/api/polls/${poll.id}/results`); } catch { current = null; }
  }
  renderResults($("live"), poll, current, {
    moderate: poll.type === "open" ? (text, hidden) => moderate(poll, text, hidden) : undefined,
  });
  const rounds = await Promise.all(Array.from({ length: poll.round }, (_, i) =>
    api("GET", `/api/polls/${poll.id}/results?round=${i + 1}`).catch(() => null)));
  $("rounds").replaceChildren(...rounds.map((r, i) => {
    const box = el("div", { class: "round" }, el("h4", {}, `Round ${i + 1}`));
    const inner = el("div", {});
    renderResults(inner, { ...poll, settings: { ...poll.settings, chart: "bar" } }, r, { compact: true });
    box.append(inner);
    return box;
  }));
}

async function command(poll, cmd) {
  if (cmd === "clear" && !confirm("Clear the results and start a new round? This round stays saved.")) return;
  try {
    await api("POST", `/api/polls/${poll.id}/${cmd}`);
    status("", null);
  } catch (error) {
    status(error.message, "error");
  }
  await refresh();
}

async function moderate(poll, text, hidden) {
  try {
    live = await api("POST", `/api/polls/${poll.id}/moderate`, { text, hidden });
    status(hidden ? "Hidden from the screen (still counted and exported)." : "Shown again.", "ok");
  } catch (error) {
    status(error.message, "error");
  }
  drawDetail();
}

async function remove(poll) {
  if (!confirm(`Delete "${poll.title}" and all its answers?`)) return;
  try {
    await api("DELETE", `/api/polls/${poll.id}`);
    selectedId = null;
  } catch (error) {
    status(error.message, "error");
  }
  await refresh();
}

// Create and edit.
$("new-poll").addEventListener("click", () => edit(null));
$("cancel-edit").addEventListener("click", () => { $("editor").hidden = true; });
$("f-type").addEventListener("change", syncTypeFields);
$("export").addEventListener("click", () => {
  location.href = `/api/export.csv?polls=${[...checked].map(encodeURIComponent).join(",")}`;
});
$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } finally { location.replace("/login"); }
});

function syncTypeFields() {
  const choice = $("f-type").value === "choice";
  for (const id of ["options-field", "max-field", "correct-field"]) $(id).hidden = !choice;
}

function edit(poll) {
  editingId = poll?.id || null;
  $("editor-heading").textContent = poll ? "Edit poll" : "New poll";
  $("f-title").value = poll?.title || "";
  $("f-type").value = poll?.type || "choice";
  $("f-options").value = (poll?.options || []).join("\n");
  $("f-max").value = poll?.settings.maxChoices || 1;
  $("f-correct").value = (poll?.settings.correct || []).map(letter).join(",");
  $("f-chart").value = poll?.settings.chart || "bar";
  $("f-change").checked = poll ? poll.settings.allowChange : true;
  $("f-show").checked = poll?.settings.showResultsToParticipants || false;
  $("f-identified").checked = poll?.settings.identified || false;
  $("f-percent").checked = poll?.settings.showPercent || false;
  $("form-error").textContent = "";
  syncTypeFields();
  $("editor").hidden = false;
  $("f-title").focus();
}

$("poll-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const type = $("f-type").value;
  const body = {
    type,
    title: $("f-title").value,
    options: type === "choice" ? $("f-options").value.split("\n").map((s) => s.trim()).filter(Boolean) : [],
    settings: {
      maxChoices: type === "choice" ? Number($("f-max").value) || 1 : 1,
      correct: type === "choice"
        ? $("f-correct").value.toUpperCase().split(/[\s,]+/).filter(Boolean).map((c) => c.charCodeAt(0) - 65)
        : [],
      chart: $("f-chart").value,
      allowChange: $("f-change").checked,
      showResultsToParticipants: $("f-show").checked,
      identified: $("f-identified").checked,
      showPercent: $("f-percent").checked,
    },
  };
  try {
    const saved = editingId ? await api("PATCH", `/api/polls/${editingId}`, body) : await api("POST", "/api/polls", body);
    $("editor").hidden = true;
    selectedId = saved.id;
    await refresh();
    status(editingId ? "Saved." : "Poll created. Activate it when you are ready.", "ok");
  } catch (error) {
    $("form-error").textContent = error.message;
  }
});
