// The presenter's login page: /login. Also shown (status 401) for a used or expired link.
import { api, whoAmI } from "./common.js";

const form = document.getElementById("login");

const usedLink = new URLSearchParams(location.search).has("link");
if (usedLink) {
  document.getElementById("link-note").hidden = false;
  history.replaceState(null, "", "/login");
}

// Already logged in (another tab): straight to the console; after a used link, say so.
whoAmI().then((me) => {
  if (!me) return;
  if (!usedLink) return location.replace("/admin");
  const still = document.getElementById("still-in");
  still.hidden = false;
  still.querySelector("strong").textContent = me.username;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    const reply = await api("POST", "/api/login", {
      username: form.username.value.trim().toLowerCase(),
      password: form.password.value,
    });
    sessionStorage.setItem("pollcast.csrf", reply.csrf);
    location.replace("/admin");
  } catch (e) {
    error.textContent = e.status === 429 ? "Too many attempts: wait a few minutes and try again." : e.message;
  }
});
