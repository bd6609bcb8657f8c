// chouyang serve: page behaviour only (refreshing the dashboard, keyboard on the review screen).
// Every decision is the server's; this file just presses the buttons a person would.
"use strict";

function refreshProgress(box) {
  const stamp = document.getElementById("progress-stamp");
  fetch(box.dataset.src, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
    .then((r) => {
      if (r.status === 401 || r.redirected) { stamp.textContent = "会话已过期，请刷新页面重新登录。"; return null; }
      return r.ok ? r.text() : null;
    })
    .then((html) => {
      if (html === null) { return; }
      box.innerHTML = html;
      stamp.textContent = "更新于 " + new Date().toLocaleTimeString("zh-CN", {hour12: false});
    })
    .catch(() => { stamp.textContent = "暂时无法连接服务器，稍后自动重试。"; });
}

function reviewKeys(form) {
  const fields = Array.from(form.querySelectorAll("fieldset.rfield"));
  let active = 0;
  const show = () => fields.forEach((f, i) => f.classList.toggle("active", i === active));
  const textOf = (f) => f.querySelector("input[type=text]");
  show();
  fields.forEach((f, i) => f.addEventListener("click", () => { active = i; show(); }));
  const submit = (id) => form.requestSubmit(document.getElementById(id));
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey) { return; }
    if (e.target.matches("input[type=text]")) {
      if (e.key === "Escape") { e.target.blur(); }
      if (e.key === "Enter") { e.preventDefault(); submit("accept"); }
      return;
    }
    const field = fields[active];
    if ((/^[0-9]$/.test(e.key) || e.key === "Backspace" || e.key === "Delete") && field) {
      const key = e.key === "Delete" ? "Backspace" : e.key;
      const pick = field.querySelector(`input[type=radio][data-key="${key}"], input[type=checkbox][data-key="${key}"]`);
      if (pick) {
        pick.checked = pick.type === "checkbox" ? !pick.checked : true;  // several choices: a key toggles its option
        e.preventDefault();
      } else if (textOf(field) && key !== "Backspace") {
        textOf(field).focus();  // a write-in field: the digit is typed into it
      }
      return;
    }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      active = Math.max(0, Math.min(fields.length - 1, active + (e.key === "ArrowDown" ? 1 : -1)));
      show();
      if (textOf(fields[active])) { textOf(fields[active]).focus(); }
      e.preventDefault();
    } else if (e.key === "Enter") {
      e.preventDefault(); submit("accept");
    } else if (e.key === "x" || e.key === "X") {
      e.preventDefault(); submit("illegible");
    } else if ((e.key === "z" || e.key === "Z") && document.getElementById("zoom")) {
      const zoom = document.getElementById("zoom");
      zoom.open = !zoom.open;
    } else if (e.key === "ArrowLeft" && form.dataset.prev) {
      window.location.href = form.dataset.prev;
    } else if (e.key === "ArrowRight" && form.dataset.next) {
      window.location.href = form.dataset.next;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("progress-live");
  if (box) { window.setInterval(() => refreshProgress(box), Number(box.dataset.every) || 5000); }
  const form = document.getElementById("review-form");
  if (form) { reviewKeys(form); }
});
