// Small DOM helpers: elements are built with text nodes only (never innerHTML),
// so nothing the API returns can inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

/** `h("div", {class: "x", onclick: f}, child, "text", [more])` */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" && "value" in el) el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** "1 h 05 min", "12 min", "45 s" */
export function duration(ms) {
  const neg = ms < 0;
  let sec = Math.round(Math.abs(ms) / 1000);
  let out;
  if (sec < 60) out = `${sec} s`;
  else if (sec < 3600) out = `${Math.floor(sec / 60)} min ${String(sec % 60).padStart(2, "0")} s`;
  else {
    const m = Math.floor(sec / 60);
    out = `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
  }
  return neg ? `-${out}` : out;
}

/** "Mon 30 Nov 14:05" in the browser's zone. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

/**
 * "Tue 16 Jun 19:33" on the clock of the offset an RFC 3339 time carries (a
 * visit's time is written in its team's zone), whatever the browser's zone.
 */
export function wallWhen(iso) {
  if (!iso) return "";
  const d = new Date(`${iso.slice(0, 19)}Z`);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC" });
}

/** "tier1" -> "Tier 1", "hospital_discharge" -> "hospital discharge" */
export function label(code) {
  if (code === null || code === undefined) return "";
  const t = String(code).match(/^tier(\d)$/);
  if (t) return `Tier ${t[1]}`;
  return String(code).replaceAll("_", " ");
}

/** Offers a text file for download (CSV, ICS, GeoJSON). */
export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** RFC 4180 CSV from a header and rows. */
export function csv(header, rows) {
  const cell = (v) => {
    const t = v === null || v === undefined ? "" : String(v);
    return /[",\r\n]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t;
  };
  return [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

/** A transient message in the corner. */
export function toast(text, kind = "") {
  const box = document.getElementById("toasts");
  const t = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

/**
 * Shows an API error at the fields it names: each issue goes to the
 * `[data-error-for]` slot of its JSON path (or of the nearest enclosing path)
 * and marks that `[data-path]` input invalid. `err` null clears. Returns the
 * issues no field took, for the form's general message.
 */
export function fieldErrors(root, err) {
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of root.querySelectorAll("[data-error-for]")) el.textContent = "";
  if (!err) return [];
  const issues = err.issues?.length ? err.issues : [{ path: err.path ?? "$", message: err.message }];
  const loose = [];
  for (const is of issues) {
    let path = is.path ?? "$";
    let slot = null;
    while (path && !(slot = root.querySelector(`[data-error-for="${CSS.escape(path)}"]`))) {
      const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
      path = cut > 1 ? path.slice(0, cut) : "";
    }
    if (slot) {
      slot.textContent = [slot.textContent, is.message].filter(Boolean).join("; ");
      root.querySelector(`[data-path="${CSS.escape(path)}"]`)?.setAttribute("aria-invalid", "true");
    } else loose.push(is);
  }
  root.querySelector("[aria-invalid='true']")?.focus();
  return loose;
}
