// The presenter's console: /admin.
import { RoomSocket, api, el, letter, pointsChange, renderResults, respondents, whoAmI } from "./common.js";

const $ = (id) => document.getElementById(id);
let me = null;
let polls = [];
let selectedId = null;
let editingId = null;
let live = null;             // the newest results frame of the selected poll's current round
let shownComparison = null; // the poll, round and right answer the comparison was fetched for
let passwordChange = null;   // the request in flight: its session replaces this one
const checked = new Set();

/**
 * Runs `task` for the newest request only, one at a time: a call while one runs marks
 * it dirty and it runs once more afterwards, at most every `gap` ms. So a burst of
 * frames costs one request per change at most, and replies never arrive out of order.
 */
function coalesced(task, gap = 0) {
  let running = false;
  let dirty = false;
  return async function run() {
    if (running) { dirty = true; return; }
    running = true;
    try {
      do {
        dirty = false;
        await task();
        if (dirty && gap) await new Promise((resolve) => setTimeout(resolve, gap));
      } while (dirty);
    } finally {
      running = false;
    }
  };
}

const refresh = coalesced(async () => {
  try {
    polls = await api("GET", "/api/polls");
  } catch (error) {
    return status(error.message, "error");
  }
  drawList();
  drawDetail();
});

const me0 = await whoAmI();
if (!me0) {
  location.replace("/login");
} else {
  me = me0;
  $("who").textContent = me.username;
  $("room-link").href = `/${me.username}`;
  $("screen-link").href = `/present/${me.username}`;
  if (!me.hasPassword) showPasswordForm(false);
  await refresh();
  openSocket();
  showTextMessages();
}

// Answers by SMS: shown only when the server has a number for them.
async function showTextMessages() {
  const sms = await api("GET", "/api/sms").catch(() => null);
  if (!sms?.enabled || !sms.number) return;
  const draw = (settings) => {
    // No keyword: the username is a carrier word (STOP, HELP...) or another presenter's keyword.
    $("sms-example").textContent = settings.keyword ? `${settings.keyword} B` : "(choose a keyword first)";
    $("sms-number").textContent = settings.number;
    $("sms-keyword").value = settings.keyword || "";
  };
  draw(sms);
  $("sms").hidden = false;
  $("sms-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const say = (text, kind) => { $("sms-status").textContent = text; $("sms-status").dataset.kind = kind; };
    try {
      const saved = await api("POST", "/api/sms", { keyword: $("sms-keyword").value.trim() });
      draw(saved);
      say(`Saved: students now text ${saved.keyword}.`, "ok");
    } catch (error) {
      say(error.message, "error");
    }
  });
}

function openSocket() {
  const socket = new RoomSocket(me.username, "console", {
    onOpen: () => { live = null; refresh(); },
    onMessage: (message) => {
      if (message.type === "state") refresh();
      if (message.type === "results" && message.poll === selectedId) {
        if (live && live.poll === message.poll && live.round === message.round && message.seq < live.seq) return;
        live = message;
        drawLive();
        loadRespondents();
      }
    },
    // Logged out here or elsewhere, or the password changed elsewhere: log in again.
    // A password changed here ends this socket's session too; the new one takes over.
    onEnded: async () => {
      if (passwordChange) {
        const ok = await passwordChange.catch(() => false);
        if (ok) return openSocket();
      }
      location.href = "/login";
    },
  });
  return socket;
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
      $("export-slides").disabled = checked.size === 0;
    });
    return el("li", { class: poll.id === selectedId ? "selected" : null },
      box,
      el("button", { type: "button", class: "poll-title", onclick: () => select(poll.id) }, poll.title),
      el("span", { class: "poll-type" }, poll.type),
      el("span", { class: "badges" }, badges(poll)),
      el("button", { type: "button", class: "primary", "aria-label": `Present ${poll.title}`, onclick: () => present(poll) },
        "Present"),
      el("button", { type: "button", onclick: () => command(poll, poll.active ? "deactivate" : "activate") },
        poll.active ? "Deactivate" : "Activate"));
  }));
  if (!polls.length) $("polls").append(el("li", { class: "hint" }, "No polls yet: create one."));
  $("export").disabled = checked.size === 0;
  $("export-slides").disabled = checked.size === 0;
}

