// Referral form: builds {package, service_user}, shows the API's JSON-path
// errors at the fields they name, asks for top-k recommendations with their
// explanation, and refers (tier cascade) or applies one recommendation.

import { get, post } from "./api.js";
import { h, label, mount } from "./dom.js";

const URGENCIES = ["crisis", "hospital_discharge", "provider_failure", "routine", "planned"];
const BANDS = ["morning", "lunch", "tea", "evening", "night"];

/** A blank referral the form starts from when there is no demo referral. */
function blank() {
  const id = `ref-${Date.now().toString(36)}`;
  return {
    package: { id, service_user: `${id}-p`, urgency: "hospital_discharge", required_skills: [],
      visits: [{ id: "am", days: ["daily"], time: { band: "morning" }, duration_min: 30, carers_required: 1 }] },
    service_user: { id: `${id}-p`, location: { lat: 50.72, lon: -3.53 } },
  };
}

/** "band:morning" / "exact:12:00" / "window:16:30-18:00" <-> the API's time spec. */
function timeText(t) {
  if (!t) return "";
  if (t.band) return `band:${t.band}`;
  if (t.exact) return `exact:${t.exact}`;
  if (t.window) return `window:${t.window.start}-${t.window.end}`;
  return JSON.stringify(t);
}
function timeSpec(text) {
  const [kind, rest = ""] = text.split(/:(.*)/s);
  if (kind === "band") return { band: rest };
  if (kind === "exact") return { exact: rest };
  if (kind === "window") {
    const [start, end] = rest.split("-");
    return { window: { start, end } };
  }
  return text; // the API names the field and says what it expects
}
const list = (text) => text.split(",").map((x) => x.trim()).filter(Boolean);
/** Numbers go as numbers; anything else as typed, for the API to reject by path. */
const num = (text) => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text);

