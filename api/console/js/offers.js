// A provider's offers: open ones with their countdown, accept or decline with
// a reason; recent decisions below. Shows only what the API returns to this key:
// before acceptance that is the area, needs and visit pattern, never the person.

import { get, post } from "./api.js";
import { fieldErrors, h, label, mount, when } from "./dom.js";
import { tickTimers, timer } from "./queue.js";

const REASONS = ["no_capacity", "no_suitable_carer", "out_of_area", "travel_too_far", "package_too_small",
  "visit_times_unsuitable", "risk_too_high", "other"];

function visitText(v) {
  const t = v.time?.band ?? v.time?.exact ?? (v.time?.window ? `${v.time.window.start}-${v.time.window.end}` : "");
  return `${v.id}: ${v.days.join("/")} ${t}, ${v.duration_min} min${v.carers_required > 1 ? `, ${v.carers_required} carers` : ""}`;
}

export default {
  id: "offers",
  title: "Offers",
  roles: ["admin", "broker", "provider"],
  render(root, ctx) {
    const scoped = ctx.principal.scope?.kind === "provider" ? ctx.principal.scope.id : null;
    let provider = scoped;
    const picker = h("select", { id: "offers-provider", onchange: () => { provider = picker.value; load(); } });
    const open = h("div", { id: "open-offers" });
    const recent = h("div", { id: "recent-offers" });
    const errBox = h("div");
    mount(root,
      h("div", { class: "row" }, h("h1", { class: "grow" }, "Offers"),
        scoped ? h("span", { class: "muted" }, `provider ${scoped}`) : h("label", { class: "row" }, "Provider", picker)),
      errBox,
      h("h2", {}, "Open offers"), open,
      h("h2", {}, "Decided"), recent);

    async function load() {
      if (!provider) return;
      let all;
      try {
        all = (await get(`/v1/providers/${encodeURIComponent(provider)}/offers`)).offers;
        mount(errBox);
      } catch (e) {
        mount(errBox, ctx.problem(e, load));
        return;
      }
      const openOnes = all.filter((o) => o.status === "open").sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
      const decided = all.filter((o) => o.status !== "open").sort((a, b) => Date.parse(b.made_at) - Date.parse(a.made_at)).slice(0, 50);
      mount(open, openOnes.length ? openOnes.map(card) : h("div", { class: "card empty" }, "No open offers."));
      mount(recent, decided.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["Offer", "Package", "Area", "Status", "Team", "Person (after acceptance)"].map((t) => h("th", {}, t)))),
          h("tbody", {}, decided.map((o) => h("tr", { "data-offer": o.id },
            h("td", {}, o.id), h("td", {}, o.package), h("td", {}, o.area), h("td", {}, label(o.status)), h("td", {}, o.team),
            h("td", {}, o.person ? `${o.person.service_user} at ${o.person.location.lat.toFixed(4)}, ${o.person.location.lon.toFixed(4)}` : "—")))))
        : h("p", { class: "muted" }, "None yet."));
      tickTimers(root);
      ctx.rendered();
    }

    function card(o) {
      const reason = h("select", { name: "reason", "data-reason": o.id, "data-path": "$.reason" }, REASONS.map((r) => h("option", { value: r }, label(r))));
      const note = h("input", { name: "note", placeholder: "note (optional)", maxlength: 2000, "data-path": "$.note" });
      const err = h("span", { class: "field-error" });
      return h("div", { class: "card", "data-offer": o.id, "data-package": o.package },
        h("div", { class: "row" },
          h("strong", { class: "grow" }, `${label(o.urgency)} package in ${o.area}`),
          h("span", {}, "expires in ", timer(Date.parse(o.expires_at), 5 * 60000, { "data-offer-timer": o.id }))),
        h("div", {}, `${label(o.stage)} · team ${o.team} · carers ${o.carers.join(", ")} · ${o.care_min_in_horizon} min of care this week · extra travel ${o.extra_travel_min} min`),
        o.skills.length ? h("div", {}, `Needs: ${o.skills.map(label).join(", ")}`) : null,
        h("ul", {}, o.visits.map((v) => h("li", {}, visitText(v)))),
        h("p", { class: "muted" }, o.explanation),
        h("div", { class: "row" },
          h("button", { "data-accept": o.id, onclick: () => decide(o, "accept", undefined, err) }, "Accept"),
          reason, h("span", { class: "field-error", "data-error-for": "$.reason" }), note, h("span", { class: "field-error", "data-error-for": "$.note" }),
          h("button", { class: "danger", "data-decline": o.id, onclick: () => decide(o, "decline", { reason: reason.value, ...(note.value ? { note: note.value } : {}) }, err) }, "Decline"),
          err));
    }

    async function decide(o, what, body, err) {
      try {
        const v = await post(`/v1/offers/${encodeURIComponent(o.id)}/${what}`, body);
        ctx.toast(what === "accept" ? `Accepted ${o.package}: on team ${v.team}'s rota` : `Declined ${o.package}`);
        load();
      } catch (e) {
        const loose = fieldErrors(err.closest("[data-offer]"), e);
        err.textContent = loose.map((i) => i.message).join("; ");
        if (e.status === 409) load();
      }
    }

    if (!scoped) {
      get("/v1/providers").then((r) => {
        const list = r.providers ?? [];
        mount(picker, list.map((p) => h("option", { value: p.id }, `${p.id} · ${p.name ?? ""} (${label(p.tier)})`)));
        provider = list[0]?.id ?? null;
        load();
      }).catch((e) => mount(errBox, ctx.problem(e)));
    } else load();

    const every = setInterval(() => tickTimers(root), 1000);
    let pending = null;
    ctx.live((ev) => {
      clearTimeout(pending);
      pending = setTimeout(load, 250);
    });
    return { stop: () => { clearInterval(every); clearTimeout(pending); } };
  },
};
