// SVG charts drawn by hand: a step/line chart with reference lines and a bar chart.

import { s } from "./dom.js";

const W = 560, H = 260, L = 48, R = 14, T = 16, B = 40;

function frame(title) {
  return s("svg", { class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title },
    s("title", {}, title));
}

function ticks(max, n = 5) {
  if (max <= 0) return [0];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? raw;
  const out = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Number(v.toFixed(6)));
  return out;
}

/**
 * A line through `points` ([x, y]) with vertical marks `vlines` ([{x, text}]) and
 * horizontal targets `hlines` ([{y, text}]). `yFormat` formats axis labels.
 */
export function lineChart({ title, points, xMax, yMax, xLabel, yLabel, vlines = [], hlines = [], yFormat = String, step = false, more = [], xFormat = String, dots = false }) {
  const svg = frame(title);
  const px = (x) => L + (x / xMax) * (W - L - R);
  const py = (y) => H - B - (y / yMax) * (H - T - B);
  for (const v of ticks(yMax)) {
    svg.append(s("line", { class: "gridline", x1: L, x2: W - R, y1: py(v), y2: py(v) }));
    svg.append(s("text", { x: L - 6, y: py(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6675" }, yFormat(v)));
  }
  for (const v of ticks(xMax, 8)) {
    svg.append(s("text", { x: px(v), y: H - B + 16, "text-anchor": "middle", "font-size": 11, fill: "#5b6675" }, xFormat(v)));
  }
  svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  svg.append(s("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  svg.append(s("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", "font-size": 12, fill: "#1c2430" }, xLabel));
  svg.append(s("text", { x: 12, y: T + (H - T - B) / 2, "font-size": 12, fill: "#1c2430", transform: `rotate(-90 12 ${T + (H - T - B) / 2})`, "text-anchor": "middle" }, yLabel));
  for (const hl of hlines) {
    svg.append(s("line", { class: "mark", x1: L, x2: W - R, y1: py(hl.y), y2: py(hl.y), "data-hline": hl.text }));
    svg.append(s("text", { x: W - R - 2, y: py(hl.y) - 3, "text-anchor": "end", "font-size": 11, fill: "#b26a00" }, hl.text));
  }
  for (const vl of vlines) {
    svg.append(s("line", { class: "target", x1: px(vl.x), x2: px(vl.x), y1: T, y2: H - B, "data-vline": vl.text }));
    svg.append(s("text", { x: px(vl.x) + 3, y: T + 10, "font-size": 11, fill: "#b3261e" }, vl.text));
  }
  // `more`: further series [{points, className, text}] drawn the same way.
  for (const series of [{ points, className: "" }, ...more]) {
    const pts = series.points;
    if (!pts.length) continue;
    let d = `M${px(pts[0][0])},${py(pts[0][1])}`;
    for (let i = 1; i < pts.length; i++) {
      if (step) d += ` H${px(pts[i][0])}`;
      d += ` ${step ? "V" : "L"}${step ? py(pts[i][1]) : `${px(pts[i][0])},${py(pts[i][1])}`}`;
    }
    svg.append(s("path", { class: `series ${series.className}`, d, "data-points": pts.length, "data-series": series.text ?? "" }));
    // `dots`: mark each point (days of a ledger), so a single one still shows.
    if (dots) for (const [x, y] of pts) svg.append(s("circle", { class: `dot ${series.className}`, cx: px(x), cy: py(y), r: 3 }));
  }
  return svg;
}

/** Horizontal bars: `bars` = [{label, value, className?}]. */
export function barChart({ title, bars, valueFormat = String, width = W }) {
  const rowH = 22;
  const height = T + bars.length * rowH + 20;
  const left = 170;
  const max = Math.max(1e-9, ...bars.map((b) => Math.abs(b.value)));
  const svg = s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title }, s("title", {}, title));
  bars.forEach((b, i) => {
    const y = T + i * rowH;
    const w = (Math.abs(b.value) / max) * (width - left - 70);
    svg.append(s("text", { x: left - 8, y: y + 14, "text-anchor": "end", "font-size": 12, fill: "#1c2430" }, b.label));
    svg.append(s("rect", { class: `bar ${b.className ?? ""}`, x: left, y: y + 3, width: Math.max(1, w), height: rowH - 7, rx: 2, "data-bar": b.label }));
    svg.append(s("text", { x: left + w + 6, y: y + 14, "font-size": 12, fill: "#5b6675" }, valueFormat(b.value)));
  });
  return svg;
}

/**
 * A grid of cells, rows by columns (e.g. days by periods): `cells[r][c]` =
 * {text, level (0..1, how full the cell's colour), className?, data?}.
 */
export function gridChart({ title, rows, cols, cells, width = W }) {
  const left = 110, top = 24, rowH = 24;
  const colW = (width - left - R) / Math.max(1, cols.length);
  const height = top + rows.length * rowH + 6;
  const svg = s("svg", { class: "chart grid", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title }, s("title", {}, title));
  cols.forEach((c, j) => svg.append(s("text", { x: left + j * colW + colW / 2, y: top - 8, "text-anchor": "middle", "font-size": 11, fill: "#5b6675" }, c)));
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    svg.append(s("text", { x: left - 8, y: y + 16, "text-anchor": "end", "font-size": 12, fill: "#1c2430" }, r));
    cols.forEach((_, j) => {
      const cell = cells[i][j];
      svg.append(s("rect", { class: `cell ${cell.className ?? ""}`, x: left + j * colW + 1, y: y + 1, width: colW - 2, height: rowH - 2, rx: 2,
        "fill-opacity": (0.15 + 0.85 * Math.min(1, Math.max(0, cell.level))).toFixed(2), ...(cell.data ?? {}) }, s("title", {}, cell.title ?? cell.text)));
      svg.append(s("text", { x: left + j * colW + colW / 2, y: y + 16, "text-anchor": "middle", "font-size": 11, fill: "#1c2430" }, cell.text));
    });
  });
  return svg;
}
