const form = document.getElementById("join");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const room = form.room.value.trim().toLowerCase().replace(/^\/+/, "");
  const error = document.getElementById("error");
  const response = await fetch(`/api/rooms/${encodeURIComponent(room)}`);
  if (response.ok) location.assign(`/${encodeURIComponent(room)}`);
  else error.textContent = `There is no room called "${room}". Check the name on the screen.`;
});
