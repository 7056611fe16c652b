// Planner's week: an SVG Gantt per carer (visits as bars, double-handed and late
// marked, travel shown), unplaced visits with their reasons, each person's
// distinct carers against the cap, and an absence form whose re-plan is shown
// as a highlighted diff (what moved, what is newly unplaced). Clicking a visit
// pins it; the re-solve, its preview and publishing live in plan.js.

import { get, post } from "./api.js";
import { csv, download, fieldErrors, h, label, mount, s } from "./dom.js";
import { pinStore, resolvePanel, shareCard } from "./plan.js";
import { zoneClock } from "./zone.js";

const ROW = 26;
const LEFT = 150;
const TOP = 34;
const DAY_MIN = 1440;

/** visit id -> sorted "carer@start" list: a visit moved if this changed. */
function placements(rota) {
  const m = new Map();
  for (const r of rota.routes ?? []) {
    for (const st of r.stops) {
      const k = `${r.carer}@${st.start}`;
      m.set(st.visit, [...(m.get(st.visit) ?? []), k].sort());
    }
  }
  return m;
}

/** Visits placed differently in `after` than in `before` (moved, or newly unplaced). */
export function diff(before, after) {
  const a = placements(before), b = placements(after);
  const moved = new Set();
  for (const [v, was] of a) {
    const now = b.get(v);
    if (now && now.join() !== was.join()) moved.add(v);
  }
  const wasUnplaced = new Set((before.unplaced ?? []).map((u) => u.visit));
  const unplaced = new Set((after.unplaced ?? []).map((u) => u.visit).filter((v) => !wasUnplaced.has(v)));
  for (const v of b.keys()) if (!a.has(v)) moved.add(v); // placed now, unplaced before
  return { moved, unplaced };
}

