#!/usr/bin/env python3
"""Does a room full of open consoles slow the API down?

Starts `carefill serve --demo` (the binary given, default target/debug/carefill)
in a temporary folder, then measures the latency of POST /v1/recommendations?k=3
(cycling through the demo county's first 8 waiting referrals, one request at a
time) twice: with no console connected, and with CONSOLES (default 50) live
event streams open (GET /v1/events with a broker key, as the console holds
them, each read by its own curl process). In both phases a background loop
refers and cancels a demo package every second, so the streams carry events.
Prints p50/p90/p99 per phase, events received, and the load average at each
phase's start and end (the machine is shared: read the numbers with it).

Usage: scripts/console-sse-load.py [--bin target/debug/carefill] [--requests 300]
       [--consoles 50] [--port 18191]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.client import HTTPConnection


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def call(port, method, path, key, body=None):
    c = HTTPConnection("127.0.0.1", port, timeout=120)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=headers)
    r = c.getresponse()
    text = r.read()
    c.close()
    return r.status, text


def measure(port, key, bodies, n):
    lat = []
    conn = HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(n):
        body = bodies[i % len(bodies)]
        t0 = time.perf_counter()
        conn.request("POST", "/v1/recommendations?k=3", body=body,
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            raise SystemExit(f"recommendation answered {r.status}")
    conn.close()
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))]
    return {"n": n, "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "mean": statistics.fmean(lat)}


def churn(port, key, referrals, stop):
    """Refers and cancels one demo package a second, so live events flow."""
    i = 0
    while not stop.is_set() and referrals:
        r = dict(referrals[i % len(referrals)])
        pkg = dict(r["package"])
        pkg["id"] = f"{pkg['id']}-sse{i}"
        user = dict(r["service_user"])
        user["id"] = f"{user['id']}-sse{i}"
        pkg["service_user"] = user["id"]
        r["package"], r["service_user"] = pkg, user
        call(port, "POST", "/v1/referrals", key, r)
        call(port, "POST", f"/v1/packages/{pkg['id']}/cancel", key, {})
        i += 1
        stop.wait(1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/debug/carefill")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--consoles", type=int, default=50)
    ap.add_argument("--port", type=int, default=18191)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    tmp = tempfile.mkdtemp(prefix="carefill-sse-")
    server = subprocess.Popen([binary, "serve", "--demo", "--bind", f"127.0.0.1:{a.port}"], cwd=tmp,
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"), "w"))
    streams = []
    stop = threading.Event()
    try:
        for _ in range(1200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{a.port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.25)
        keys = json.load(open(os.path.join(tmp, "carefill-demo-keys.json")))
        key = keys["keys"]["broker"] if "keys" in keys else keys["broker"]
        _, text = call(a.port, "GET", "/v1/demo/referrals", key)
        referrals = json.loads(text)["referrals"]
        bodies = [json.dumps(r).encode() for r in referrals[:8]]
        churner = threading.Thread(target=churn, args=(a.port, key, referrals[8:], stop), daemon=True)
        churner.start()
        measure(a.port, key, bodies, 20)  # warm-up
        print(f"load average before phase 1: {load()}")
        quiet = measure(a.port, key, bodies, a.requests)
        print(f"0 consoles:  {quiet}  (load {load()})")
        out = os.path.join(tmp, "events")
        os.makedirs(out)
        for i in range(a.consoles):
            f = open(os.path.join(out, f"{i}.txt"), "w")
            streams.append(subprocess.Popen(
                ["curl", "-sN", "-H", f"Authorization: Bearer {key}", "-H", "Accept: text/event-stream",
                 f"http://127.0.0.1:{a.port}/v1/events"], stdout=f, stderr=subprocess.DEVNULL))
        time.sleep(2)
        print(f"load average before phase 2: {load()}")
        busy = measure(a.port, key, bodies, a.requests)
        print(f"{a.consoles} consoles: {busy}  (load {load()})")
        events = 0
        for name in os.listdir(out):
            with open(os.path.join(out, name)) as f:
                events += sum(1 for line in f if line.startswith("event:"))
        print(f"events received by the {a.consoles} streams: {events}")
        print(f"p99 change with {a.consoles} consoles: {100 * (busy['p99'] / quiet['p99'] - 1):+.1f}%")
    finally:
        stop.set()
        for p in streams:
            p.terminate()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
