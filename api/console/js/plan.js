// The planner's tools beside the week's Gantt: pinned visits, a re-solve of
// the team's week as an asynchronous job (progress, cancel keeping the best
// rota so far, a preview of what it moves) published over the team's rota,
// and read-only week links for carers.
//
// Pins are the planner's draft for this tab (sessionStorage per team): they
// are marked pinned in the request the job solves, so the solver keeps them
// exactly, and named again on publishing, so the service checks they were kept.

import { get, post, put } from "./api.js";
import { h, label, mount } from "./dom.js";

const FINISHED = new Set(["succeeded", "cancelled", "failed"]);

/** The team's pinned visit ids, kept for this tab. */
export function pinStore(team) {
  const key = `carefill.pins.${team}`;
  const set = new Set(JSON.parse(sessionStorage.getItem(key) || "[]"));
  const save = () => sessionStorage.setItem(key, JSON.stringify([...set].sort()));
  return {
    has: (v) => set.has(v),
    toggle(v) { if (set.has(v)) set.delete(v); else set.add(v); save(); },
    /** Drops pins of visits the rota no longer places (only placed visits can be pinned). */
    prune(placed) { for (const v of [...set]) if (!placed.has(v)) set.delete(v); save(); },
    list: () => [...set].sort(),
    get size() { return set.size; },
  };
}

/**
 * The re-solve card. `hooks`: team(), pins, preview(rota|null, why) shows a rota
 * on the Gantt (null: back to the published one), published() reloads.
 */
export function resolvePanel(ctx, hooks) {
  const card = h("div", { class: "card", id: "resolve" });
  let job = null;
  let timer = null;
  let result = null;
  const limit = h("select", { id: "resolve-limit" }, [5, 15, 30, 60, 120].map((s) => h("option", { value: s }, `${s} s`)));
  limit.value = "15";
  const progress = h("div", { id: "resolve-progress" });
  const actions = h("div", { class: "row", id: "resolve-actions" });
  const pinsBox = h("div", { id: "pins" });

  function drawPins() {
    const list = hooks.pins.list();
    mount(pinsBox, h("p", {}, h("strong", { id: "pin-count", "data-n": list.length }, `${list.length} pinned`),
      list.length ? " (kept exactly by a re-solve): " : " — click a visit on the Gantt to pin it to its carer and time."),
    list.length ? h("ul", { class: "pin-list" }, list.slice(0, 60).map((v) => h("li", { "data-pin": v }, v, " ",
      h("button", { class: "secondary small", "data-unpin": v, onclick: () => { hooks.pins.toggle(v); hooks.pinsChanged(); } }, "unpin")))) : null);
  }

  function idle() {
    mount(actions, h("label", { class: "row" }, "Time limit", limit),
      h("button", { id: "resolve-start", onclick: start }, "Re-solve the week"));
  }

  async function start() {
    clearTimeout(timer);
    result = null;
    hooks.preview(null);
    mount(progress, h("p", { class: "muted" }, "Submitting…"));
    try {
      const team = hooks.team();
      const req = await get(`/v1/teams/${encodeURIComponent(team)}/request`);
      for (const e of req.existing_rota ?? []) e.pinned = hooks.pins.has(e.visit);
      job = await post(`/v1/rota/jobs?time_limit_s=${limit.value}`, req);
    } catch (e) {
      mount(progress, ctx.problem(e));
      idle();
      return;
    }
    mount(actions, h("button", { class: "danger", id: "resolve-cancel", onclick: cancel }, "Stop and keep the best so far"));
    poll();
  }

  async function cancel(ev) {
    ev.target.disabled = true;
    try {
      job = await post(`/v1/rota/jobs/${encodeURIComponent(job.id)}/cancel`);
    } catch (e) {
      ctx.toast(e.message, "error");
    }
  }

  function show(j) {
    const el = j.elapsed_s ?? 0;
    const share = Math.min(1, el / Math.max(0.001, j.time_limit_s));
    mount(progress, h("div", { "data-job": j.id, "data-state": j.state },
      h("progress", { max: 1, value: FINISHED.has(j.state) ? 1 : share }),
      h("p", {}, h("strong", { id: "resolve-state" }, label(j.state)),
        ` · ${el.toFixed(1)} of ${j.time_limit_s} s · ${j.iterations} iterations`,
        j.best ? ` · best so far: objective ${j.best.objective.toFixed(1)}, ${j.best.unplaced} unplaced` : "",
        j.waited_s ? ` · waited ${j.waited_s.toFixed(1)} s for a solver` : ""),
      j.error ? h("p", { class: "error-text" }, j.error) : null));
  }

  async function poll() {
    try {
      job = await get(`/v1/rota/jobs/${encodeURIComponent(job.id)}`);
    } catch (e) {
      mount(progress, ctx.problem(e));
      idle();
      return;
    }
    show(job);
    if (!FINISHED.has(job.state)) {
      timer = setTimeout(poll, 500);
      return;
    }
    if (job.state === "failed") { idle(); return; }
    try {
      result = await get(`/v1/rota/jobs/${encodeURIComponent(job.id)}/result`);
    } catch (e) {
      mount(progress, ctx.problem(e));
      idle();
      return;
    }
    const d = hooks.preview(result, job.state === "cancelled" ? "the re-solve stopped early (preview)" : "the re-solve (preview)");
    mount(actions,
      h("span", { id: "resolve-diff" }, `${d.moved.size} visits would move, ${d.unplaced.size} newly unplaced, ${(result.unplaced ?? []).length} unplaced in all.`),
      h("button", { id: "resolve-publish", onclick: publish }, "Publish this rota"),
      h("button", { class: "secondary", id: "resolve-discard", onclick: () => { result = null; hooks.preview(null); mount(progress); idle(); } }, "Discard"));
  }

  async function publish(ev) {
    ev.target.disabled = true;
    try {
      const r = await put(`/v1/teams/${encodeURIComponent(hooks.team())}/rota`, { job: job.id, pinned: hooks.pins.list() });
      mount(progress, h("p", { id: "resolve-published", "data-moved": r.moved }, `Published: ${r.moved} visits moved, ${r.pinned} pinned kept, ${r.unplaced} unplaced.`));
      result = null;
      idle();
      await hooks.published();
    } catch (e) {
      ev.target.disabled = false;
      mount(progress, ctx.problem(e));
    }
  }

  mount(card, h("h2", {}, "Pin and re-solve"), pinsBox, actions, progress);
  drawPins();
  idle();
  return { el: card, drawPins, stop: () => clearTimeout(timer) };
}

