// Map of the county drawn in SVG from the API's GeoJSON (`GET /v1/map`): areas
// shaded by capacity shortfall, team bases, providers and the people waiting.
// No tile server is needed: an equirectangular projection scaled by
// cos(latitude). Where the deployment configures one (GET /v1/console/settings
// gives its URL template), the map switches to Web Mercator and lays the tiles
// under the same drawing; the page's CSP allows images from that origin only.

import { get } from "./api.js";
import { download, h, label, mount, s } from "./dom.js";

const W = 900, H = 620, PAD = 20;

/** Projection fitted to the bounding box of every coordinate. */
export function fit(features) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (c) => {
    if (typeof c[0] === "number") {
      x0 = Math.min(x0, c[0]); x1 = Math.max(x1, c[0]); y0 = Math.min(y0, c[1]); y1 = Math.max(y1, c[1]);
    } else c.forEach(visit);
  };
  features.forEach((f) => f.geometry && visit(f.geometry.coordinates));
  if (!Number.isFinite(x0)) return null;
  const k = Math.cos((((y0 + y1) / 2) * Math.PI) / 180);
  const sx = (W - 2 * PAD) / Math.max(1e-9, (x1 - x0) * k), sy = (H - 2 * PAD) / Math.max(1e-9, y1 - y0);
  const sc = Math.min(sx, sy);
  return ([lon, lat]) => [PAD + (lon - x0) * k * sc, H - PAD - (lat - y0) * sc];
}

/** Web Mercator world pixels at zoom 0 (256 px for the world). */
const merc = ([lon, lat]) => {
  const r = (Math.min(85, Math.max(-85, lat)) * Math.PI) / 180;
  return [((lon + 180) / 360) * 256, ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 256];
};

/**
 * A Web Mercator projection fitted to the features and the tiles under it:
 * `{proj, tiles: [{href, x, y, size}]}` for a `{z}/{x}/{y}` URL template.
 */
export function tiled(features, template) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (c) => {
    if (typeof c[0] === "number") {
      const [x, y] = merc(c);
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    } else c.forEach(visit);
  };
  features.forEach((f) => f.geometry && visit(f.geometry.coordinates));
  if (!Number.isFinite(x0)) return null;
  const fitScale = Math.min((W - 2 * PAD) / Math.max(1e-9, x1 - x0), (H - 2 * PAD) / Math.max(1e-9, y1 - y0));
  const z = Math.max(0, Math.min(18, Math.floor(Math.log2(fitScale))));
  const sc = fitScale / 2 ** z; // 1..2: tiles drawn a little larger than 256 px
  const ox = PAD - x0 * fitScale + ((W - 2 * PAD) - (x1 - x0) * fitScale) / 2;
  const oy = PAD - y0 * fitScale + ((H - 2 * PAD) - (y1 - y0) * fitScale) / 2;
  const proj = (c) => { const [x, y] = merc(c); return [ox + x * fitScale, oy + y * fitScale]; };
  const size = 256 * sc;
  const n = 2 ** z;
  const tiles = [];
  const tx0 = Math.floor(-ox / size), tx1 = Math.floor((W - ox) / size);
  const ty0 = Math.max(0, Math.floor(-oy / size)), ty1 = Math.min(n - 1, Math.floor((H - oy) / size));
  for (let tx = tx0; tx <= tx1; tx++) for (let ty = ty0; ty <= ty1; ty++) {
    const wx = ((tx % n) + n) % n;
    tiles.push({ href: template.replace("{z}", z).replace("{x}", wx).replace("{y}", ty), x: ox + tx * size, y: oy + ty * size, size });
  }
  return { proj, tiles };
}

let settings = null;
async function tileUrl() {
  settings ??= get("/v1/console/settings").catch(() => ({ tile_url: null }));
  return (await settings).tile_url;
}

