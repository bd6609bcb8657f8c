// chouyang serve, the entry page of any instrument: skip logic and constraint messages while the
// clerk types.  The trees come from the server (instruments.expr.to_json, embedded in the page) and
// are evaluated by expr.js exactly as the server's validation evaluates them; the server still checks
// every post, so this file only greys out (and clears) skipped questions and shows messages.
"use strict";

(function () {
  const E = window.chouyangExpr;

  function inputs(q) { return Array.from(q.querySelectorAll("input, textarea, select")); }

  function valueOf(q) {
    if (q.hasAttribute("data-locked")) { return q.dataset.value || ""; }
    const all = inputs(q);
    const radios = all.filter((el) => el.type === "radio");
    if (radios.length) { const on = radios.find((el) => el.checked); return on ? on.value : ""; }
    const boxes = all.filter((el) => el.type === "checkbox");
    if (boxes.length) { return boxes.filter((el) => el.checked).map((el) => el.value).join(" "); }
    return all.length ? all[0].value.trim() : "";
  }

  function clear(q) {
    inputs(q).forEach((el) => {
      if (el.type === "radio" || el.type === "checkbox") { el.checked = false; } else { el.value = ""; }
    });
  }

  // Values as the server's validation sees them: top-level answers (a repeat's field as the list of
  // its rows' values, for count()), and each repeat row's answers over the top level's.
  function contexts(form) {
    const top = {}, rows = {}, lists = {};
    form.querySelectorAll(".q").forEach((q) => {
      const value = valueOf(q), name = q.dataset.field, scope = q.dataset.scope;
      if (!scope) { top[name] = value; return; }
      const group = rows[scope] || (rows[scope] = {});
      (group[q.dataset.row] || (group[q.dataset.row] = {}))[name] = value;
      (lists[name] || (lists[name] = [])).push(value);
    });
    return {top: Object.assign({}, lists, top), rows: rows};
  }

  function asked(rule, ctx, today) {
    try {
      return rule.relevant.every((tree) => E.truthy(E.evaluate(tree, ctx, null, today)));
    } catch (e) {
      return true;  // the server says what is wrong with an expression it cannot evaluate
    }
  }

  function violated(rule, ctx, value, today) {
    if (!rule.constraint || value === "") { return false; }
    try { return !E.truthy(E.evaluate(rule.constraint, ctx, value, today)); } catch (e) { return false; }
  }

  function update(form, logic) {
    for (let round = 0; round < 10; round++) {  // clearing a skipped answer may skip others: until nothing changes
      let cleared = false;
      const ctx = contexts(form);
      form.querySelectorAll(".q").forEach((q) => {
        const rule = logic.fields[(q.dataset.scope || "") + "/" + q.dataset.field];
        if (!rule) { return; }
        const here = q.dataset.scope ? Object.assign({}, ctx.top, ctx.rows[q.dataset.scope][q.dataset.row]) : ctx.top;
        const on = asked(rule, here, logic.today);
        if (!on && valueOf(q) !== "") { clear(q); cleared = true; }
        q.classList.toggle("skipped", !on);
        inputs(q).forEach((el) => { el.disabled = !on; });
        const bad = on && violated(rule, here, valueOf(q), logic.today);
        q.classList.toggle("invalid", bad);
        const msg = q.querySelector(".constraint-msg");
        if (msg) { msg.hidden = !bad; }
      });
      if (!cleared) { return; }
    }
  }

  // Enter moves to the next question instead of submitting the form; a button still takes Enter.
  function enterMovesOn(form, e) {
    const el = e.target;
    if (e.key !== "Enter" || el.tagName === "TEXTAREA" || el.tagName === "BUTTON") { return; }
    e.preventDefault();
    const order = Array.from(form.querySelectorAll("input, textarea, select, button"))
      .filter((x) => x.type !== "hidden" && !x.disabled && x.tabIndex >= 0);
    let next = order.indexOf(el) + 1;
    while (next < order.length && el.type === "radio" && order[next].name === el.name) { next++; }
    if (order[next]) { order[next].focus(); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("instrument-form");
    const data = document.getElementById("instrument-logic");
    if (!form || !data || !E) { return; }
    const logic = JSON.parse(data.textContent);
    const run = () => update(form, logic);
    form.addEventListener("input", run);
    form.addEventListener("change", run);
    form.addEventListener("keydown", (e) => enterMovesOn(form, e));
    form.addEventListener("submit", run);
    run();
    form.dataset.ready = "1";
  });
})();
