// Reports as SVG charts, each with its CSV: the fill-time curve against the
// 1.5 h / 4 h clocks and Devon Cares' 70% / 97%, declines by reason, capacity
// by area, unfilled packages with delayed-discharge reasons, and the ledger.

import { get } from "./api.js";
import { barChart, lineChart } from "./charts.js";
import { csv, download, h, label, mount } from "./dom.js";

/** Upper bounds of the API's fill-time histogram buckets, minutes (the last is open). */
const BUCKETS = [15, 30, 60, 90, 120, 240, 480];

/** Cumulative share filled at each bucket bound: [[hours, share]]. */
export function fillCurve(stats) {
  const pts = [[0, 0]];
  let acc = 0;
  BUCKETS.forEach((b, i) => {
    acc += stats.histogram[i] ?? 0;
    pts.push([b / 60, stats.referred ? acc / stats.referred : 0]);
  });
  return pts;
}

const pct = (v) => `${Math.round(v * 100)}%`;
const pounds = (p) => `£${(p / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export default {
  id: "reports",
  title: "Reports",
  roles: ["admin", "broker", "integrator"],
  render(root, ctx) {
    const boxes = {};
    const section = (id, title) => {
      boxes[id] = h("div", { class: "chart-body" }, h("p", { class: "muted" }, "Loading…"));
      return h("div", { class: "card", id: `report-${id}` }, h("div", { class: "row" }, h("h2", { class: "grow" }, title),
        h("button", { class: "secondary", "data-csv": id, onclick: () => csvs[id]?.() }, "CSV")), boxes[id]);
    };
    const csvs = {};
    mount(root, h("h1", {}, "Reports"),
      h("div", { class: "split" }, section("fill", "Fill time"), section("declines", "Declines by reason")),
      h("div", { class: "split" }, section("pool", "Risk pool and damages over time"), section("ledger", "Risk pool and damages")),
      h("div", { class: "split" }, section("capacity", "Spare capacity and shortfall by area (carer-hours, week)"), h("div")),
      section("unfilled", "Unfilled packages"));

    async function load() {
      const names = ["fill-times", "offers", "capacity", "unfilled", "ledger"];
      const results = await Promise.allSettled([...names.map((n) => get(`/v1/reports/${n}`)), get("/v1/ledger/series")]);
      const [fill, offers, capacity, unfilled, ledger, series] = results;
      const show = (id, r, f) => {
        if (r.status === "rejected") mount(boxes[id], ctx.problem(r.reason, load));
        else mount(boxes[id], f(r.value));
      };
      show("fill", fill, (v) => {
        const o = v.overall;
        const pts = fillCurve(o);
        csvs.fill = () => download("fill-time.csv", csv(["hours_since_referral", "share_filled"], pts.map(([x, y]) => [x, y.toFixed(4)])));
        return [
          h("p", {}, `${o.filled} of ${o.referred} referred packages filled; `, h("strong", { id: "share-90" }, pct(o.share_within_90_min)),
            " within 1.5 h (target 70%), ", h("strong", { id: "share-240" }, pct(o.share_within_240_min)), " within 4 h (target 97%)",
            o.median_fill_min !== null && o.median_fill_min !== undefined ? `; median ${Math.round(o.median_fill_min)} min` : ""),
          lineChart({ title: "Share of packages filled against hours since referral", points: pts, xMax: 8, yMax: 1, step: false,
            xLabel: "hours since referral", yLabel: "share filled", yFormat: pct,
            vlines: [{ x: 1.5, text: "1.5 h" }, { x: 4, text: "4 h" }], hlines: [{ y: 0.7, text: "70%" }, { y: 0.97, text: "97%" }] }),
          h("details", {}, h("summary", {}, "By urgency and tier"),
            h("table", {}, h("thead", {}, h("tr", {}, ["Group", "Referred", "Filled", "≤1.5 h", "≤4 h"].map((t) => h("th", {}, t)))),
              h("tbody", {}, [...Object.entries(v.by_urgency), ...Object.entries(v.by_tier)].map(([k, st]) =>
                h("tr", {}, h("td", {}, label(k)), h("td", { class: "num" }, st.referred), h("td", { class: "num" }, st.filled),
                  h("td", { class: "num" }, pct(st.share_within_90_min)), h("td", { class: "num" }, pct(st.share_within_240_min)))))))];
      });
      show("declines", offers, (v) => {
        const reasons = Object.entries(v.overall.declines_by_reason).sort((a, b) => b[1] - a[1]);
        csvs.declines = () => download("declines-by-reason.csv", csv(["reason", "declines"], reasons));
        const o = v.overall;
        return [
          h("p", {}, `${o.offered} offers: ${o.accepted} accepted, ${o.declined} declined, ${o.expired} expired, ${o.withdrawn} withdrawn.`),
          reasons.length ? barChart({ title: "Declines by reason", bars: reasons.map(([k, n]) => ({ label: label(k), value: n })) })
            : h("p", { class: "muted" }, "No declines yet.")];
      });
      show("capacity", capacity, (v) => {
        const areas = Object.entries(v).sort((a, b) => b[1].shortfall_hours - a[1].shortfall_hours || a[0].localeCompare(b[0]));
        csvs.capacity = () => download("capacity.csv", csv(["area", "teams", "spare_hours", "unfilled_demand_hours", "shortfall_hours"],
          areas.map(([k, a]) => [k, a.teams, a.total_spare_hours.toFixed(1), a.unfilled_demand_hours.toFixed(1), a.shortfall_hours.toFixed(1)])));
        const shortAreas = areas.filter(([, a]) => a.shortfall_hours > 0);
        return [
          h("p", {}, `${areas.length} areas; ${shortAreas.length} short of carer-hours for the packages waiting there.`),
          barChart({ title: "Spare carer-hours by area", bars: areas.slice(0, 20).map(([k, a]) => ({ label: k, value: a.total_spare_hours })), valueFormat: (x) => `${x.toFixed(0)} h` }),
          shortAreas.length ? barChart({ title: "Shortfall by area", bars: shortAreas.map(([k, a]) => ({ label: k, value: a.shortfall_hours, className: "neg" })), valueFormat: (x) => `${x.toFixed(1)} h short` }) : null];
      });
      show("unfilled", unfilled, (v) => {
        const list = Array.isArray(v) ? v : v.packages ?? [];
        csvs.unfilled = () => download("unfilled.csv", csv(["package", "status", "urgency", "area", "stage", "age_min", "open_offers", "delay_reason"],
          list.map((u) => [u.package, u.status, u.urgency, u.area, u.stage, Math.round(u.age_min), u.open_offers, u.delay_reason])));
        return list.length
          ? h("table", {}, h("thead", {}, h("tr", {}, ["Package", "Status", "Urgency", "Area", "Stage", "Age", "Offers", "Delayed-discharge reason"].map((t) => h("th", {}, t)))),
            h("tbody", {}, list.slice(0, 200).map((u) => h("tr", {}, h("td", {}, u.package), h("td", {}, label(u.status)), h("td", {}, label(u.urgency)), h("td", {}, u.area),
              h("td", {}, label(u.stage)), h("td", { class: "num" }, `${Math.round(u.age_min)} min`), h("td", { class: "num" }, u.open_offers), h("td", {}, label(u.delay_reason))))))
          : h("p", { class: "muted" }, "Nothing unfilled.");
      });
      show("ledger", ledger, (v) => {
        const dmg = Object.entries(v.damages_by_provider ?? {}).sort((a, b) => b[1] - a[1]);
        csvs.ledger = () => download("ledger.csv", csv(["account", "pence"], [["risk_pool", v.risk_pool_pence], ["quality_fund", v.quality_fund_pence],
          ...Object.entries(v.totals_by_kind ?? {}).map(([k, p]) => [`kind:${k}`, p]), ...dmg.map(([k, p]) => [`damages:${k}`, p])]));
        return [
          h("p", {}, `Risk pool ${pounds(v.risk_pool_pence)} · quality fund ${pounds(v.quality_fund_pence)} · ${v.entries} entries · trial balance ${v.trial_balance}`),
          dmg.length ? barChart({ title: "Damages by provider", bars: dmg.slice(0, 15).map(([k, p]) => ({ label: k, value: p / 100 })), valueFormat: (x) => `£${x.toFixed(2)}` })
            : h("p", { class: "muted" }, "No damages charged.")];
      });
      show("pool", series, (v) => {
        const days = v.days ?? [];
        csvs.pool = () => download("risk-pool-and-damages.csv", csv(["date", "risk_pool_pence", "pool_in_pence", "pool_out_pence", "damages_pence", "damages_to_date_pence"],
          days.map((d) => [d.date, d.risk_pool_pence, d.pool_in_pence, d.pool_out_pence, d.damages_pence, d.damages_to_date_pence])));
        if (!days.length) return h("p", { class: "muted" }, "No ledger entries yet.");
        const pool = days.map((d, i) => [i, d.risk_pool_pence / 100]);
        const dmg = days.map((d, i) => [i, d.damages_to_date_pence / 100]);
        const yMax = Math.max(1, ...pool.map((p) => p[1]), ...dmg.map((p) => p[1])) * 1.1;
        const last = days[days.length - 1];
        return [
          h("p", {}, `${days.length} days with entries; risk pool now ${pounds(last.risk_pool_pence)}, damages to date ${pounds(last.damages_to_date_pence)}.`),
          lineChart({ title: "Risk pool balance and damages charged to date", points: pool, xMax: Math.max(1, days.length - 1), yMax,
            xLabel: "day", yLabel: "£", yFormat: (y) => `£${Math.round(y)}`, xFormat: (x) => days[Math.round(x)]?.date.slice(5) ?? "",
            more: [{ points: dmg, className: "second", text: "damages to date" }] }),
          h("div", { class: "legend" }, h("span", {}, h("i", { class: "sw visit" }), "risk pool balance"), h("span", {}, h("i", { class: "sw late" }), "damages charged to date"))];
      });
      ctx.rendered();
    }

    let pending = null;
    ctx.live((ev) => {
      clearTimeout(pending);
      pending = setTimeout(load, 1000);
    });
    load();
    return { stop: () => clearTimeout(pending) };
  },
};
