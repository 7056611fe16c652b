"""Writes a random VRPTW instance in Solomon's text format (R1-like, any size).

Usage: python3 scripts/gen-vrptw.py CUSTOMERS SEED > FILE

Why: the shared benchmarks stop at 100 customers, and the team-week target
(1 s within 1% of 10 s, ~800 visits) needs a peer measured at that size. The
Gehring-Homberger 800-customer sets are not on this machine, so this draws one
of the same shape: customers uniform on a 150x150 square, depot in the centre,
horizon 1000, service 10, demand 1-40, capacity 200, 100 vehicles, each
time window 10-60 wide around a time reachable from the depot. The same seed
gives the same file (Python's random is stable across versions for these calls).
"""

import math
import random
import sys


def main():
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    side, horizon = 150, 1000
    depot = (side // 2, side // 2)
    rows = [(0, depot[0], depot[1], 0, 0, horizon, 0)]
    for i in range(1, n + 1):
        x, y = rng.randint(0, side), rng.randint(0, side)
        d = math.hypot(x - depot[0], y - depot[1])
        latest = int(horizon - d - 10)
        centre = rng.uniform(d, latest)
        half = rng.randint(5, 30)
        ready = max(0, int(centre - half))
        due = max(ready, min(latest, int(centre + half)))
        rows.append((i, x, y, rng.randint(1, 40), ready, due, 10))
    print(f"GEN{n}_{seed}\n\nVEHICLE\nNUMBER     CAPACITY\n  100         200\n\nCUSTOMER")
    print("CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n ")
    for r in rows:
        print("%5d %10d %10d %10d %10d %10d %10d" % r)


if __name__ == "__main__":
    main()