/** Full screen & activate: the screen opens (in one named window, reused) and the poll goes live. */
async function present(poll) {
  // Opened inside the click, before any await, so no popup blocker stops it.
  const screen = window.open(`/present/${encodeURIComponent(me.username)}?present=1`, "pollcast-screen");
  if (!poll.active) await command(poll, "activate");
  if (!screen) status("Your browser blocked the screen window: use Open screen above.", "warn");
}

function select(id) {
  selectedId = id;
  live = null;
  shownRounds = null;
  drawList();
  drawDetail();
}

let shownRounds = null;   // poll id + round + revealed the "All rounds" panel was drawn for

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
  // Pre/post: from the second round on, the room's screens can show round 1 beside this one.
  const comparable = poll.type === "choice" && poll.round > 1;
  $("controls").replaceChildren(...[
    el("button", { type: "button", class: "primary", onclick: () => present(poll) }, "Present"),
    ...controls.map(([cmd, label]) => el("button", { type: "button", onclick: () => command(poll, cmd) }, label)),
    comparable ? el("button", {
      type: "button", id: "compare-rounds", "aria-pressed": String(!!poll.settings.compareRounds),
      onclick: () => compareRounds(poll, !poll.settings.compareRounds),
    }, "Compare rounds on screen") : null,
    el("button", { type: "button", onclick: () => edit(poll) }, "Edit"),
    el("a", { class: "button", href: `/api/polls/${poll.id}/export.csv`, download: "" }, "Download CSV"),
    el("a", { class: "button", href: `/api/polls/${poll.id}/slides.pptx${poll.round > 1 ? "?rounds=all" : ""}`, download: "" },
      "Slides (.pptx)"),
    el("a", { class: "button", href: `/api/polls/${poll.id}/chart.svg`, target: "_blank", rel: "noopener" }, "Chart image (SVG)"),
    el("button", { type: "button", class: "danger", onclick: () => remove(poll) }, "Delete"),
  ].filter(Boolean));
  if (!live || live.poll !== poll.id || live.round !== poll.round) {
    live = null;
    try {
      const fetched = await api("GET", `/api/polls/${poll.id}/results`);
      // A frame that came in meanwhile is newer than this reply.
      if (selectedId === poll.id && !live && fetched.round === poll.round) live = fetched;
    } catch { /* the next frame draws it */ }
  }
  drawLive();
  loadRespondents();
  // Hide, show, lock change nothing in the comparison: fetched per poll, round and answer key.
  const comparisonKey = `${poll.id}/${poll.round}/${poll.revealed}/${poll.settings.correct}`;
  if (shownComparison !== comparisonKey) {
    shownComparison = comparisonKey;
    loadComparison();
  }
  const key = `${poll.id}/${poll.round}/${poll.revealed}`;
  if (shownRounds !== key) {
    shownRounds = key;
    drawRounds(poll, key);
  }
}

/** The live panel, from the newest frame: no request per frame. */
function drawLive() {
  const poll = polls.find((p) => p.id === selectedId);
  if (!poll) return;
  const current = live && live.poll === poll.id && live.round === poll.round ? live : null;
  renderResults($("live"), poll, current, {
    moderate: poll.type === "open" ? (text, hidden) => moderate(poll, text, hidden) : undefined,
  });
}

/** Earlier rounds never change: fetched once per poll, round and reveal. */
async function drawRounds(poll, key) {
  const rounds = await Promise.all(Array.from({ length: poll.round }, (_, i) =>
    api("GET", `/api/polls/${poll.id}/results?round=${i + 1}`).catch(() => null)));
  if (shownRounds !== key) return;
  $("rounds").replaceChildren(...rounds.map((r, i) => {
    const box = el("div", { class: "round" }, el("h4", {}, `Round ${i + 1}`));
    const inner = el("div", {});
    renderResults(inner, { ...poll, settings: { ...poll.settings, chart: "bar" } }, r, { compact: true });
    box.append(inner);
    return box;
  }));
}

