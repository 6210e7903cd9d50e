#!/usr/bin/env bash
# scripts/a2c_quality.sh - the A2C quality runs of issue 5 on CartPole-v1, and their summary.
#
#   ./scripts/a2c_quality.sh [--build DIR] [--out DIR] [--seeds N] [--steps N]
#                            [--only single|ensemble] [--members M] [--evolve-every S]
#
# single:   mbrl_a2c --steps 500000 --seed s (SB3 defaults), s = 0..N-1; target: best mean
#           greedy evaluation (10 episodes every 10000 steps) >= 475 for at least 4 of 5 seeds.
# ensemble: --ensemble 20 with --evolve-every 20000 and the same ensemble without evolution;
#           target: >= 400 for at least 3 of 5 seeds, and whether evolution helps.
# Each run's JSON goes to OUT/<name>.json (default OUT: runs/a2c_quality/<date>); then
# OUT/summary.md (a table per group: best, final, first step >= threshold, wall time) and
# OUT/curves.csv (steps, one column of mean evaluation return per run) are written and the
# summary is printed. Runs are sequential (the machine is shared). Exit 0 when every run
# finished (the targets are reported, not enforced), 1 if a run failed, 2 on bad usage.
set -uo pipefail
cd "$(dirname "$0")/.."
prog=a2c_quality.sh
build=build
out=""
seeds=5
steps=500000
only=""
members=20
evolve_every=20000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --members) members="$2"; shift 2 ;;
    --evolve-every) evolve_every="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$prog: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$seeds" "$steps" "$members" "$evolve_every"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "$prog: error: '$v' is not a non-negative integer" >&2; exit 2; }
done
if [[ -n "$only" && "$only" != single && "$only" != ensemble ]]; then
  echo "$prog: error: --only takes single or ensemble, not '$only'" >&2; exit 2
fi
bin="$build/bin/mbrl_a2c"
[[ -x "$bin" ]] || { echo "$prog: error: $bin not found (build it: cmake --build $build --target mbrl_a2c)" >&2; exit 1; }
[[ -n "$out" ]] || out="runs/a2c_quality/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out" || { echo "$prog: error: cannot create $out" >&2; exit 1; }
echo "$prog: results go to $out" >&2

failed=0
run() {  # run NAME ARGS...
  local name="$1"; shift
  echo "$prog: $name: $bin $* --json --quiet" >&2
  if "$bin" "$@" --json --quiet >"$out/$name.json" 2>"$out/$name.log"; then
    echo "$prog: $name done: $(tr -d '\n' <"$out/$name.json" | sed -e 's/.*"wall_seconds": \([0-9.]*\).*"best_eval_mean": \([0-9.e+-]*\).*/wall \1 s, best \2/')" >&2
  else
    echo "$prog: $name FAILED: $(tail -n 1 "$out/$name.log")" >&2
    failed=1
  fi
}

common=(--env CartPole-v1 --steps "$steps" --eval-every 10000 --eval-episodes 10)
if [[ -z "$only" || "$only" == single ]]; then
  for ((s = 0; s < seeds; ++s)); do run "single_seed$s" "${common[@]}" --seed "$s"; done
fi
if [[ -z "$only" || "$only" == ensemble ]]; then
  for ((s = 0; s < seeds; ++s)); do
    run "ens${members}_evolve_seed$s" "${common[@]}" --seed "$s" --ensemble "$members" \
      --evolve-every "$evolve_every"
    run "ens${members}_none_seed$s" "${common[@]}" --seed "$s" --ensemble "$members"
  done
fi

/usr/bin/python3 - "$out" <<'EOF'
import glob, json, os, sys
out = sys.argv[1]
runs = {}
for p in sorted(glob.glob(os.path.join(out, "*.json"))):
    try:
        runs[os.path.basename(p)[:-5]] = json.load(open(p))
    except Exception:
        pass
groups = {}
for name, r in runs.items():
    groups.setdefault(name.rsplit("_seed", 1)[0], []).append((name, r))
lines = ["# A2C quality on CartPole-v1", "",
         "Best/final = mean greedy return over 10 episodes (evaluated every 10000 env steps).", ""]
for g, rs in groups.items():
    thr = 475.0 if g.startswith("single") else 400.0
    cmd = "mbrl_a2c --steps %d --eval-every 10000" % rs[0][1]["env_steps"]
    lines += ["## %s (threshold %.0f)" % (g, thr), "",
              "| seed | best | final | first step >= %.0f | mean of last 10 evals | wall s | steps/s |" % thr,
              "|---|---|---|---|---|---|---|"]
    hits = 0
    for name, r in rs:
        ev = r["evals"]
        first = next((s for s, m in ev if m >= thr), None)
        hits += first is not None
        last10 = [m for _, m in ev[-10:]]
        lines.append("| %s | %.1f | %.1f | %s | %.1f | %.1f | %.0f |" % (
            r["seed"], r["best_eval_mean"], r["final_eval_mean"],
            first if first is not None else "never", sum(last10) / max(1, len(last10)),
            r["wall_seconds"], r["steps_per_second"]))
    lines += ["", "%d of %d seeds reach %.0f." % (hits, len(rs), thr), ""]
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
steps = sorted({s for r in runs.values() for s, _ in r["evals"]})
names = list(runs)
with open(os.path.join(out, "curves.csv"), "w") as f:
    f.write("env_steps," + ",".join(names) + "\n")
    for s in steps:
        row = []
        for n in names:
            d = dict((a, b) for a, b in runs[n]["evals"])
            row.append("%g" % d[s] if s in d else "")
        f.write("%d,%s\n" % (s, ",".join(row)))
print("\n".join(lines))
EOF
exit $failed
