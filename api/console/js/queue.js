// Broker queue: every unfilled package against the 1.5 h / 4 h clocks, with
// offer countdowns, filters, rebroker and cancel, and the package's offers.

import { get, post } from "./api.js";
import { duration, h, label, mount, wallWhen, when } from "./dom.js";

const H15 = 90 * 60 * 1000;
const H4 = 240 * 60 * 1000;
const URGENT = new Set(["crisis", "hospital_discharge", "provider_failure"]);

/** Clock cell: counts down to `deadline`; amber inside `warnMs`, red once passed. */
export function timer(deadline, warnMs, extra = {}) {
  return h("span", { class: "timer", "data-deadline": deadline, "data-warn": warnMs, ...extra });
}

/** Refreshes every timer under `root` (once a second). */
export function tickTimers(root, now = Date.now()) {
  for (const el of root.querySelectorAll("[data-deadline]")) {
    const left = Number(el.dataset.deadline) - now;
    const warn = Number(el.dataset.warn);
    const done = el.dataset.done;
    if (done) {
      el.className = "timer done";
      el.textContent = done;
      continue;
    }
    el.textContent = left >= 0 ? duration(left) : `${duration(-left)} over`;
    el.className = `timer ${left < 0 ? "red" : left <= warn ? "amber" : ""}`;
  }
}

