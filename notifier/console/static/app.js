// Vigil console: talks to the notifier API with the operator's bearer
// token. Every string from the API is inserted with textContent.
"use strict";

const api = "/api/v1";
let current = null; // the incident shown
let timer = null;

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function banner(msg, ok) {
  const b = $("banner");
  b.textContent = msg;
  b.className = ok ? "ok" : "";
  b.hidden = !msg;
}

async function call(method, path, body) {
  const token = sessionStorage.getItem("vigil-token");
  const res = await fetch(api + path, {
    method,
    headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (res.status === 401) {
    sessionStorage.removeItem("vigil-token");
    show();
    throw new Error((data && data.error) || "signed out");
  }
  if (!res.ok) throw new Error((data && data.error) || res.statusText);
  return data;
}

function when(ts) {
  if (!ts || ts.startsWith("0001-")) return "";
  return ts.replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function left(ts) {
  if (!ts) return "";
  const ms = Date.parse(ts) - Date.now();
  const h = Math.round(Math.abs(ms) / 36e5 * 10) / 10;
  return ms < 0 ? "overdue by " + h + " h" : "in " + h + " h";
}

async function loadList() {
  const open = $("open-only").checked ? "?open=true" : "";
  const list = await call("GET", "/incidents" + open);
  const tb = $("incidents").querySelector("tbody");
  tb.replaceChildren();
  $("empty").hidden = list.length > 0;
  for (const s of list) {
    const tr = el("tr");
    tr.dataset.id = s.incident_id;
    const next = s.next_deadline ? when(s.next_deadline) + " (" + left(s.next_deadline) + ")" : "";
    const idCell = el("td");
    const link = button(s.incident_id.slice(0, 12), () => openIncident(s.incident_id).catch(e => banner(e.message)));
    link.className = "open";
    idCell.appendChild(link);
    tr.appendChild(idCell);
    for (const v of [s.state, s.severity, s.org, when(s.detected_at), s.alerts, s.people, s.open_obligations, next]) {
      tr.appendChild(el("td", v));
    }
    if (s.next_deadline && Date.parse(s.next_deadline) < Date.now()) tr.lastChild.className = "overdue";
    tb.appendChild(tr);
  }
}

const transitions = [
  ["triage", "Triage"], ["confirmed", "Confirm"], ["dismissed", "Dismiss"],
  ["contained", "Contained"], ["notifying", "Notifying"], ["reported", "Reported"], ["closed", "Close"],
];
const contentFields = ["facts", "impact", "cause", "pi_types", "measures_taken", "self_protection", "remedies", "contact"];

async function openIncident(id) {
  current = await call("GET", "/incidents/" + encodeURIComponent(id));
  render();
}

function render() {
  const v = current;
  $("detail").hidden = false;
  $("d-id").textContent = v.incident_id;
  $("d-state").textContent = v.state;
  const dl = $("d-facts");
  dl.replaceChildren();
  const facts = [
    ["Severity", v.severity], ["Org", v.org], ["Actor", v.actor_id || ""], ["Device", v.device_id || ""],
    ["Detected", when(v.detected_at)], ["Aware (clocks start)", when(v.aware_at)],
    ["Activity window", when(v.window_start) + " – " + when(v.window_end)], ["Alerts", (v.alert_ids || []).length],
    ["People", v.scope.people], ["Minors under 14", v.scope.minors], ["Categories", (v.scope.categories || []).join(", ")],
  ];
  for (const [k, val] of facts) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", val)); }

  const tbtn = $("transition-buttons");
  tbtn.replaceChildren();
  for (const [to, label] of transitions) {
    const b = el("button", label);
    b.dataset.to = to;
    b.addEventListener("click", () => transition(to));
    tbtn.appendChild(b);
  }

  const ob = $("obligations").querySelector("tbody");
  ob.replaceChildren();
  const fields = new Set(contentFields);
  for (const o of v.obligations || []) {
    (o.fields || []).forEach(f => fields.add(f));
    const tr = el("tr");
    tr.dataset.obligation = o.id;
    const pending = o.status === "open" || o.status === "approved";
    const due = el("td", when(o.due_at) + (pending ? " (" + left(o.due_at) + ")" : ""));
    if (pending && Date.parse(o.due_at) < Date.now()) due.className = "overdue";
    const counts = (v.notices && v.notices[o.id]) || {};
    const notices = Object.entries(counts).map(([s, n]) => n + " " + s).join(", ");
    let status = o.status;
    if (o.approved_by) status += " (" + o.approved_by + ")";
    if (o.waived_reason) status += ": " + o.waived_reason;
    for (const c of [el("td", o.id), el("td", o.kind), due, el("td", status), el("td", notices), el("td", o.basis || "")]) tr.appendChild(c);
    const act = el("td");
    if (pending) {
      if (o.status === "open") act.appendChild(button("Approve", () => obligation(o.id, "approve", {})));
      act.appendChild(button("Waive", () => obligation(o.id, "waive", { reason: $("reason").value })));
      if (!["individual_notice", "guardian_notice", "media_notice", "public_announcement"].includes(o.kind)) {
        act.appendChild(button("Record submission", () => {
          const reference = prompt("Regulator's reference number for " + o.id);
          const version = prompt("Report version (initial, supplement, summary)", "initial");
          if (reference && version) obligation(o.id, "submit", { version, reference });
        }));
      }
    }
    tr.appendChild(act);
    ob.appendChild(tr);
  }

  const fd = $("fields");
  fd.replaceChildren();
  for (const f of fields) {
    const l = el("label", f);
    const t = el("textarea");
    t.name = f;
    t.value = (v.fields && v.fields[f]) || "";
    l.appendChild(t);
    fd.appendChild(l);
  }

  const h = $("history");
  h.replaceChildren();
  for (const t of v.transitions || []) {
    h.appendChild(el("li", when(t.at) + "  " + (t.from || "·") + " → " + t.to + "  by " + t.by + (t.reason ? ": " + t.reason : "")));
  }
  for (const s of v.submissions || []) {
    h.appendChild(el("li", when(s.at) + "  submitted " + s.obligation + " (" + s.version + ") ref " + s.reference + " by " + s.by));
  }
}

function button(label, fn) {
  const b = el("button", label);
  b.addEventListener("click", fn);
  return b;
}

async function run(what, fn) {
  try {
    current = await fn();
    render();
    banner(what, true);
    loadList().catch(() => {});
  } catch (e) {
    banner(e.message);
  }
}

function transition(to) {
  const body = { to, reason: $("reason").value };
  const aware = $("aware-at").value.trim();
  if (to === "confirmed" && aware) body.aware_at = aware;
  run("Incident moved to " + to + ".", () => call("POST", "/incidents/" + encodeURIComponent(current.incident_id) + "/transition", body));
}

function obligation(id, action, body) {
  run(id + ": " + action + " recorded.", () =>
    call("POST", "/incidents/" + encodeURIComponent(current.incident_id) + "/obligations/" + encodeURIComponent(id) + "/" + action, body));
}

function show() {
  const signedIn = !!sessionStorage.getItem("vigil-token");
  $("login").hidden = signedIn;
  $("app").hidden = !signedIn;
  $("logout").hidden = !signedIn;
  if (timer) { clearInterval(timer); timer = null; }
  if (signedIn) {
    loadList().catch(e => banner(e.message));
    timer = setInterval(() => loadList().catch(() => {}), 5000);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", ev => {
    ev.preventDefault();
    sessionStorage.setItem("vigil-token", $("token").value.trim());
    $("token").value = "";
    banner("");
    show();
  });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem("vigil-token"); show(); });
  $("open-only").addEventListener("change", () => loadList().catch(e => banner(e.message)));
  $("fields-form").addEventListener("submit", ev => {
    ev.preventDefault();
    const fields = {};
    for (const t of $("fields").querySelectorAll("textarea")) {
      const old = (current.fields && current.fields[t.name]) || "";
      if (t.value !== old) fields[t.name] = t.value;
    }
    if (Object.keys(fields).length === 0) { banner("Nothing changed."); return; }
    run("Content saved.", () => call("POST", "/incidents/" + encodeURIComponent(current.incident_id) + "/fields", { fields }));
  });
  show();
});