/** A card issuing a carer's read-only week link (with its calendar address). */
export function shareCard(ctx, carers) {
  const sel = h("select", { id: "share-carer" }, carers.map((c) => h("option", { value: c }, c)));
  const days = h("select", { id: "share-days" }, [7, 28, 92].map((d) => h("option", { value: d }, `${d} days`)));
  days.value = "28";
  const out = h("div", { id: "share-out" });
  return h("div", { class: "card", id: "share" },
    h("h2", {}, "Carer's week link"),
    h("p", { class: "muted" }, "A read-only page of one carer's visits, day by day, with the calendar address their phone subscribes to. No key needed: give it only to that carer."),
    h("div", { class: "row" }, h("label", {}, "Carer ", sel), h("label", {}, "Valid for ", days),
      h("button", { class: "secondary", id: "share-create", onclick: async () => {
        try {
          const v = await post(`/v1/carers/${encodeURIComponent(sel.value)}/week-link`, { days: Number(days.value) });
          const page = new URL(v.console_path, location.origin).href;
          const ics = new URL(v.calendar_path, location.origin).href;
          mount(out, h("p", {}, "Week page: ", h("a", { id: "share-link", href: page, target: "_blank", rel: "noopener" }, page)),
            h("p", {}, "Calendar: ", h("code", { id: "share-ics" }, ics)),
            h("p", { class: "muted" }, `Valid until ${new Date(v.expires_at).toLocaleString()}.`));
        } catch (e) {
          mount(out, ctx.problem(e));
        }
      } }, "Create link")), out);
}