export default {
  id: "map",
  title: "Map",
  roles: ["admin", "broker", "integrator"],
  render(root, ctx) {
    const box = h("div", { class: "card", id: "map-box" }, h("p", { class: "muted" }, "Loading…"));
    const info = h("div", { class: "card", id: "map-info" }, h("p", { class: "muted" }, "Hover or tap an area, team or person for details."));
    let geo = null;
    mount(root, h("div", { class: "row" }, h("h1", { class: "grow" }, "Map"),
      h("button", { class: "secondary", id: "map-geojson", onclick: () => geo && download("carefill-map.geojson", JSON.stringify(geo), "application/geo+json") }, "GeoJSON")),
    h("div", { class: "split" }, box, info));

    function describe(p) {
      const rows = Object.entries(p).filter(([k]) => k !== "kind").map(([k, v]) => h("tr", {}, h("th", {}, label(k)), h("td", {}, typeof v === "number" ? (Number.isInteger(v) ? v : v.toFixed(1)) : String(v))));
      mount(info, h("h2", {}, `${label(p.kind)} ${p.name ?? p.id ?? p.package ?? ""}`), h("table", {}, h("tbody", {}, rows)));
    }

    async function load() {
      let template;
      try {
        [geo, template] = await Promise.all([get("/v1/map"), tileUrl()]);
      } catch (e) {
        mount(box, ctx.problem(e, load));
        return;
      }
      const feats = geo.features ?? [];
      const withTiles = template ? tiled(feats, template) : null;
      const proj = withTiles?.proj ?? fit(feats);
      if (!proj) { mount(box, h("p", { class: "empty" }, "Nothing to draw.")); return; }
      const svg = s("svg", { class: "map", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "County map", "data-tiles": withTiles ? withTiles.tiles.length : 0 });
      for (const t of withTiles?.tiles ?? []) svg.append(s("image", { class: "tile", href: t.href, x: t.x, y: t.y, width: t.size, height: t.size, preserveAspectRatio: "none" }));
      const layer = (kind) => feats.filter((f) => f.properties?.kind === kind);
      const pick = (f) => ({ onmouseenter: () => describe(f.properties), onclick: () => describe(f.properties) });
      for (const f of layer("area")) {
        if (f.geometry?.type !== "Polygon") continue; // "rural" has no geometry
        const d = f.geometry.coordinates.map((ring) => `M${ring.map((c) => proj(c).join(",")).join("L")}Z`).join("");
        const short = f.properties.shortfall_hours > 0;
        svg.append(s("path", { class: `area ${short ? "short" : ""}`, d, "data-area": f.properties.name, ...pick(f) }, s("title", {}, `${f.properties.name}: ${f.properties.shortfall_hours.toFixed(1)} h short`)));
        const [cx, cy] = proj(f.properties.centre ?? f.geometry.coordinates[0][0]);
        svg.append(s("text", { x: cx, y: cy, "text-anchor": "middle", "font-size": 11, fill: "#34495e" }, f.properties.name));
      }
      for (const f of layer("team")) {
        const [x, y] = proj(f.geometry.coordinates);
        svg.append(s("circle", { class: "team", cx: x, cy: y, r: 6, "data-team": f.properties.id, ...pick(f) }, s("title", {}, `team ${f.properties.id}`)));
      }
      for (const f of layer("provider")) {
        const [x, y] = proj(f.geometry.coordinates);
        svg.append(s("rect", { class: "provider", x: x - 4, y: y - 4, width: 8, height: 8, "data-provider": f.properties.id, ...pick(f) }, s("title", {}, `provider ${f.properties.id}`)));
      }
      for (const f of layer("waiting")) {
        const [x, y] = proj(f.geometry.coordinates);
        svg.append(s("circle", { class: "waiting", cx: x, cy: y, r: 4, "data-waiting": f.properties.package, ...pick(f) }, s("title", {}, `waiting: ${f.properties.package}`)));
      }
      const n = (k) => layer(k).length;
      mount(box, svg, h("div", { class: "legend" },
        h("span", {}, h("i", { class: "sw short" }), "area short of carer-hours"),
        h("span", {}, h("i", { class: "sw room" }), "area with room"),
        h("span", {}, h("i", { class: "sw provider" }), `provider (${n("provider")})`),
        h("span", {}, h("i", { class: "sw teamb" }), `team base (${n("team")})`),
        h("span", {}, h("i", { class: "sw waiting" }), `person waiting (${n("waiting")})`),
        template ? h("span", { id: "map-tiles" }, `tiles: ${new URL(template.replaceAll(/[{}]/g, "")).origin}`) : null));
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