export default {
  id: "refer",
  title: "Refer",
  roles: ["admin", "broker", "integrator"],
  render(root, ctx) {
    let base = blank();
    let demo = [];
    const form = h("form", { class: "referral card", id: "referral-form", novalidate: true });
    const kSel = h("select", { id: "rec-k" }, [3, 5, 10, 20].map((k) => h("option", { value: k }, k)));
    const summary = h("div", { id: "referral-errors" });
    const result = h("div", { id: "referral-result" });
    const recs = h("div", { id: "recommendations" });
    const demoSel = h("select", { id: "demo-referral", onchange: () => { if (demoSel.value !== "") { base = structuredClone(demo[Number(demoSel.value)]); fill(); } } });
    mount(root,
      h("div", { class: "row" }, h("h1", { class: "grow" }, "New referral"),
        h("label", { class: "row" }, "Start from a waiting referral", demoSel)),
      h("div", { class: "split" }, h("div", {}, summary, form, result), h("div", {}, recs)));

    const field = (path, text, input) => h("label", {}, text, input, h("span", { class: "field-error", "data-error-for": path }));
    const input = (path, value, attrs = {}) => h("input", { name: path, "data-path": path, value: value ?? "", ...attrs });

    function fill() {
      const p = base.package, u = base.service_user;
      const urg = h("select", { name: "$.package.urgency", "data-path": "$.package.urgency" },
        URGENCIES.map((x) => h("option", { value: x }, label(x))));
      urg.value = p.urgency ?? "routine";
      const visitRows = (p.visits ?? []).map((v, i) => {
        const at = `$.package.visits[${i}]`;
        const cell = (suffix, value, attrs) => h("td", {}, input(`${at}.${suffix}`, value, attrs), h("span", { class: "field-error", "data-error-for": `${at}.${suffix}` }));
        return h("tr", { "data-visit": i },
          cell("id", v.id, { size: 6 }),
          cell("days", (v.days ?? []).join(", "), { size: 10 }),
          cell("time", timeText(v.time), { size: 14, list: "time-hints" }),
          cell("duration_min", v.duration_min, { size: 4, inputmode: "numeric" }),
          cell("carers_required", v.carers_required ?? 1, { size: 2, inputmode: "numeric" }),
          h("td", {}, h("button", { type: "button", class: "secondary", title: "Remove", onclick: () => { read(); base.package.visits.splice(i, 1); fill(); } }, "×")));
      });
      mount(form,
        h("fieldset", {}, h("legend", {}, "Package"),
          field("$.package.id", "Package id", input("$.package.id", p.id, { id: "package-id", required: true })),
          field("$.package.urgency", "Urgency", urg),
          field("$.package.required_skills", "Skills (comma separated)", input("$.package.required_skills", (p.required_skills ?? []).join(", "))),
          field("$.package.start_date", "Start date", input("$.package.start_date", p.start_date ?? "", { placeholder: "YYYY-MM-DD", size: 10 })),
          field("$.package.end_date", "End date", input("$.package.end_date", p.end_date ?? "", { placeholder: "YYYY-MM-DD", size: 10 }))),
        h("fieldset", {}, h("legend", {}, "Visits"),
          h("table", { class: "visits" }, h("thead", {}, h("tr", {}, ["Id", "Days", "Time", "Minutes", "Carers", ""].map((t) => h("th", {}, t)))),
            h("tbody", {}, visitRows)),
          h("datalist", { id: "time-hints" }, BANDS.map((b) => h("option", { value: `band:${b}` })), h("option", { value: "exact:12:00" }), h("option", { value: "window:16:30-18:00" })),
          h("button", { type: "button", class: "secondary", onclick: () => { read(); base.package.visits.push({ id: `v${base.package.visits.length + 1}`, days: ["daily"], time: { band: "lunch" }, duration_min: 30, carers_required: 1 }); fill(); } }, "Add visit"),
          h("span", { class: "field-error", "data-error-for": "$.package.visits" })),
        h("fieldset", {}, h("legend", {}, "Person"),
          field("$.service_user.id", "Person id (pseudonymous)", input("$.service_user.id", u.id)),
          field("$.service_user.location.lat", "Latitude", input("$.service_user.location.lat", u.location?.lat, { size: 9 })),
          field("$.service_user.location.lon", "Longitude", input("$.service_user.location.lon", u.location?.lon, { size: 9 }))),
        h("div", { class: "row" },
          h("button", { type: "button", id: "recommend", class: "secondary", onclick: recommend }, "Recommend"),
          h("label", { class: "row" }, "top", kSel),
          h("button", { type: "submit", id: "submit-referral" }, "Refer")));
      mount(summary);
    }

    /** The form's values over `base`, so fields the form does not show are kept. */
    function read() {
      const body = structuredClone(base);
      const val = (path) => form.querySelector(`[data-path="${path}"]`)?.value ?? "";
      const p = body.package, u = body.service_user;
      p.id = val("$.package.id").trim();
      p.urgency = val("$.package.urgency");
      p.required_skills = list(val("$.package.required_skills"));
      for (const k of ["start_date", "end_date"]) {
        const v = val(`$.package.${k}`).trim();
        if (v) p[k] = v; else delete p[k];
      }
      p.visits = (p.visits ?? []).map((v, i) => {
        const at = `$.package.visits[${i}]`;
        return { ...v, id: val(`${at}.id`).trim(), days: list(val(`${at}.days`)), time: timeSpec(val(`${at}.time`).trim()),
          duration_min: num(val(`${at}.duration_min`)), carers_required: num(val(`${at}.carers_required`)) };
      });
      u.id = val("$.service_user.id").trim();
      p.service_user = u.id;
      u.location = { ...u.location, lat: num(val("$.service_user.location.lat")), lon: num(val("$.service_user.location.lon")) };
      base = body;
      return body;
    }

    /** Puts each issue at the field its path names (or the nearest enclosing one). */
    function showErrors(err) {
      for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
      for (const el of form.querySelectorAll("[data-error-for]")) el.textContent = "";
      const issues = err.issues.length ? err.issues : [{ path: err.path ?? "$", message: err.message, code: err.code }];
      const loose = [];
      for (const is of issues) {
        let path = is.path ?? "$";
        let slot = null;
        while (path && !(slot = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`))) {
          const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
          path = cut > 1 ? path.slice(0, cut) : "";
        }
        if (slot) {
          slot.textContent = [slot.textContent, is.message].filter(Boolean).join("; ");
          form.querySelector(`[data-path="${CSS.escape(path)}"]`)?.setAttribute("aria-invalid", "true");
        } else loose.push(is);
      }
      mount(summary, h("div", { class: "problem", role: "alert" },
        h("strong", {}, `${err.status} ${err.code}`), `: ${issues.length} problem${issues.length === 1 ? "" : "s"} in the referral`,
        h("ul", {}, issues.map((is) => h("li", {}, h("code", {}, is.path ?? "$"), ` ${is.message}`))),
        loose.length ? h("p", { class: "muted" }, "Problems not tied to a field above are listed here only.") : null));
      form.querySelector("[aria-invalid='true']")?.focus();
    }

    function clearErrors() {
      mount(summary);
      for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
      for (const el of form.querySelectorAll("[data-error-for]")) el.textContent = "";
    }

    async function recommend() {
      const body = read();
      mount(recs, h("p", { class: "muted" }, "Checking every nearby team's rota…"));
      try {
        const r = await post(`/v1/recommendations?k=${kSel.value}`, body);
        clearErrors();
        mount(recs, h("div", { class: "card" },
          h("h2", {}, `Recommendations for ${r.package}`),
          h("p", { class: "muted" }, `${r.teams_checked} teams checked in ${Math.round(r.elapsed_ms)} ms; stage order ${r.stage_order.map(label).join(" → ")}`),
          r.recommendations.length ? r.recommendations.map((c) => h("div", { class: "rec", "data-rec": c.rank },
            h("h3", {}, `${c.rank}. ${c.provider_name ?? c.provider} · ${label(c.tier)} · team ${c.team}`),
            h("div", {}, `Carers ${c.carers.join(", ")}`, c.known_carers?.length ? ` (known: ${c.known_carers.join(", ")})` : ""),
            h("div", {}, `Extra travel ${c.extra_travel_min} min · cost change ${Math.round(c.cost_delta)} · care ${c.care_min} min`),
            h("p", { class: "muted explanation" }, c.explanation),
            h("button", { type: "button", "data-apply": c.rank, "data-provider": c.provider, "data-team": c.team, onclick: () => apply(body, c) }, `Offer to ${c.provider} only`)))
            : h("p", {}, "No team can take this package as it stands."),
          r.not_fitting.length ? h("details", {}, h("summary", {}, `${r.not_fitting.length} teams checked that do not fit`),
            h("ul", {}, r.not_fitting.slice(0, 30).map((c) => h("li", {}, `${c.provider} / ${c.team} (${label(c.tier)}): ${c.explanation}`)))) : null));
      } catch (e) {
        mount(recs);
        if (e.status === 422 || e.status === 400) showErrors(e); else mount(recs, ctx.problem(e, recommend));
      }
    }

    async function apply(body, c) {
      try {
        const v = await post("/v1/recommendations/apply", { ...body, provider: c.provider, team: c.team });
        done(v, `offered to ${c.provider} / ${c.team}`);
      } catch (e) {
        if (e.status === 422 || e.status === 400) showErrors(e); else ctx.toast(e.message, "error");
      }
    }

    function done(v, how) {
      clearErrors();
      const id = v.record.package.id;
      mount(result, h("div", { class: "card", id: "referral-done", "data-package": id },
        h("strong", {}, `Package ${id} referred`), ` (${how}). Status ${label(v.record.status)}, ${v.offers.length} offer(s).`,
        h("div", {}, h("a", { href: "#/queue" }, "Open the queue"))));
      ctx.toast(`Package ${id} referred`);
      demo = demo.filter((d) => d.package.id !== id);
      fillDemo();
      base = blank();
      fill();
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = read();
      try {
        const v = await post("/v1/referrals", body);
        done(v, "tier cascade");
      } catch (e) {
        if (e.status === 422 || e.status === 400 || e.status === 409) showErrors(e); else mount(summary, ctx.problem(e));
      }
    });

    function fillDemo() {
      mount(demoSel, h("option", { value: "" }, demo.length ? `choose (${demo.length})` : "none"),
        demo.slice(0, 200).map((d, i) => h("option", { value: i }, `${d.package.id} · ${label(d.package.urgency)} · ${d.package.visits.length} visits`)));
    }

    fill();
    get("/v1/demo/referrals").then((r) => { demo = r.referrals; fillDemo(); }).catch(() => fillDemo());
  },
};
