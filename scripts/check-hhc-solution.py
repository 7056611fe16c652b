#!/usr/bin/env python3
"""Independent check of a Mankowska solution in the iolab-uniud JSON format.

Shares no code with carefill: reads the instance's keyword blocks and the JSON, checks every
rule of the published model with the exact distances, and prints the published objective
(distance + total tardiness + max tardiness) / 3.
Usage: scripts/check-hhc-solution.py INSTANCE.txt SOLUTION.json
"""
import json
import sys

KEYS = ["nbNodes", "nbVehi", "nbServi", "r", "DS", "a", "x", "y", "d", "p", "mind", "maxd", "e", "l"]


def blocks(path):
    out, cur = {}, None
    for line in open(path):
        t = line.split()
        if len(t) == 1 and t[0] in KEYS:
            cur = t[0]
            out[cur] = []
        elif t:
            out[cur].append([float(v) for v in t])
    return out


def main(inst_path, sol_path):
    b = blocks(inst_path)
    n, nv, ns = int(b["nbNodes"][0][0]), int(b["nbVehi"][0][0]), int(b["nbServi"][0][0])
    flat = lambda k: [v for row in b[k] for v in row]
    r, a, d = b["r"], b["a"], b["d"]
    p = [b["p"][i * nv:(i + 1) * nv] for i in range(n)]
    mind, maxd, e, l = flat("mind"), flat("maxd"), flat("e"), flat("l")
    sol = json.load(open(sol_path))
    eps = 1e-6
    errors, done, dist, tard = [], {}, 0.0, []
    for route in sol["routes"]:
        c = int(route["caregiver_id"][1:]) - 1
        at, free = 0, e[0]
        for loc in route["locations"]:
            i, s = int(loc["patient_id"][1:]), int(loc["service_id"][1:]) - 1
            start, end = loc["arrival_time"], loc["departure_time"]
            if not r[i][s]:
                errors.append(f"p{i} does not need s{s + 1}")
            if not a[c][s]:
                errors.append(f"c{c + 1} is not qualified for s{s + 1}")
            if abs(end - start - p[i][c][s]) > 1e-3:
                errors.append(f"p{i}/s{s + 1}: duration {end - start} != {p[i][c][s]}")
            if start < free + d[at][i] - eps:
                errors.append(f"c{c + 1} reaches p{i} at {free + d[at][i]} after starting it at {start}")
            if start < e[i] - eps:
                errors.append(f"p{i}/s{s + 1} starts before its window")
            if (i, s) in done:
                errors.append(f"p{i}/s{s + 1} is made twice")
            done[(i, s)] = (c, start)
            dist += d[at][i]
            tard.append(max(0.0, start - l[i]))
            at, free = i, end
        dist += d[at][n - 1]
    for i in range(1, n - 1):
        need = [s for s in range(ns) if r[i][s]]
        for s in need:
            if (i, s) not in done:
                errors.append(f"p{i}/s{s + 1} is not made")
        if len(need) == 2 and all((i, s) in done for s in need):
            (c1, t1), (c2, t2) = done[(i, need[0])], done[(i, need[1])]
            gap = t2 - t1
            if mind[i] == 0 and maxd[i] == 0:
                if abs(gap) > eps or c1 == c2:
                    errors.append(f"p{i}: simultaneous services at {t1} / {t2} by c{c1 + 1} / c{c2 + 1}")
            elif gap < mind[i] - eps or gap > maxd[i] + eps:
                errors.append(f"p{i}: gap {gap} outside [{mind[i]}, {maxd[i]}]")
    total, worst = sum(tard), max(tard) if tard else 0.0
    print(json.dumps({"valid": not errors, "errors": errors[:10], "distance": dist,
                      "total_tardiness": total, "max_tardiness": worst,
                      "objective": (dist + total + worst) / 3}))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
