// The join page: /. Also served (status 404) for a room address that does not exist.
const form = document.getElementById("join");
const error = document.getElementById("error");
const parts = location.pathname.split("/").filter(Boolean);
const decoded = (part) => { try { return decodeURIComponent(part); } catch { return part; } };
const mistyped = parts.length ? decoded(parts[parts.length - 1]) : "";

// Installed on a phone's home screen, the app starts here (`?app=1`) and goes straight
// to the last room this phone joined; the form is there to pick another.
const lastRoom = (() => { try { return localStorage.getItem("pollcast.lastRoom"); } catch { return null; } })();
if (new URLSearchParams(location.search).get("app") === "1" && lastRoom && !mistyped) {
  location.replace(`/${encodeURIComponent(lastRoom)}`);
} else if (lastRoom && !mistyped) {
  form.room.value = lastRoom;
}
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});

if (mistyped) {
  document.getElementById("heading").textContent = "Room not found";
  const note = document.getElementById("missing");
  note.textContent = `There is no room called "${mistyped}". Check the address on the screen, or type the room name here.`;
  note.hidden = false;
  form.room.value = mistyped.toLowerCase();
  form.room.select();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const room = form.room.value.trim().toLowerCase().replace(/^\/+/, "");
  error.textContent = "";
  if (!room) {
    error.textContent = "Type the room name shown on the screen.";
    return;
  }
  try {
    const response = await fetch(`/api/rooms/${encodeURIComponent(room)}`);
    if (response.ok) location.assign(`/${encodeURIComponent(room)}`);
    else error.textContent = `There is no room called "${room}". Check the name on the screen.`;
  } catch {
    error.textContent = "No connection to the server: check the Wi-Fi and try again.";
  }
});
