// Reports as SVG charts, each with its CSV: the fill-time curve against the
// 1.5 h / 4 h clocks and Devon Cares' 70% / 97%, declines by reason, capacity
// by area, unfilled packages with delayed-discharge reasons, and the ledger.

import { get } from "./api.js";
import { barChart, gridChart, lineChart } from "./charts.js";
import { csv, download, h, label, mount, when } from "./dom.js";

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
      h("div", { class: "split" }, section("capacity", "Spare capacity and shortfall by area (carer-hours, week)"), section("overrides", "Offers out of tier order (overrides)")),
      h("div", { class: "split" }, section("periods", "Capacity by day and period"), section("unfilled", "Unfilled packages and delayed discharges")));

    async function load() {
      const names = ["fill-times", "offers", "capacity", "unfilled", "ledger"];
      const results = await Promise.allSettled([...names.map((n) => get(`/v1/reports/${n}`)), get("/v1/ledger/series"), get("/v1/reports/overrides"), get("/v1/reports/risk-pool")]);
      const [fill, offers, capacity, unfilled, ledger, series, overrides, riskPool] = results;
      // The policy's alert threshold, where the service has the risk-pool report.
      const threshold = riskPool.status === "fulfilled" ? riskPool.value.alert_below_pence : null;
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
      show("periods", capacity, (v) => periods(v));
      show("unfilled", unfilled, (v) => {
        const list = Array.isArray(v) ? v : v.packages ?? [];
        csvs.unfilled = () => download("unfilled.csv", csv(["package", "status", "urgency", "area", "stage", "age_min", "open_offers", "delay_reason"],
          list.map((u) => [u.package, u.status, u.urgency, u.area, u.stage, Math.round(u.age_min), u.open_offers, u.delay_reason])));
        // Unfilled packages by delayed-discharge reason (a person kept in hospital
        // waiting for care), then the rest by urgency.
        const byReason = new Map();
        for (const u of list) {
          const k = u.delay_reason ? `delayed discharge: ${label(u.delay_reason)}` : `not a discharge: ${label(u.urgency)}`;
          byReason.set(k, (byReason.get(k) ?? 0) + 1);
        }
        const bars = [...byReason].sort((a, b) => b[0].startsWith("delayed") - a[0].startsWith("delayed") || b[1] - a[1])
          .map(([k, n]) => ({ label: k, value: n, className: k.startsWith("delayed") ? "neg" : "" }));
        return list.length
          ? [h("p", {}, `${list.length} unfilled; `, h("strong", { id: "delayed-discharges" }, String(list.filter((u) => u.delay_reason).length)), " are delayed hospital discharges."),
            barChart({ title: "Unfilled packages by delayed-discharge reason", bars, width: 520 }),
            h("details", {}, h("summary", {}, "Packages"), h("table", {}, h("thead", {}, h("tr", {}, ["Package", "Status", "Urgency", "Area", "Stage", "Age", "Offers", "Delayed-discharge reason"].map((t) => h("th", {}, t)))),
            h("tbody", {}, list.slice(0, 200).map((u) => h("tr", {}, h("td", {}, u.package), h("td", {}, label(u.status)), h("td", {}, label(u.urgency)), h("td", {}, u.area),
              h("td", {}, label(u.stage)), h("td", { class: "num" }, `${Math.round(u.age_min)} min`), h("td", { class: "num" }, u.open_offers), h("td", {}, label(u.delay_reason)))))))]
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
      show("overrides", overrides, (v) => {
        const list = Array.isArray(v) ? v : v.overrides ?? [];
        csvs.overrides = () => download("overrides.csv", csv(["package", "status", "at", "provider", "team", "tier", "skipped_stage", "skipped_providers", "reason", "note", "by"],
          list.map((o) => [o.package, o.status, o.at, o.provider, o.team, o.tier, o.skipped_stage, (o.skipped_providers ?? []).join(" "), o.reason, o.note, o.by])));
        if (!list.length) return h("p", { class: "muted" }, "Every offer so far followed the tier order.");
        const byReason = {};
        for (const o of list) byReason[o.reason] = (byReason[o.reason] ?? 0) + 1;
        return [
          h("p", {}, `${list.length} packages offered out of tier order: `, Object.entries(byReason).map(([k, n]) => `${n} ${label(k)}`).join(", "), "."),
          h("table", { id: "override-rows" }, h("thead", {}, h("tr", {}, ["Package", "Offered to", "Skipped", "Reason", "By", "When"].map((t) => h("th", {}, t)))),
            h("tbody", {}, list.slice(0, 100).map((o) => h("tr", { "data-override": o.package },
              h("td", {}, o.package, h("div", { class: "muted" }, label(o.status))),
              h("td", {}, `${o.provider} / ${o.team}`, h("div", { class: "muted" }, label(o.tier))),
              h("td", {}, label(o.skipped_stage), h("div", { class: "muted" }, (o.skipped_providers ?? []).join(", "))),
              h("td", {}, label(o.reason), o.note ? h("div", { class: "muted" }, o.note) : null),
              h("td", {}, o.by ?? ""),
              h("td", {}, when(o.at))))))];
      });
      show("pool", series, (v) => {
        const days = v.days ?? [];
        csvs.pool = () => download("risk-pool-and-damages.csv", csv(["date", "risk_pool_pence", "pool_in_pence", "pool_out_pence", "damages_pence", "damages_to_date_pence"],
          days.map((d) => [d.date, d.risk_pool_pence, d.pool_in_pence, d.pool_out_pence, d.damages_pence, d.damages_to_date_pence])));
        if (!days.length) return h("p", { class: "muted" }, "No ledger entries yet.");
        const pool = days.map((d, i) => [i, d.risk_pool_pence / 100]);
        const dmg = days.map((d, i) => [i, d.damages_to_date_pence / 100]);
        const yMax = Math.max(1, ...pool.map((p) => p[1]), ...dmg.map((p) => p[1]), (threshold ?? 0) / 100) * 1.1;
        const last = days[days.length - 1];
        return [
          h("p", {}, `${days.length} ${days.length === 1 ? "day" : "days"} with entries; risk pool now ${pounds(last.risk_pool_pence)}, damages to date ${pounds(last.damages_to_date_pence)}.`),
          lineChart({ title: "Risk pool balance and damages charged to date", points: pool, xMax: Math.max(1, days.length - 1), yMax,
            xLabel: "day", yLabel: "£", yFormat: (y) => (yMax < 20 ? `£${y.toFixed(2)}` : `£${Math.round(y)}`), dots: true, xFormat: (x) => days[Math.round(x)]?.date.slice(5) ?? "",
            more: [{ points: dmg, className: "second", text: "damages to date" }],
            hlines: threshold ? [{ y: threshold / 100, text: `alert below £${Math.round(threshold / 100)}` }] : [] }),
          h("div", { class: "legend" }, h("span", {}, h("i", { class: "sw visit" }), "risk pool balance"), h("span", {}, h("i", { class: "sw late" }), "damages charged to date"))];
      });
      ctx.rendered();
    }

    /**
     * One area's spare carer-hours and waiting demand by day and period (the
     * fit check's own grid): red where demand exceeds what is spare.
     */
    let area = null;
    function periods(v) {
      const areas = Object.entries(v).sort((a, b) => b[1].shortfall_hours - a[1].shortfall_hours || a[0].localeCompare(b[0]));
      csvs.periods = () => download("capacity-by-day-and-period.csv", csv(["area", "date", "period", "from", "to", "spare_carer_hours", "demand_hours", "shortfall_hours"],
        areas.flatMap(([k, a]) => Object.entries(a.days ?? {}).flatMap(([d, day]) => day.periods.map((p) =>
          [k, d, p.period, p.from, p.to, p.spare_carer_hours.toFixed(2), p.demand_hours.toFixed(2), p.shortfall_hours.toFixed(2)])))));
      if (!areas.length) return h("p", { class: "muted" }, "No areas.");
      if (!area || !v[area]) area = areas[0][0];
      const sel = h("select", { id: "capacity-area", onchange: () => { area = sel.value; mount(boxes.periods, periods(v)); } },
        areas.map(([k]) => h("option", { value: k }, k)));
      sel.value = area;
      const days = Object.entries(v[area].days ?? {});
      const cols = days[0]?.[1].periods.map((p) => `${p.period} ${p.from}–${p.to}`) ?? [];
      const max = Math.max(1, ...days.flatMap(([, d]) => d.periods.map((p) => p.spare_carer_hours)));
      const cells = days.map(([, d]) => d.periods.map((p) => p.shortfall_hours > 0
        ? { text: `${p.shortfall_hours.toFixed(1)} h short`, level: 1, className: "short", data: { "data-short": p.shortfall_hours } }
        : { text: `${p.spare_carer_hours.toFixed(1)} h`, level: p.spare_carer_hours / max, title: `${p.spare_carer_hours.toFixed(1)} h spare, ${p.demand_hours.toFixed(1)} h asked for` }));
      return [
        h("p", {}, h("label", { class: "row" }, "Area ", sel), " spare carer-hours by local day and period; red where waiting care needs more than is spare."),
        days.length ? gridChart({ title: `Capacity of ${area} by day and period`, rows: days.map(([d]) => new Date(`${d}T12:00:00Z`).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })), cols, cells })
          : h("p", { class: "muted" }, "No future days in the horizon.")];
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