export default {
  id: "queue",
  title: "Queue",
  roles: ["admin", "broker", "integrator"],
  render(root, ctx) {
    const canRebroker = ["admin", "broker"].includes(ctx.principal.role);
    const state = { packages: [], filter: { area: "", urgency: "", stage: "", status: "unfilled" }, selected: null };
    const counts = h("span", { class: "muted", id: "queue-count" });
    const selects = {};
    const mkSelect = (name, text) => {
      const sel = h("select", { id: `filter-${name}`, name, onchange: () => { state.filter[name] = sel.value; draw(); } });
      selects[name] = sel;
      return h("label", {}, text, sel);
    };
    const statusSel = h("select", { id: "filter-status", onchange: () => { state.filter.status = statusSel.value; load(); } },
      h("option", { value: "unfilled" }, "open and escalated"),
      h("option", { value: "open" }, "open"),
      h("option", { value: "escalated" }, "escalated"),
      h("option", { value: "filled" }, "filled"),
      h("option", { value: "cancelled" }, "cancelled"));
    const body = h("tbody", { id: "queue-rows" });
    const table = h("table", { id: "queue" },
      h("thead", {}, h("tr", {},
        ["Package", "Area", "Urgency", "Stage", "Age", "To 1.5 h", "To 4 h", "Offers out", "Offer expires", ""].map((t) => h("th", {}, t)))),
      body);
    const errBox = h("div");
    const alertsBox = h("div", { id: "alerts" });
    const detail = h("div", { id: "queue-detail" });
    mount(root,
      h("div", { class: "row" }, h("h1", { class: "grow" }, "Broker queue"), counts,
        h("a", { href: "#/refer" }, h("button", {}, "New referral"))),
      h("div", { class: "card row filters" }, h("label", {}, "Status", statusSel),
        mkSelect("area", "Area"), mkSelect("urgency", "Urgency"), mkSelect("stage", "Stage")),
      errBox, alertsBox,
      h("div", { class: "split wide-left" }, h("div", { class: "card scroll-x" }, table), detail));

    function options(sel, values, current) {
      mount(sel, h("option", { value: "" }, "all"), [...values].sort().map((v) => h("option", { value: v }, label(v))));
      sel.value = values.has(current) ? current : "";
    }

    async function load() {
      const t0 = performance.now();
      try {
        const st = state.filter.status;
        const lists = st === "unfilled"
          ? await Promise.all([get("/v1/packages?status=open"), get("/v1/packages?status=escalated")])
          : [await get(`/v1/packages?status=${st}`)];
        state.packages = lists.flatMap((l) => l.packages);
        mount(errBox);
      } catch (e) {
        mount(errBox, ctx.problem(e, load));
        return;
      }
      loadAlerts();
      const f = state.filter;
      options(selects.area, new Set(state.packages.map((p) => p.area)), f.area);
      options(selects.urgency, new Set(state.packages.map((p) => p.urgency)), f.urgency);
      options(selects.stage, new Set(state.packages.map((p) => p.stage).filter(Boolean)), f.stage);
      f.area = selects.area.value; f.urgency = selects.urgency.value; f.stage = selects.stage.value;
      draw();
      root.dataset.renderMs = (performance.now() - t0).toFixed(1);
      ctx.rendered();
      if (state.selected) showDetail(state.selected, false);
    }

    /**
     * Alerts a broker must act on (escalations, dropped visits), newest first;
     * a dropped visit with the emergency cover assigned to it.
     */
    async function loadAlerts() {
      let list, cover;
      try {
        [list, cover] = await Promise.all([
          get("/v1/reports/alerts"),
          get("/v1/reports/emergency-cover").catch(() => []),
        ]);
      } catch (e) {
        mount(alertsBox, ctx.problem(e));
        return;
      }
      const coverOf = new Map((Array.isArray(cover) ? cover : []).map((c) => [c.visit, c]));
      list = (Array.isArray(list) ? list : list.alerts ?? []).slice().sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
      if (!list.length) { mount(alertsBox); return; }
      const dropped = list.filter((a) => a.visit).length;
      mount(alertsBox, h("details", { class: "card", open: dropped > 0 || undefined },
        h("summary", {}, h("strong", {}, `Alerts (${list.length})`), dropped ? h("span", { class: "pill urgent" }, ` ${dropped} dropped visits`) : null),
        h("table", { id: "alert-rows" }, h("thead", {}, h("tr", {}, ["When", "What", "Person", "Visit", "Team", "Action", "Cover", "Why"].map((t) => h("th", {}, t)))),
          h("tbody", {}, list.slice(0, 50).map((a) => h("tr", { "data-alert": a.code, "data-visit": a.visit ?? "", "data-person": a.person ?? "" },
            h("td", {}, when(a.at)),
            h("td", {}, h("span", { class: `pill ${a.visit ? "urgent" : ""}` }, label(a.code)), a.package ? h("div", { class: "muted" }, a.package) : null),
            h("td", {}, a.person ?? ""),
            h("td", {}, a.visit ?? "", a.visit_start ? h("div", { class: "muted" }, wallWhen(a.visit_start)) : null),
            h("td", {}, a.team ?? ""),
            h("td", {}, label(a.action ?? "")),
            h("td", { "data-cover": coverOf.get(a.visit)?.carers?.join(" ") ?? "" }, a.visit && coverOf.has(a.visit) ? coverText(coverOf.get(a.visit)) : ""),
            h("td", { class: "muted" }, a.message ?? "")))))));
    }

    /** "c-90, c-91 of prov-08 (team-009), Mon 30 Nov 17:30–18:00" (the visit's local times). */
    function coverText(c) {
      return `${c.carers.join(", ")} of ${c.provider} (${c.team}), ${wallWhen(c.start)}–${c.end.slice(11, 16)}`;
    }

    function draw() {
      const t0 = performance.now();
      drawRows();
      // Time to rebuild the table (the API round trip is in renderMs).
      root.dataset.drawMs = (performance.now() - t0).toFixed(1);
    }

    function drawRows() {
      const f = state.filter;
      const rows = state.packages
        .filter((p) => (!f.area || p.area === f.area) && (!f.urgency || p.urgency === f.urgency) && (!f.stage || p.stage === f.stage))
        .sort((a, b) => Date.parse(a.referred_at) - Date.parse(b.referred_at));
      counts.textContent = `${rows.length} of ${state.packages.length} packages`;
      if (!rows.length) {
        cache.clear();
        mount(body, h("tr", {}, h("td", { colspan: 10, class: "empty" }, "No packages match.")));
        return;
      }
      // Keyed update: a package whose summary did not change keeps its row (its
      // timers tick on their own), so an update rebuilds only what changed.
      const seen = new Set();
      const trs = rows.map((p) => {
        // age_min grows with every fetch; the age cell ticks by itself.
        const sig = JSON.stringify({ ...p, age_min: p.filled_at ? p.age_min : undefined });
        seen.add(p.package);
        const hit = cache.get(p.package);
        if (hit && hit.sig === sig) {
          hit.tr.classList.toggle("sel", state.selected === p.package);
          return hit.tr;
        }
        const tr = row(p);
        tickTimers(tr);
        cache.set(p.package, { sig, tr });
        return tr;
      });
      for (const k of cache.keys()) if (!seen.has(k)) cache.delete(k);
      body.replaceChildren(...trs);
    }
    /** package id -> {sig, tr}: the rows drawn last time. */
    const cache = new Map();

    function row(p) {
      const ref = Date.parse(p.referred_at);
      const filled = p.filled_at ? `filled in ${duration(Date.parse(p.filled_at) - ref)}` : null;
      const closed = p.status !== "open" && p.status !== "escalated";
      const actions = [];
      if (canRebroker && p.status === "escalated")
        actions.push(h("button", { class: "secondary", "data-action": "rebroker", onclick: (e) => { e.stopPropagation(); act(p, "rebroker"); } }, "Rebroker"));
      if (!closed)
        actions.push(h("button", { class: "danger", "data-action": "cancel", onclick: (e) => { e.stopPropagation(); act(p, "cancel"); } }, "Cancel"));
      return h("tr", { "data-package": p.package, class: state.selected === p.package ? "sel" : "", onclick: () => showDetail(p.package, true) },
        h("td", {}, h("a", { href: `#/queue`, onclick: (e) => e.preventDefault() }, p.package), p.status === "escalated" ? h("div", {}, h("span", { class: "pill urgent" }, "escalated")) : null),
        h("td", {}, p.area),
        h("td", {}, h("span", { class: `pill ${URGENT.has(p.urgency) ? "urgent" : ""}` }, label(p.urgency))),
        h("td", {}, label(p.stage) || "—"),
        h("td", { class: "num" }, h("span", { class: "timer", "data-age": p.filled_at ? undefined : ref }, duration((p.age_min ?? 0) * 60000))),
        h("td", {}, timer(ref + H15, 30 * 60000, filled ? { "data-done": filled } : { class: "timer", "data-clock": "1.5h" })),
        h("td", {}, timer(ref + H4, 60 * 60000, filled ? { "data-done": filled } : { class: "timer", "data-clock": "4h" })),
        h("td", { class: "num", "data-offers": p.offers_open ?? "" }, p.offers_open ?? "—"),
        h("td", {}, p.offer_expires_at ? timer(Date.parse(p.offer_expires_at), 5 * 60000, { "data-offer-timer": "" }) : "—"),
        h("td", {}, actions));
    }

    async function act(p, what) {
      const question = what === "cancel"
        ? `Withdraw package ${p.package}? Open offers are closed.`
        : `Retry package ${p.package} from the first stage?`;
      if (!confirm(question)) return;
      try {
        await post(`/v1/packages/${encodeURIComponent(p.package)}/${what}`);
        ctx.toast(`${p.package}: ${what === "cancel" ? "cancelled" : "rebrokered"}`);
        load();
      } catch (e) {
        ctx.toast(`${p.package}: ${e.message}`, "error");
      }
    }

    async function showDetail(id, scroll) {
      state.selected = id;
      for (const tr of body.querySelectorAll("tr")) tr.classList.toggle("sel", tr.dataset.package === id);
      let v;
      try {
        v = await get(`/v1/packages/${encodeURIComponent(id)}`);
      } catch (e) {
        mount(detail, ctx.problem(e, () => showDetail(id)));
        return;
      }
      const r = v.record;
      const offers = [...v.offers].sort((a, b) => Date.parse(b.made_at) - Date.parse(a.made_at));
      mount(detail, h("div", { class: "card", "data-package-detail": id },
        h("h2", {}, `Package ${id}`),
        h("p", {}, `${label(r.package.urgency)} · ${r.area} · referred ${when(r.referred_at)} · ${label(r.status)}`,
          r.provider ? ` · ${r.provider} / ${r.team}` : ""),
        h("p", { class: "muted" }, `Stages tried: ${(r.stages_tried || []).map(label).join(", ") || "none"}`),
        h("h2", {}, `Offers (${offers.length})`),
        offers.length
          ? h("table", { class: "offers" }, h("thead", {}, h("tr", {}, ["Provider", "Team", "Stage", "Status", "Expires", "Why"].map((t) => h("th", {}, t)))),
            h("tbody", {}, offers.map((o) => h("tr", { "data-offer": o.id },
              h("td", {}, o.provider), h("td", {}, o.team), h("td", {}, label(o.stage)), h("td", {}, label(o.status), o.decline_reason ? ` (${label(o.decline_reason)})` : ""),
              h("td", {}, o.status === "open" ? timer(Date.parse(o.expires_at), 5 * 60000) : when(o.closed_at)),
              h("td", { class: "muted" }, o.fit?.explanation ?? "")))))
          : h("p", { class: "muted" }, "No offers yet.")));
      tickTimers(detail);
      if (scroll) detail.scrollIntoView({ block: "nearest" });
    }

    const every = setInterval(() => { tickTimers(root); ageTick(); }, 1000);
    function ageTick() {
      const now = Date.now();
      for (const el of body.querySelectorAll("[data-age]")) el.textContent = duration(now - Number(el.dataset.age));
    }
    let pending = null;
    ctx.live((ev) => {
      clearTimeout(pending);
      pending = setTimeout(load, 250);
    });
    load();
    return { stop: () => { clearInterval(every); clearTimeout(pending); } };
  },
};
