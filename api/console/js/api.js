// The console's only door to carefill: the public HTTP API with the signed-in key.
// The key lives in sessionStorage (this tab only, gone when it closes) and travels
// only in the Authorization header, never in a URL.

const KEY = "carefill.key";

/** A problem+json answer (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "error";
    this.path = problem.path || null;
    this.issues = Array.isArray(problem.issues) ? problem.issues : [];
    this.requestId = problem.request_id || null;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

const handlers = { unauthorized: () => {}, connection: () => {} };
/** `on("unauthorized", f)` (the key stopped working), `on("connection", f(up))`. */
export function on(name, f) { handlers[name] = f; }

let down = false;
let probe = null;

function connectionLost() {
  if (down) return;
  down = true;
  handlers.connection(false);
  // Probe the public health route until the service answers again.
  probe = setInterval(async () => {
    try {
      const r = await fetch("/health", { cache: "no-store" });
      if (r.ok) connectionBack();
    } catch { /* still down */ }
  }, 2000);
}

function connectionBack() {
  if (!down) return;
  down = false;
  clearInterval(probe);
  handlers.connection(true);
}

/**
 * Calls the API. Resolves with parsed JSON (or text); rejects with ApiError.
 * `opts.raw` resolves with the Response; `opts.key` overrides the session key (sign-in).
 */
export async function api(method, path, body, opts = {}) {
  // `opts.anonymous`: a route that takes no key (a carer's week link).
  const headers = opts.anonymous ? {} : { authorization: `Bearer ${opts.key ?? session.key() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      cache: "no-store",
      signal: opts.signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    connectionLost();
    throw new ApiError(0, { code: "network", detail: "The service cannot be reached; retrying." });
  }
  connectionBack();
  if (!res.ok) {
    let problem;
    try { problem = await res.json(); } catch { problem = { detail: `${res.status} ${res.statusText}` }; }
    const err = new ApiError(res.status, problem);
    if (res.status === 401 && !opts.key && !opts.anonymous) handlers.unauthorized(err);
    throw err;
  }
  if (opts.raw) return res;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body ?? {}, opts);
export const put = (path, body, opts) => api("PUT", path, body ?? {}, opts);

/**
 * Live updates: `GET /v1/events` read as a server-sent event stream through fetch
 * (EventSource cannot send the Authorization header, and the key never goes in a URL).
 * Calls `onEvent({type, data})` per event; reconnects with backoff. Where the service has
 * no event stream, falls back to a slow `{type: "tick"}` every `fallbackMs`.
 * Returns a function that stops it.
 */
export function subscribe(onEvent, fallbackMs = 15000) {
  const ctl = new AbortController();
  let stopped = false;
  let timer = null;
  const state = (v) => { window.__carefillLiveState = v; };
  const fallback = () => {
    state("polling");
    timer = setInterval(() => onEvent({ type: "tick", data: null }), fallbackMs);
  };
  (async () => {
    let backoff = 1000;
    while (!stopped) {
      let res;
      try {
        res = await fetch("/v1/events", {
          headers: { authorization: `Bearer ${session.key() ?? ""}`, accept: "text/event-stream" },
          cache: "no-store",
          signal: ctl.signal,
        });
      } catch (e) {
        if (stopped) return;
        connectionLost();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 15000);
        continue;
      }
      state(`http ${res.status}`);
      if (res.status === 404 || res.status === 405) { fallback(); return; }
      if (res.status === 401) { handlers.unauthorized(new ApiError(401, {})); return; }
      if (!res.ok || !res.body) { await sleep(backoff); continue; }
      connectionBack();
      backoff = 1000;
      state("streaming");
      onEvent({ type: "open", data: null });
      try {
        await readEvents(res.body, onEvent);
      } catch (e) {
        if (stopped) return;
      }
      if (stopped) return;
      connectionLost();
      await sleep(backoff);
    }
  })();
  return () => {
    stopped = true;
    ctl.abort();
    clearInterval(timer);
  };
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(buf.slice(cut).match(/^\r?\n\r?\n/)[0].length + cut);
      let type = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "event") type = val;
        else if (field === "data") data.push(val);
      }
      if (data.length) {
        let parsed = data.join("\n");
        try { parsed = JSON.parse(parsed); } catch { /* plain text */ }
        onEvent({ type, data: parsed });
      }
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