/** Screens show round 1 beside the current round (or stop). */
async function compareRounds(poll, on) {
  try {
    const updated = await api("POST", `/api/polls/${poll.id}/display`, { compareRounds: on });
    polls = polls.map((p) => (p.id === updated.id ? updated : p));
    status(on ? "The screen now compares round 1 with this round." : "", on ? "ok" : null);
    drawDetail();
  } catch (error) {
    status(error.message, "error");
  }
}

/**
 * Round 1 against the current round, in words and numbers. Fetched when the poll is
 * opened or its state changes, and on "Update": never per results frame (the live
 * panel already draws the rounds side by side from the frames when comparing).
 */
const loadComparison = coalesced(async () => {
  const poll = polls.find((p) => p.id === selectedId);
  const box = $("compare");
  if (!poll || poll.type !== "choice" || poll.round < 2) {
    box.hidden = true;
    return;
  }
  let c;
  try {
    c = await api("GET", `/api/polls/${poll.id}/compare`);
  } catch (error) {
    $("compare-body").replaceChildren(el("p", { class: "feedback", "data-kind": "error" }, error.message));
    box.hidden = false;
    return;
  }
  if (selectedId !== poll.id || c.to.round !== poll.round) return;
  const percent = (x) => `${Math.round(100 * x)}%`;
  const lines = [el("p", {}, `Round ${c.from.round}: ${respondents(c.from.total)}. Round ${c.to.round}: ${respondents(c.to.total)}.`)];
  if (c.from.right != null) {
    const was = Math.round(100 * c.from.right), now = Math.round(100 * c.to.right);
    lines.push(el("p", { class: "compare-headline" }, `Right answer: ${percent(c.from.right)} → ${percent(c.to.right)} `,
      el("span", { class: `delta ${now > was ? "up" : now < was ? "down" : "same"}` }, `(${pointsChange(was, now)})`)));
  }
  if (c.movement) {
    const m = c.movement, n = (k, one, many) => `${k} ${k === 1 ? one : many}`;
    lines.push(el("p", {}, m.answeredBoth
      ? `Of the ${n(m.answeredBoth, "person", "people")} who answered both times: ${m.wrongToRight} moved from a wrong `
        + `answer to the right one, ${m.rightToWrong} from right to wrong, ${m.stayedRight} stayed right, `
        + `${m.stayedWrong} stayed wrong.`
      : "Nobody has answered both rounds yet."));
  } else {
    lines.push(el("p", { class: "hint" }, "Set the right answer (Edit) to see who moved from wrong to right."));
  }
  lines.push(el("p", { class: "controls" },
    el("button", { type: "button", onclick: () => loadComparison() }, "Update"),
    el("a", { class: "button", href: `/api/polls/${poll.id}/compare.csv`, download: "" },
      "Download both rounds (one row per participant)")));
  $("compare-body").replaceChildren(...lines);
  box.hidden = false;
}, 1000);

/** Who answered what (identified polls): at most one request a second while answers arrive. */
const loadRespondents = coalesced(async () => {
  const poll = polls.find((p) => p.id === selectedId);
  if (!poll) return;
  if (!poll.settings.identified) {
    $("who-answered").replaceChildren(el("p", { class: "hint" },
      "Anonymous poll: pollcast stores no names for it, so nobody can see who answered what."));
    return;
  }
  let list;
  try {
    list = await api("GET", `/api/polls/${poll.id}/responses?round=${poll.round}`);
  } catch (error) {
    $("who-answered").replaceChildren(el("p", { class: "feedback", "data-kind": "error" }, error.message));
    return;
  }
  if (selectedId !== poll.id || list.round !== poll.round) return;
  const answerText = (r) => r.choices
    ? r.choices.map((i) => `${letter(i)}. ${poll.options[i] ?? ""}`).join("; ")
    : r.answer;
  const time = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  $("who-answered").replaceChildren(list.responses.length
    ? el("table", { class: "figures who" },
      el("caption", {}, `Round ${list.round}: ${list.responses.length} named ${list.responses.length === 1 ? "answer" : "answers"}, newest first`),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Answer"),
        el("th", { scope: "col" }, "Time"))),
      el("tbody", {}, list.responses.map((r) => el("tr", {},
        el("th", { scope: "row" }, r.name), el("td", {}, answerText(r)), el("td", {}, time(r.time))))))
    : el("p", { class: "hint" }, "Nobody has answered this round yet."));
}, 1000);

