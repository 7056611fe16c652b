// Provider status (brokers): suspend, reinstate or fail a provider. Before the
// change a confirmation names how many people and packages it affects (from
// the API's preview, GET /v1/providers/{id}/impact); afterwards a table shows
// where each person went: their package's status and new provider and team,
// kept current by live updates as offers are answered.

import { get, post } from "./api.js";
import { h, label, mount } from "./dom.js";

const VERB = { suspended: "Suspend", failed: "Fail", active: "Reinstate", off_framework: "Take off the framework" };

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** What the change does to the affected packages, from the preview. */
export function impactSentence(v) {
  if (v.status === "active") return `Reinstating ${v.provider} makes it eligible for offers again; no package moves.`;
  const parts = [];
  if (v.packages_released) parts.push(`${plural(v.packages_released, "held package is", "held packages are")} released and re-brokered to other providers, each person's carers remembered`);
  if (v.offers_withdrawn) parts.push(`${plural(v.offers_withdrawn, "open offer is", "open offers are")} withdrawn and the package goes on down the cascade`);
  return parts.length ? `${parts.join("; ")}.` : "No package moves.";
}

export default {
  id: "providers",
  title: "Providers",
  roles: ["admin", "broker"],
  render(root, ctx) {
    const list = h("tbody", { id: "provider-rows" });
    const dialog = h("div", { id: "provider-dialog" });
    const after = h("div", { id: "provider-after" });
    const errBox = h("div");
    let moved = null; // { provider, status, affected: [...] } after a change
    mount(root,
      h("div", { class: "row" }, h("h1", { class: "grow" }, "Provider status")),
      h("p", { class: "muted" }, "Suspending stops new offers (open ones are withdrawn). Failing also releases every package the provider holds and re-brokers them together, remembering each person's carers."),
      errBox, dialog,
      h("div", { class: "split wide-left" },
        h("div", { class: "card scroll-x" }, h("table", { id: "providers" },
          h("thead", {}, h("tr", {}, ["Provider", "Tier", "Status", "Teams", "Skills", ""].map((t) => h("th", {}, t)))), list)),
        after));

    async function load() {
      let v;
      try {
        v = await get("/v1/providers");
        mount(errBox);
      } catch (e) {
        mount(errBox, ctx.problem(e, load));
        return;
      }
      mount(list, v.providers.map((p) => {
        const actions = [];
        if (p.framework_status === "active") {
          actions.push(h("button", { class: "secondary", "data-action": "suspended", onclick: () => preview(p, "suspended") }, "Suspend"));
          actions.push(h("button", { class: "danger", "data-action": "failed", onclick: () => preview(p, "failed") }, "Fail"));
        } else {
          actions.push(h("button", { class: "secondary", "data-action": "active", onclick: () => preview(p, "active") }, "Reinstate"));
          if (p.framework_status !== "failed") actions.push(h("button", { class: "danger", "data-action": "failed", onclick: () => preview(p, "failed") }, "Fail"));
        }
        return h("tr", { "data-provider": p.id },
          h("td", {}, h("strong", {}, p.name), h("div", { class: "muted" }, p.id)),
          h("td", {}, label(p.tier)),
          h("td", {}, h("span", { class: `pill ${p.framework_status === "active" ? "" : "urgent"}`, "data-status": p.framework_status }, label(p.framework_status))),
          h("td", { class: "num" }, p.teams),
          h("td", { class: "muted" }, (p.skills ?? []).join(", ")),
          h("td", { class: "row" }, actions));
      }));
      ctx.rendered();
    }

    async function preview(p, status) {
      let v;
      try {
        v = await get(`/v1/providers/${encodeURIComponent(p.id)}/impact?status=${status}`);
      } catch (e) {
        mount(dialog, ctx.problem(e));
        return;
      }
      const cancel = h("button", { class: "secondary", id: "impact-cancel", onclick: () => mount(dialog) }, "Cancel");
      const confirm = h("button", { class: status === "active" ? "" : "danger", id: "impact-confirm", onclick: () => apply(p, status, v, confirm) },
        `${VERB[status]} ${p.name}`);
      const rows = v.affected.slice(0, 300).map((a) => h("tr", { "data-affected": a.package },
        h("td", {}, a.package), h("td", {}, a.service_user), h("td", {}, a.team ?? ""), h("td", {}, label(a.effect))));
      mount(dialog, h("div", { class: "card confirm", role: "dialog", "aria-labelledby": "impact-title", "data-status": status },
        h("h2", { id: "impact-title" }, `${VERB[status]} ${p.name}?`),
        h("p", { id: "impact-summary" }, h("strong", { id: "impact-people", "data-n": v.people }, plural(v.people, "person", "people")), " and ",
          h("strong", { id: "impact-packages", "data-n": v.packages }, plural(v.packages, "package", "packages")),
          " affected: ", impactSentence(v)),
        h("p", { class: "muted" }, `${plural(v.carers, "carer", "carers")} in ${plural(v.teams.length, "team", "teams")} (${v.teams.join(", ") || "none"}); currently ${label(v.current_status)}.`),
        rows.length ? h("details", {}, h("summary", {}, `The ${v.packages} packages`),
          h("table", {}, h("thead", {}, h("tr", {}, ["Package", "Person", "Team", "What happens"].map((t) => h("th", {}, t)))), h("tbody", {}, rows))) : null,
        h("div", { class: "row" }, confirm, cancel)));
      confirm.focus();
    }

    async function apply(p, status, impact, button) {
      button.disabled = true;
      let r;
      try {
        r = await post(`/v1/providers/${encodeURIComponent(p.id)}/status`, { status, transfers: [] });
      } catch (e) {
        button.disabled = false;
        mount(dialog, ctx.problem(e));
        return;
      }
      mount(dialog);
      ctx.toast(`${p.name}: ${label(status)} · ${r.packages_released} released, ${r.offers_made} offers made, ${r.placed_at_once} placed at once, ${r.escalated} escalated`);
      moved = { provider: p, status, result: r, affected: impact.affected };
      await Promise.all([load(), whereWent()]);
    }

    /** Where each affected person's package is now. */
    async function whereWent() {
      if (!moved) { mount(after); return; }
      let all;
      try {
        all = (await get("/v1/packages")).packages;
      } catch (e) {
        mount(after, ctx.problem(e, whereWent));
        return;
      }
      const now = new Map(all.map((x) => [x.package, x]));
      const m = moved;
      const rows = m.affected.map((a) => {
        const x = now.get(a.package);
        const where = !x ? "not brokered (county package)"
          : x.status === "filled" ? `${x.provider} / ${x.team}`
          : x.status === "open" ? `waiting: ${x.offers_open} offer(s) out${x.stage ? ` (${label(x.stage)})` : ""}`
          : label(x.status);
        return h("tr", { "data-went": a.package, "data-now": x?.status ?? "" },
          h("td", {}, a.service_user), h("td", {}, a.package), h("td", {}, label(x?.status ?? "")), h("td", {}, where));
      });
      const counts = {};
      for (const a of m.affected) { const st = now.get(a.package)?.status ?? "other"; counts[st] = (counts[st] ?? 0) + 1; }
      mount(after, h("div", { class: "card", id: "where-went" },
        h("h2", {}, `After ${m.provider.name} was ${label(m.status)}: where each person went`),
        h("p", {}, Object.entries(counts).map(([k, n]) => `${n} ${label(k)}`).join(" · ") || "Nobody was affected."),
        rows.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Person", "Package", "Status", "Now with"].map((t) => h("th", {}, t)))), h("tbody", {}, rows)) : null));
    }

    let pending = null;
    ctx.live(() => {
      clearTimeout(pending);
      pending = setTimeout(() => { load(); whereWent(); }, 400);
    });
    load();
    return { stop: () => clearTimeout(pending) };
  },
};
