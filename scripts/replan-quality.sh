#!/usr/bin/env bash
# Re-plan quality against a full re-solve on the team week (issue 21 item 4).
# Publishes a 10 s rota, then re-solves two changes with it as `existing_rota`
# for 5 s and 60 s (seeds 1-3): the week's largest package arriving new, and the
# busiest carer of day 2 off sick that day. Prints a Markdown table.
# Usage: scripts/replan-quality.sh [BINARY]   (default target/release/carefill)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/carefill}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" solve fixtures/team_week.json --time-limit 10 --seed 1 --out "$WORK/published.json" >/dev/null
python3 - "$WORK" <<'PY'
import collections, datetime, json, sys
work = sys.argv[1]
req = json.load(open('fixtures/team_week.json'))
rota = json.load(open(f'{work}/published.json'))
by = collections.OrderedDict()
for r in rota['routes']:
    for s in r['stops']:
        e = by.setdefault(s['visit'], {'visit': s['visit'], 'carers': [], 'start': s['start'], 'pinned': False})
        e['carers'].append(r['carer'])
count = collections.Counter(v.split('/')[0] for v in by)
big = max(count, key=count.get)
new = json.loads(json.dumps(req))
new['existing_rota'] = [e for v, e in by.items() if not v.startswith(big + '/')]
json.dump(new, open(f'{work}/new_package.json', 'w'))
start = datetime.date.fromisoformat(req['horizon']['start_date'])
d1, d2 = (start + datetime.timedelta(days=k) for k in (1, 2))
load = collections.Counter()
for r in rota['routes']:
    if r['stops'] and r['stops'][0]['start'].startswith(d1.isoformat()):
        load[r['carer']] += len(r['stops'])
busy = max(load, key=load.get)
sick = json.loads(json.dumps(req))
sick['existing_rota'] = list(by.values())
for c in sick['carers']:
    if c['id'] == busy:
        # The fixture's zone is on UTC in winter.
        c.setdefault('absences', []).append(
            {'from': f'{d1}T00:00:00+00:00', 'to': f'{d2}T00:00:00+00:00', 'reason': 'sick'})
json.dump(sick, open(f'{work}/sick.json', 'w'))
print(f'new package: {big} ({count[big]} visits); sick: {busy} ({load[busy]} visits on {d1})', file=sys.stderr)
PY
echo "| change | seed | insertion | 5 s re-plan | 60 s re-solve | 5 s over 60 s |"
echo "|---|---|---|---|---|---|"
for change in new_package sick; do
  for seed in 1 2 3; do
    "$BIN" solve "$WORK/$change.json" --time-limit 5 --seed "$seed" --out "$WORK/quick.json" >/dev/null
    "$BIN" solve "$WORK/$change.json" --time-limit 60 --seed "$seed" --out "$WORK/long.json" >/dev/null
    python3 - "$WORK" "$change" "$seed" <<'PY'
import json, sys
work, change, seed = sys.argv[1:]
q = json.load(open(f'{work}/quick.json'))['stats']
l = json.load(open(f'{work}/long.json'))['stats']
w = q['phases'].get('warm_start_objective', float('nan'))
gap = 100 * (q['objective'] - l['objective']) / l['objective']
print(f"| {change} | {seed} | {w:.1f} | {q['objective']:.1f} | {l['objective']:.1f} | {gap:+.2f}% |")
PY
  done
done
