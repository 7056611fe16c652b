// Carer's week through a read-only link (`#/carer-week/{token}`): no key and
// no sign-in; the token stays in the page's fragment (never sent as a page
// request) and goes only to the two link routes. Shows the carer's visits day
// by day and the iCalendar address their phone can subscribe to.

import { get } from "./api.js";
import { h, mount } from "./dom.js";

const hm = (iso) => iso.slice(11, 16);

/** Renders the week for `token` into `root`; `problem` formats errors. */
export async function renderCarerWeek(root, token, problem) {
  mount(root, h("p", { class: "muted" }, "Loading your week…"));
  let v;
  try {
    v = await get(`/v1/carer-week?token=${encodeURIComponent(token)}`, { anonymous: true });
  } catch (e) {
    mount(root, h("section", { id: "view-carer-week", class: "view" }, h("h1", {}, "Your week"), problem(e)));
    return;
  }
  const ics = new URL(v.calendar_path, location.origin).href;
  const webcal = ics.replace(/^https?:/, "webcal:");
  const visits = v.days.reduce((n, d) => n + d.visits.length, 0);
  mount(root, h("section", { id: "view-carer-week", class: "view", "data-carer": v.carer },
    h("div", { class: "row" }, h("h1", { class: "grow" }, `Week of ${v.carer}`), v.team ? h("span", { class: "muted" }, `team ${v.team}`) : null),
    h("div", { class: "card" },
      h("p", {}, `${visits} visits over ${v.days.length} days. This read-only link works until ${new Date(v.expires_at).toLocaleString()}.`),
      h("p", { class: "muted", id: "carer-zone", "data-zone": v.time_zone ?? "" }, `Times are local${v.time_zone ? ` (${v.time_zone})` : ""}.`),
      h("p", {}, "Add your visits to your phone's calendar: ",
        h("a", { id: "carer-webcal", href: webcal }, "subscribe"), " · ",
        h("a", { id: "carer-ics", href: ics }, "calendar file (.ics)")),
      h("p", { class: "muted" }, "Calendar address: ", h("code", { id: "carer-ics-url" }, ics))),
    v.days.length ? v.days.map((d) => h("div", { class: "card carer-day", "data-date": d.date },
      h("h2", {}, new Date(`${d.date}T12:00:00Z`).toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" }),
        h("span", { class: "muted" }, ` · ${d.visits.length} visits`)),
      h("table", {}, h("thead", {}, h("tr", {}, ["Time", "Person", "Arrive", "Travel before", "With"].map((t) => h("th", {}, t)))),
        h("tbody", {}, d.visits.map((x) => h("tr", { "data-visit": x.visit },
          h("td", {}, h("strong", {}, `${hm(x.start)}–${hm(x.end)}`), x.late_min ? h("span", { class: "pill urgent" }, ` ${x.late_min} min late`) : null),
          h("td", {}, x.service_user, x.lat !== null && x.lat !== undefined ? h("div", { class: "muted" }, `${x.lat.toFixed(4)}, ${x.lon.toFixed(4)}`) : null),
          h("td", {}, hm(x.arrival)),
          h("td", { class: "num" }, x.travel_min ? `${x.travel_min} min` : "—"),
          h("td", {}, x.with.length ? h("span", { class: "pill" }, `double-handed with ${x.with.join(", ")}`) : "")))))))
      : h("p", { class: "empty" }, "No visits on your rota.")));
  window.__carefillFirstRender ??= performance.now();
}
