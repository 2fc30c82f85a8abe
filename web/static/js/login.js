import { api } from "./common.js";

const form = document.getElementById("login");
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
