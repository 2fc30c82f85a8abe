// The presenter's login page: /login. Also shown (status 401) for a used or expired link.
import { api, whoAmI } from "./common.js";

const form = document.getElementById("login");

if (new URLSearchParams(location.search).has("link")) {
  document.getElementById("link-note").hidden = false;
  history.replaceState(null, "", "/login");
}

// Already logged in (another tab, a link just redeemed): straight to the console.
whoAmI().then((me) => {
  if (me && !new URLSearchParams(location.search).has("link")) location.replace("/admin");
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