async function command(poll, cmd) {
  if (cmd === "clear" && !confirm("Clear the results and start a new round? This round stays saved.")) return;
  try {
    // The reply is the poll as it is now; a change the room sees also comes as a
    // `state` frame, which refreshes the whole list (activating deactivates another).
    const updated = await api("POST", `/api/polls/${poll.id}/${cmd}`);
    polls = polls.map((p) => (p.id === updated.id ? updated : p));
    status("", null);
    drawList();
    drawDetail();
  } catch (error) {
    status(error.message, "error");
    await refresh();
  }
}

async function moderate(poll, text, hidden) {
  try {
    live = await api("POST", `/api/polls/${poll.id}/moderate`, { text, hidden });
    status(hidden ? "Hidden from the screen (still counted and exported)." : "Shown again.", "ok");
  } catch (error) {
    status(error.message, "error");
  }
  drawLive();
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

// Password: set once after a login link, changed any time (the current one required).
function showPasswordForm(change) {
  $("account-heading").textContent = change ? "Change password" : "Set a password";
  $("account-note").textContent = change
    ? "Other browsers logged in as you will be logged out."
    : "You logged in with a one-time link. Set a password now, or you cannot log in again after logging out.";
  $("current-field").hidden = !me.hasPassword;
  $("cancel-password").hidden = !me.hasPassword && !change;
  $("password-status").textContent = "";
  $("account").hidden = false;
  (me.hasPassword ? $("p-current") : $("p-new")).focus();
}

$("change-password").addEventListener("click", () => showPasswordForm(me.hasPassword));
$("cancel-password").addEventListener("click", () => { $("account").hidden = true; });
$("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const say = (text, kind) => { $("password-status").textContent = text; $("password-status").dataset.kind = kind; };
  const password = $("p-new").value;
  // Characters as the server counts them: an emoji (even a family of them) is one.
  const characters = typeof Intl.Segmenter === "function"
    ? [...new Intl.Segmenter().segment(password)].length : [...password].length;
  if (characters < 8) return say("The new password needs at least 8 characters.", "error");
  if (password !== $("p-repeat").value) return say("The two new passwords differ.", "error");
  if (me.hasPassword && !$("p-current").value) return say("Enter your current password.", "error");
  const body = { password };
  if (me.hasPassword) body.current = $("p-current").value;
  passwordChange = api("POST", "/api/password", body).then((reply) => {
    sessionStorage.setItem("pollcast.csrf", reply.csrf);
    return true;
  });
  try {
    await passwordChange;
    me.hasPassword = true;
    for (const id of ["p-current", "p-new", "p-repeat"]) $(id).value = "";
    $("account").hidden = true;
    status("Password saved. Other browsers logged in as you were logged out.", "ok");
  } catch (error) {
    say(error.message, "error");
  } finally {
    setTimeout(() => { passwordChange = null; }, 2000);
  }
});

// Create and edit.
$("new-poll").addEventListener("click", () => edit(null));
$("cancel-edit").addEventListener("click", () => { $("editor").hidden = true; });
$("f-type").addEventListener("change", syncTypeFields);
$("export-slides").addEventListener("click", () => {
  // In the order of the list (newest first), every round of each poll side by side.
  const ids = polls.filter((p) => checked.has(p.id)).map((p) => encodeURIComponent(p.id));
  location.href = `/api/export.pptx?polls=${ids.join(",")}&rounds=all`;
});
$("export").addEventListener("click", () => {
  location.href = `/api/export.csv?polls=${[...checked].map(encodeURIComponent).join(",")}`;
});
$("logout").addEventListener("click", async () => {
  if (!me.hasPassword && !confirm("You have no password yet: after logging out you can only come back with a new "
    + `login link (pollcast user login-link ${me.username}). Log out anyway?`)) {
    showPasswordForm(false);
    return;
  }
  try {
    await api("POST", "/api/logout");
  } catch (error) {
    // Not logged out (the server could not end the session): say so, do not pretend.
    if (error.status !== 401) return status(`Not logged out: ${error.message}. Try again.`, "error");
  }
  location.replace("/login");
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
