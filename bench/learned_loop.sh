#!/usr/bin/env bash
# bench/learned_loop.sh - issue 11's quality runs, written to docs/learned_loop.md:
#  1. the learned whole loop on Pendulum-v1 from nothing with --planner cem and mppi: per
#     training seed S, 1 random episode (mbrl_collect --seed S), then `mbrl_mpc --iterations
#     ITERS --episodes EPS` (train, run MPC episodes, aggregate, retrain), the final model
#     trained on everything (1 + ITERS*EPS episodes of 200 steps <= 5,000 env steps) and
#     evaluated on --eval-episodes N with Gymnasium reset seeds 0..N-1 (--eval-seed 0);
#  2. the oracle on CartPole-v1, MountainCarContinuous-v0, Acrobot-v1: rs vs cem vs mppi.
#
#   bench/learned_loop.sh [--build DIR] [--seeds "1 2 3"] [--planners "cem mppi"]
#                         [--iters 8] [--eps 3] [--eval 50] [--oracle-eps 3] [--skip-oracle]
#                         [--skip-loop] [--out DIR] [--tag NAME] [--extra "FLAGS"]
# --bench also times one CEM and one PETS plan (bench_plan_opt and torch_reference.py --only
# cem --only pets, 1 thread, side by side) into OUT.
# --extra adds mbrl_mpc flags to the loop runs (e.g. "--ensemble 5 --probabilistic --particles
# 10 --population 100 --opt-iterations 3" for PETS), --tag names their files (default: planner).
# Runs single-threaded (OMP_NUM_THREADS=1) under nice -n 10 (the machine is shared). JSON of
# every run goes to OUT (default bench/results/learned_loop-<date>, git-ignored); the
# markdown is made from it by bench/learned_loop_md.py.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-cpu; seeds="1 2 3"; planners="cem mppi"; iters=8; eps=3; neval=50; oeps=3
skip_oracle=0; skip_loop=0; tag=""; extra=""; do_bench=0; out="bench/results/learned_loop-$(date +%Y%m%d-%H%M%S)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;; --seeds) seeds="$2"; shift 2 ;;
    --planners) planners="$2"; shift 2 ;; --iters) iters="$2"; shift 2 ;;
    --eps) eps="$2"; shift 2 ;; --eval) neval="$2"; shift 2 ;;
    --oracle-eps) oeps="$2"; shift 2 ;; --skip-oracle) skip_oracle=1; shift ;;
    --skip-loop) skip_loop=1; shift ;; --out) out="$2"; shift 2 ;;
    --bench) do_bench=1; shift ;;
    --tag) tag="$2"; shift 2 ;; --extra) extra="$2"; shift 2 ;;
    *) echo "learned_loop.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
B="$build/bin"
mkdir -p "$out"
export OMP_NUM_THREADS=1
run() { echo "+ $*" >&2; nice -n 10 "$@"; }
if [[ $skip_loop == 0 ]]; then
  for pl in $planners; do
    for s in $seeds; do
      name="${tag:-$pl}"
      [[ -n $tag ]] && name="${tag}-$pl"
      d="$out/data_${name}_$s.h5"; m="$out/model_${name}_$s.h5"
      rm -f "$d" "$m"
      run "$B/mbrl_collect" --env Pendulum-v1 --episodes 1 --seed "$s" --out "$d" >&2
      t0=$(date +%s.%N)
      run "$B/mbrl_mpc" --env Pendulum-v1 --iterations "$iters" --episodes "$eps" --data "$d" \
        --model "$m" --planner "$pl" --seed "$s" --eval-episodes "$neval" --eval-seed 0 --json \
        $extra > "$out/loop_${name}_$s.json"
      t1=$(date +%s.%N)
      echo "{\"wall_s\": $(echo "$t1 - $t0" | bc), \"command\": \"mbrl_collect --env Pendulum-v1 --episodes 1 --seed $s --out D && mbrl_mpc --env Pendulum-v1 --iterations $iters --episodes $eps --data D --model M --planner $pl --seed $s --eval-episodes $neval --eval-seed 0 --json $extra\"}" > "$out/loop_${name}_$s.meta.json"
      rm -f "$d" "$m"
    done
  done
fi
if [[ $skip_oracle == 0 ]]; then
  for env in CartPole-v1 MountainCarContinuous-v0 Acrobot-v1; do
    cost=reward
    [[ $env != CartPole-v1 ]] && cost=shaped
    for pl in rs cem mppi; do
      run "$B/mbrl_mpc" --env "$env" --oracle --planner "$pl" --cost "$cost" --episodes "$oeps" \
        --seed 0 --json > "$out/oracle_${env}_$pl.json"
    done
  done
fi
if [[ $do_bench == 1 ]]; then
  run "$B/bench_plan_opt" --threads 1 > "$out/bench_plan_opt.json"
  run /usr/bin/python3 bench/torch_reference.py --only cem --only pets --threads 1 --device cpu \
    > "$out/torch_plan_opt.json"
fi
/usr/bin/python3 bench/learned_loop_md.py "$out" > docs/learned_loop.md
echo "wrote docs/learned_loop.md from $out" >&2
