// The console shell: sign-in, role-based navigation, the hash router, the
// connection banner and the live-update fan-out to the open view.

import { ApiError, get, on, session, subscribe } from "./api.js";
import { h, mount, toast } from "./dom.js";
import queue from "./queue.js";
import refer from "./refer.js";
import offers from "./offers.js";
import week from "./week.js";
import reports from "./reports.js";
import map from "./map.js";
import providers from "./providers.js";
import { renderCarerWeek } from "./carer.js";

/** Every view, in menu order; each lists the roles that see it. */
const VIEWS = [queue, refer, offers, providers, week, map, reports];

/** The token of a carer's read-only week link in the fragment, if this is one. */
function carerToken() {
  const m = location.hash.match(/^#\/carer-week\/([^/?#]+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const banner = document.getElementById("banner");

let principal = null;
let current = null; // { view, handle }
let stopLive = null;
const listeners = new Set();
let liveCount = 0;
/** Live events received (for tests and the status line). */
window.__carefillLive = () => liveCount;

/** A problem+json error as a readable card (never a blank page). */
export function problem(err, retry) {
  const e = err instanceof ApiError ? err : new ApiError(0, { detail: String(err?.message ?? err) });
  return h("div", { class: "problem", role: "alert", "data-status": e.status },
    h("strong", {}, e.status ? `${e.status} ${e.code}` : e.code === "network" ? "Connection lost" : "Error"),
    ": ", e.message,
    e.path ? h("div", { class: "muted" }, `at ${e.path}`) : null,
    e.requestId ? h("div", { class: "muted" }, `request id ${e.requestId}`) : null,
    retry ? h("div", {}, h("button", { class: "secondary", onclick: retry }, "Try again")) : null);
}

function signIn(message) {
  teardown();
  principal = null;
  nav.replaceChildren();
  who.replaceChildren();
  const input = h("input", { id: "key", type: "password", autocomplete: "off", spellcheck: "false",
    placeholder: "API key", "aria-label": "API key", required: true });
  const err = h("p", { id: "signin-error", class: "error-text", role: "alert" }, message || "");
  const form = h("form", { class: "card signin", id: "signin" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste your carefill API key. It is kept for this tab only and sent only in the Authorization header."),
    input, err,
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    try {
      const p = await get("/v1/whoami", { key });
      session.set(key);
      start(p);
    } catch (e) {
      err.textContent = e.status === 401 ? "That key was not accepted." : e.message;
    }
  });
  mount(main, form);
  input.focus();
}

function teardown() {
  current?.handle?.stop?.();
  current = null;
  stopLive?.();
  stopLive = null;
  listeners.clear();
}

function viewsFor(p) {
  return VIEWS.filter((v) => v.roles.includes(p.role));
}

function start(p) {
  principal = p;
  const scope = p.scope?.id ? ` · ${p.scope.kind} ${p.scope.id}` : "";
  mount(who, h("span", { id: "principal", "data-role": p.role }, `${p.key_id} (${p.role}${scope})`),
    h("button", { class: "secondary", id: "signout", onclick: () => { session.clear(); location.hash = ""; signIn(); } }, "Sign out"));
  mount(nav, viewsFor(p).map((v) => h("a", { href: `#/${v.id}`, "data-view": v.id }, v.title)));
  stopLive?.();
  let opened = 0;
  stopLive = subscribe((ev) => {
    // The first "open" is the initial connection; later ones are reconnects after which views refetch.
    if (ev.type === "heartbeat" || ev.type === "hello" || (ev.type === "open" && opened++ === 0)) return;
    liveCount++;
    for (const f of listeners) {
      try { f(ev); } catch (e) { console.error(e); }
    }
  });
  route();
}

function route() {
  if (!principal) return;
  const allowed = viewsFor(principal);
  const id = location.hash.replace(/^#\/?/, "").split("?")[0];
  const view = allowed.find((v) => v.id === id) ?? allowed[0];
  if (!view) {
    mount(main, h("div", { class: "card" }, `No views for role ${principal.role}.`));
    return;
  }
  if (`#/${view.id}` !== location.hash) history.replaceState(null, "", `#/${view.id}`);
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.view === view.id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  current?.handle?.stop?.();
  listeners.clear();
  const root = h("section", { id: `view-${view.id}`, class: "view" });
  mount(main, root);
  document.title = `${view.title} · carefill`;
  const ctx = {
    principal,
    problem,
    toast,
    /** Marks the first view drawn with data (performance.now(): ms since navigation). */
    rendered: () => { window.__carefillFirstRender ??= performance.now(); },
    /** Registers a live-update listener for this view (dropped when the view changes). */
    live: (f) => listeners.add(f),
  };
  try {
    current = { view, handle: view.render(root, ctx) || null };
  } catch (e) {
    mount(root, problem(e, route));
  }
}

on("unauthorized", () => {
  session.clear();
  signIn("Your key is no longer accepted; sign in again.");
});
on("connection", (up) => {
  if (up) {
    banner.hidden = true;
    banner.classList.remove("ok");
    for (const f of listeners) f({ type: "reconnected", data: null });
  } else {
    banner.textContent = "Connection to carefill lost. Retrying…";
    banner.hidden = false;
  }
});
window.addEventListener("hashchange", () => (carerToken() || document.getElementById("view-carer-week") ? boot() : route()));
window.addEventListener("unhandledrejection", (ev) => {
  const e = ev.reason;
  if (e?.name === "AbortError") return;
  toast(e?.message ?? String(e), "error");
});

async function boot() {
  const token = carerToken();
  if (token) {
    teardown();
    principal = null;
    nav.replaceChildren();
    mount(who, h("span", { id: "principal", "data-role": "carer-link" }, "read-only link"));
    return renderCarerWeek(main, token, problem);
  }
  const key = session.key();
  if (!key) return signIn();
  try {
    start(await get("/v1/whoami"));
  } catch (e) {
    if (e.status === 401) return; // the unauthorized handler shows sign-in
    mount(main, problem(e, boot));
  }
}

boot();