export default {
  id: "week",
  title: "Week",
  roles: ["admin", "broker", "provider", "planner"],
  render(root, ctx) {
    const p = ctx.principal;
    let team = p.scope?.kind === "team" ? p.scope.id : null;
    let rota = null;
    let teamInfo = null;
    let changes = null; // { moved, unplaced, carer }
    let zoom = "week";
    let preview = null; // a re-solved rota shown instead of the published one
    let pins = null;
    let clock = zoneClock(null); // the team's zone, from the rota's answer
    const canSolve = ["admin", "provider", "planner"].includes(p.role);
    const tools = h("div", { class: "split", id: "week-tools" });
    let panel = null;
    const teamSel = h("select", { id: "week-team", onchange: () => { team = teamSel.value; changes = null; load(); } });
    const zoomSel = h("select", { id: "week-zoom", onchange: () => { zoom = zoomSel.value; draw(); } });
    const gantt = h("div", { class: "gantt-wrap", id: "gantt" });
    const side = h("div", { id: "week-side" });
    const kpis = h("div", { class: "muted", id: "week-kpis" });
    const absence = h("div", { class: "card", id: "absence" });
    const movedBox = h("div", { id: "moved" });
    const errBox = h("div");
    mount(root,
      h("div", { class: "row" }, h("h1", { class: "grow" }, "Week"),
        team && p.role === "planner" ? h("span", { class: "muted" }, `team ${team}`) : h("label", { class: "row" }, "Team", teamSel),
        h("label", { class: "row" }, "Show", zoomSel),
        h("button", { class: "secondary", id: "rota-csv", onclick: exportCsv }, "Rota CSV")),
      errBox, kpis,
      h("div", { class: "legend" },
        h("span", {}, h("i", { class: "sw visit" }), "visit"),
        h("span", {}, h("i", { class: "sw double" }), "double-handed"),
        h("span", {}, h("i", { class: "sw late" }), "late"),
        h("span", {}, h("i", { class: "sw travel" }), "travel"),
        h("span", {}, h("i", { class: "sw moved" }), "moved by the last change"),
        h("span", {}, h("i", { class: "sw pinned" }), "pinned")),
      gantt, movedBox, tools,
      h("div", { class: "split" }, absence, side));

    async function teams() {
      if (team && p.role === "planner") return [team];
      if (p.scope?.kind === "provider") return (await get(`/v1/providers/${encodeURIComponent(p.scope.id)}`)).teams ?? [];
      const provs = (await get("/v1/providers")).providers ?? [];
      const first = provs.slice(0, 8);
      const all = await Promise.all(first.map((x) => get(`/v1/providers/${encodeURIComponent(x.id)}`).then((v) => v.teams ?? [])));
      return all.flat();
    }

    async function load() {
      const t0 = performance.now();
      try {
        if (!team) {
          const ids = await teams();
          mount(teamSel, ids.map((t) => h("option", { value: t }, t)));
          team = ids[0] ?? null;
          if (!team) { mount(gantt, h("div", { class: "empty" }, "No teams.")); return; }
        } else if (!teamSel.options.length && p.role !== "planner") {
          const ids = await teams();
          mount(teamSel, ids.map((t) => h("option", { value: t }, t)));
          teamSel.value = team;
        }
        const [r, info] = await Promise.all([
          get(`/v1/teams/${encodeURIComponent(team)}/rota`),
          get(`/v1/teams/${encodeURIComponent(team)}`).catch(() => null),
        ]);
        rota = r.rota;
        clock = zoneClock(r.time_zone ?? null);
        teamInfo = info;
        mount(errBox);
      } catch (e) {
        mount(errBox, ctx.problem(e, load));
        return;
      }
      root.dataset.fetchMs = (performance.now() - t0).toFixed(1);
      pins = pinStore(team);
      pins.prune(new Set((rota.routes ?? []).flatMap((r) => r.stops.map((st) => st.visit))));
      preview = null;
      days();
      draw();
      absenceForm();
      toolsPanel();
    }

    function toolsPanel() {
      panel?.stop();
      panel = null;
      const carers = [...new Set([...(teamInfo?.carers ?? []).map((c) => c.id), ...(rota.routes ?? []).map((r) => r.carer)])].sort();
      const cards = [];
      if (canSolve) {
        panel = resolvePanel(ctx, {
          team: () => team,
          pins,
          pinsChanged: () => { panel.drawPins(); draw(); },
          preview: (r, why) => {
            preview = r;
            if (!r) { changes = null; draw(); return { moved: new Set(), unplaced: new Set() }; }
            const d = diff(rota, r);
            changes = { ...d, carer: "", why, absences: [] };
            draw();
            return d;
          },
          published: async () => {
            const before = rota;
            rota = (await get(`/v1/teams/${encodeURIComponent(team)}/rota`)).rota;
            preview = null;
            const d = diff(before, rota);
            changes = { ...d, carer: "", why: "the published re-solve", absences: [] };
            draw();
          },
        });
        cards.push(panel.el);
      }
      cards.push(shareCard(ctx, carers));
      mount(tools, cards);
    }

    function togglePin(visit) {
      if (!canSolve || preview || !pins) return;
      pins.toggle(visit);
      panel?.drawPins();
      draw();
    }

    /** The horizon's days, from the rota's own times. */
    let dayList = [];
    let origin = 0;
    function days() {
      const starts = (rota.routes ?? []).flatMap((r) => r.stops.map((st) => clock.wall(st.start)));
      const first = starts.length ? Math.min(...starts) : clock.wall(new Date().toISOString());
      const d0 = new Date(first);
      origin = Date.UTC(d0.getUTCFullYear(), d0.getUTCMonth(), d0.getUTCDate());
      const last = starts.length ? Math.max(...starts) : first;
      const n = Math.max(1, Math.ceil((last - origin) / 86400000));
      dayList = Array.from({ length: n }, (_, i) => new Date(origin + i * 86400000));
      const keep = zoom;
      mount(zoomSel, h("option", { value: "week" }, "whole week"),
        dayList.map((d, i) => h("option", { value: String(i) }, d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" }))));
      zoomSel.value = [...zoomSel.options].some((o) => o.value === keep) ? keep : "week";
      zoom = zoomSel.value;
    }

    function draw() {
      const t0 = performance.now();
      const rota = preview ?? published();
      const routes = rota.routes ?? [];
      const carers = [...new Set([...(teamInfo?.carers ?? []).map((c) => c.id), ...routes.map((r) => r.carer)])].sort();
      const byVisit = new Map();
      for (const r of routes) for (const st of r.stops) byVisit.set(st.visit, (byVisit.get(st.visit) ?? 0) + 1);
      const dayIdx = zoom === "week" ? null : Number(zoom);
      const from = origin + (dayIdx ?? 0) * 86400000;
      const spanMin = dayIdx === null ? dayList.length * DAY_MIN : DAY_MIN;
      const pxPerMin = dayIdx === null ? 0.2 : 1.0;
      const width = LEFT + spanMin * pxPerMin + 10;
      const height = TOP + carers.length * ROW + 10;
      const x = (ms) => LEFT + ((ms - from) / 60000) * pxPerMin;
      const svg = s("svg", { class: "gantt", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Rota of team ${team}` });
      svg.append(s("defs", {}, s("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
        s("rect", { width: 6, height: 6, fill: "#fbe9e7" }), s("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#e57373", "stroke-width": 2 }))));
      // Hour grid and day separators.
      const step = dayIdx === null ? 360 : 60;
      for (let m = 0; m <= spanMin; m += step) {
        const xx = LEFT + m * pxPerMin;
        const dayEdge = m % DAY_MIN === 0;
        svg.append(s("line", { class: dayEdge ? "daysep" : "grid", x1: xx, x2: xx, y1: TOP - 6, y2: height - 6 }));
        const t = new Date(from + m * 60000);
        const text = dayEdge && dayIdx === null
          ? t.toLocaleDateString(undefined, { weekday: "short", day: "numeric", timeZone: "UTC" })
          : `${String(t.getUTCHours()).padStart(2, "0")}:00`;
        if (m < spanMin) svg.append(s("text", { x: xx + 3, y: TOP - 12, "font-size": 11, fill: dayEdge ? "#1c2430" : "#7a8593" }, text));
      }
      const rowOf = new Map(carers.map((c, i) => [c, i]));
      carers.forEach((c, i) => {
        const y = TOP + i * ROW;
        const absent = changes?.carer === c;
        svg.append(s("text", { x: 8, y: y + ROW / 2 + 4, "font-size": 12, fill: absent ? "#b3261e" : "#1c2430", "data-carer-label": c }, c));
        svg.append(s("line", { class: "grid", x1: LEFT, x2: width, y1: y + ROW, y2: y + ROW }));
      });
      for (const a of changes?.absences ?? []) {
        const i = rowOf.get(a.carer);
        if (i === undefined) continue;
        const x1 = Math.max(LEFT, x(clock.wall(a.from))), x2 = Math.min(width, x(clock.wall(a.to)));
        if (x2 > x1) svg.append(s("rect", { class: "absent", x: x1, y: TOP + i * ROW + 2, width: x2 - x1, height: ROW - 4 }));
      }
      let bars = 0;
      for (const r of routes) {
        const i = rowOf.get(r.carer);
        const y = TOP + i * ROW;
        const g = s("g", { "data-route": r.shift });
        for (const st of r.stops) {
          const start = clock.wall(st.start), end = clock.wall(st.end), arrival = clock.wall(st.arrival);
          if (end < from || start > from + spanMin * 60000) continue;
          if (st.travel_min > 0) {
            const tx = x(arrival - st.travel_min * 60000);
            g.append(s("rect", { class: "travel", x: tx, y: y + ROW / 2 - 2, width: Math.max(1, x(arrival) - tx), height: 4 }));
          }
          const double = (byVisit.get(st.visit) ?? 0) > 1;
          const moved = changes?.moved.has(st.visit);
          const pinned = pins?.has(st.visit);
          const cls = ["visit", double ? "double" : "", st.late_min > 0 ? "late" : "", moved ? "moved" : "", pinned ? "pinned" : ""].filter(Boolean).join(" ");
          const bar = s("rect", { class: cls, x: x(start), y: y + 4, width: Math.max(2, x(end) - x(start)), height: ROW - 8, rx: 2,
            "data-visit": st.visit, "data-person": st.service_user, "data-carer": r.carer, "data-start": st.start, "data-clock": clock.hm(start), ...(moved ? { "data-moved": "" } : {}), ...(pinned ? { "data-pinned": "" } : {}), ...(double ? { "data-double": "" } : {}), ...(st.late_min > 0 ? { "data-late": st.late_min } : {}),
            onclick: () => togglePin(st.visit) },
          s("title", {}, `${st.visit} · ${st.service_user}\n${clock.hm(start)}–${clock.hm(end)}${double ? " · double-handed" : ""}${st.late_min ? ` · ${st.late_min} min late` : ""}${st.travel_min ? ` · ${st.travel_min} min travel` : ""}${moved ? " · moved" : ""}${pinned ? " · pinned" : canSolve ? " · click to pin" : ""}`));
          g.append(bar);
          bars++;
        }
        svg.append(g);
      }
      mount(gantt, svg);
      const ms = performance.now() - t0;
      root.dataset.ganttMs = ms.toFixed(1);
      root.dataset.bars = String(bars);
      // Figures from the routes themselves (a published rota may carry no KPIs).
      let travel = 0, care = 0, late = 0;
      const placed = new Set();
      for (const r of routes) for (const st of r.stops) {
        travel += st.travel_min;
        care += (Date.parse(st.end) - Date.parse(st.start)) / 60000;
        if (st.late_min > 0) late++;
        placed.add(st.visit);
      }
      const unplacedN = (rota.unplaced ?? []).length;
      mount(kpis, preview ? h("strong", { id: "week-preview" }, "Preview of the re-solved rota (not published) · ") : "", h("span", { id: "week-zone", "data-zone": clock.zone ?? "" }, `Times in ${clock.label}`), ` · ${placed.size} visits placed, ${unplacedN} unplaced · ${late} late · travel ${travel} min, ${Math.round((100 * travel) / Math.max(1, travel + care))}% of paid time · ${bars} bars drawn in ${ms.toFixed(0)} ms`);
      drawSide(rota);
      drawMoved();
      ctx.rendered();
    }

    function drawSide(rota) {
      const perPerson = new Map();
      for (const r of rota.routes ?? []) for (const st of r.stops) {
        if (!perPerson.has(st.service_user)) perPerson.set(st.service_user, new Set());
        perPerson.get(st.service_user).add(r.carer);
      }
      const cap = teamInfo?.continuity_cap ?? rota.kpis?.continuity_cap ?? 4;
      const rows = [...perPerson].map(([u, set]) => [u, set.size]).sort((a, b) => b[1] - a[1]);
      const unplaced = rota.unplaced ?? [];
      mount(side, h("div", { class: "card" },
        h("h2", {}, `Unplaced visits (${unplaced.length})`),
        unplaced.length
          ? h("table", { id: "unplaced" }, h("thead", {}, h("tr", {}, h("th", {}, "Visit"), h("th", {}, "Why"))),
            h("tbody", {}, unplaced.map((u) => h("tr", { "data-visit": u.visit, class: changes?.unplaced.has(u.visit) ? "sel" : "" },
              h("td", {}, u.visit), h("td", {}, u.reasons.map((r) => h("div", {}, h("span", { class: "pill" }, label(r.code)), " ", r.message)))))))
          : h("p", { class: "muted" }, "Every visit is placed."),
        h("h2", {}, "Continuity: distinct carers per person"),
        h("table", { id: "continuity" }, h("thead", {}, h("tr", {}, h("th", {}, "Person"), h("th", { class: "num" }, "Carers"), h("th", { class: "num" }, "Cap"))),
          h("tbody", {}, rows.map(([u, n]) => h("tr", { class: n > cap ? "sel" : "" }, h("td", {}, u), h("td", { class: "num" }, n), h("td", { class: "num" }, cap)))))));
    }

    function drawMoved() {
      if (!changes) { mount(movedBox); return; }
      const moved = [...changes.moved].sort();
      const unpl = [...changes.unplaced].sort();
      mount(movedBox, h("div", { class: "card", id: "changes" },
        h("h2", {}, `Re-planned after ${changes.why}: ${moved.length} visits moved, ${unpl.length} newly unplaced`),
        moved.length ? h("ul", { class: "moved-list" }, moved.slice(0, 80).map((v) => h("li", { "data-moved-visit": v }, v))) : null,
        unpl.length ? h("p", { class: "error-text" }, `Newly unplaced: ${unpl.join(", ")}`) : null));
    }

    /** The published rota (draw() shows a preview instead while there is one). */
    function published() { return rota; }

    function absenceForm() {
      const carers = [...new Set([...(teamInfo?.carers ?? []).map((c) => c.id), ...(rota.routes ?? []).map((r) => r.carer)])].sort();
      const busiest = [...(rota.routes ?? [])].sort((a, b) => b.stops.length - a.stops.length)[0]?.carer;
      const sel = h("select", { id: "absence-carer", "data-path": "carer_id" }, carers.map((c) => h("option", { value: c }, c)));
      if (busiest) sel.value = busiest;
      const day = dayList[1] ?? dayList[0] ?? new Date();
      const iso = (d) => d.toISOString().slice(0, 16);
      const from = h("input", { id: "absence-from", type: "datetime-local", value: iso(day), "data-path": "$.from" });
      const to = h("input", { id: "absence-to", type: "datetime-local", value: iso(new Date(day.getTime() + 86400000)), "data-path": "$.to" });
      const reason = h("select", { id: "absence-reason", "data-path": "$.reason" }, ["sick", "leave", "training", "other"].map((r) => h("option", { value: r }, r)));
      const slot = (path) => h("span", { class: "field-error", "data-error-for": path });
      const err = h("div", { class: "field-error", id: "absence-error" });
      mount(absence, h("h2", {}, `Add an absence (times in ${clock.zone ?? "UTC"})`),
        h("div", { class: "row" }, h("label", {}, "Carer ", sel, slot("carer_id")), h("label", {}, "From ", from, slot("$.from")), h("label", {}, "To ", to, slot("$.to")), h("label", {}, "Reason ", reason, slot("$.reason"))),
        h("p", {}, h("button", { id: "absence-submit", onclick: async (ev) => {
          ev.target.disabled = true;
          err.textContent = "";
          fieldErrors(absence, null);
          const before = rota;
          try {
            const body = { from: clock.instant(from.value), to: clock.instant(to.value), reason: reason.value };
            await post(`/v1/carers/${encodeURIComponent(sel.value)}/absences`, body);
            const after = (await get(`/v1/teams/${encodeURIComponent(team)}/rota`)).rota;
            const d = diff(before, after);
            changes = { ...d, carer: sel.value, why: `${sel.value}'s absence`, absences: [{ carer: sel.value, from: body.from, to: body.to }] };
            rota = after;
            draw();
            ctx.toast(`${d.moved.size} visits moved, ${d.unplaced.size} newly unplaced`);
          } catch (e) {
            const loose = fieldErrors(absence, e);
            err.textContent = loose.length ? `${e.status} ${e.code}: ${loose.map((i) => i.message).join("; ")}` : "";
          } finally {
            ev.target.disabled = false;
          }
        } }, "Add absence and re-plan")), err);
    }

    function exportCsv() {
      if (!rota) return;
      const rows = [];
      for (const r of rota.routes ?? []) for (const st of r.stops)
        rows.push([team, r.carer, r.shift, st.visit, st.service_user, st.arrival, st.start, st.end, st.travel_min, st.travel_m, st.late_min]);
      download(`rota-${team}.csv`, csv(["team", "carer", "shift", "visit", "service_user", "arrival", "start", "end", "travel_min", "travel_m", "late_min"], rows));
    }

    let pending = null;
    ctx.live((ev) => {
      if (ev.type === "tick") return;
      if (ev.data?.team && ev.data.team !== team) return;
      clearTimeout(pending);
      pending = setTimeout(async () => {
        try {
          const after = (await get(`/v1/teams/${encodeURIComponent(team)}/rota`)).rota;
          if (JSON.stringify(after.routes) !== JSON.stringify(rota.routes)) {
            const d = diff(rota, after);
            changes = { ...d, carer: changes?.carer ?? "", why: "a change to the team's rota", absences: changes?.absences ?? [] };
            rota = after;
            draw();
          }
        } catch { /* the banner shows connection problems */ }
      }, 300);
    });
    load();
    return { stop: () => { clearTimeout(pending); panel?.stop(); } };
  },
};
