#!/usr/bin/env python3
"""bench/learned_loop_md.py OUT_DIR - docs/learned_loop.md from the JSON that
bench/learned_loop.sh wrote (stdout). Standard library only."""
import glob
import json
import os
import platform
import statistics
import sys


def load(p):
    with open(p) as f:
        return json.load(f)


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    out = sys.argv[1]
    print("# Issue 11 quality runs (written by bench/learned_loop.sh + bench/learned_loop_md.py)\n")
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared with other engineers' builds); "
          "single-threaded runs (OMP_NUM_THREADS=1, nice -n 10).\n")
    loops = sorted(glob.glob(os.path.join(out, "loop_*.json")))
    loops = [p for p in loops if not p.endswith(".meta.json")]
    if loops:
        print("## Learned whole loop, Pendulum-v1, from nothing\n")
        print("Per training seed S: 1 random episode (`mbrl_collect --episodes 1 --seed S`), then "
              "`mbrl_mpc --iterations I --episodes E --planner P --seed S --eval-episodes 50 "
              "--eval-seed 0` (each iteration trains the seed's 64-64 BatchNorm model, or with --ensemble an "
              "ensemble of them, for 5000 steps on all data so far, runs E MPC episodes with it and aggregates them; the final "
              "model is trained on everything and evaluated on Gymnasium reset seeds 0..49, 200 "
              "steps). Environment steps counted: the random episode and the MPC episodes of the "
              "iterations (the evaluation episodes are not training data).\n")
        by_pl = {}
        for p in loops:
            j = load(p)
            meta_p = p[:-5] + ".meta.json"
            meta = load(meta_p) if os.path.exists(meta_p) else {}
            pl = j["planner"]["planner"]
            if j.get("ensemble_members"):
                pl += (f" with PETS: --ensemble {j['ensemble_members']}"
                       f"{' --probabilistic' if j.get('probabilistic') else ''}, "
                       f"{j['planner'].get('particles')} particles, {j['planner'].get('propagation')}")
            # the planner projects a learned model's predictions by default (--no-projection:
            # raw); runs whose settings lack the key were made before the projection existed
            if "projection" not in j["planner"]:
                pl += ", raw model predictions (made before the planner projected them)"
            elif not j["planner"]["projection"]:
                pl += ", raw model predictions (--no-projection)"
            by_pl.setdefault(pl, []).append((j, meta))
        for pl, runs in sorted(by_pl.items()):
            print(f"### --planner {pl}\n")
            print(f"Planner settings: `{json.dumps(runs[0][0]['planner'])}`, H {runs[0][0]['horizon']}, "
                  f"CPU kernel path {runs[0][0]['cpu_kernels']}.\n")
            print("| training seed | env steps | eval mean return (50 eps) | std | plan ms/action (median) | wall s |")
            print("|---|---|---|---|---|---|")
            means = []
            for j, meta in sorted(runs, key=lambda r: r[0]["seed"]):
                ev = j.get("eval", {})
                m = ev.get("mean_return", float("nan"))
                means.append(m)
                print(f"| {j['seed']} | {j['total_env_steps']} | {m:.1f} | {ev.get('std_return', float('nan')):.1f} | "
                      f"{ev.get('plan_ms_median', float('nan')):.2f} | {meta.get('wall_s', float('nan')):.0f} |")
            if means:
                print(f"\n**Mean over {len(means)} training seeds: {statistics.mean(means):.1f}** "
                      f"(per seed: {', '.join(f'{m:.1f}' for m in means)}; target >= -150).\n")
            print("Curve (mean return of each iteration's MPC episodes against environment steps "
                  "so far, the last row the final model's evaluation):\n")
            seeds = sorted(runs, key=lambda r: r[0]["seed"])
            print("| env steps | " + " | ".join(f"seed {j['seed']}" for j, _ in seeds) + " |")
            print("|---|" + "---|" * len(seeds))
            n_it = min(len(j["iterations"]) for j, _ in seeds)
            for i in range(n_it):
                steps = seeds[0][0]["iterations"][i]["env_steps"]
                print(f"| {steps} | " + " | ".join(f"{j['iterations'][i]['mean_return']:.1f}" for j, _ in seeds) + " |")
            print(f"| eval (final model) | " + " | ".join(f"{j.get('eval', {}).get('mean_return', float('nan')):.1f}" for j, _ in seeds) + " |")
            if seeds[0][1].get("command"):
                print(f"\nCommand (D, M: temporary files): `{seeds[0][1]['command']}`\n")
    oracles = sorted(glob.glob(os.path.join(out, "oracle_*.json")))
    if oracles:
        print("## Oracle (true dynamics): random shooting vs CEM vs MPPI\n")
        print("`mbrl_mpc --env ENV --oracle --planner P --cost C --episodes N --seed 0 --json` "
              "(reset seeds 0..N-1; rs: K 1024, H 15, the seed's planner; cem/mppi: their "
              "defaults, H 30; --cost shaped for the sparse-reward envs). Returns are the env's "
              "own reward.\n")
        print("| env | cost | planner | episodes | mean return | std | returns | plan ms/action (median) |")
        print("|---|---|---|---|---|---|---|---|")
        for p in oracles:
            j = load(p)
            print(f"| {j['env']} | {j['cost']} | {j['planner']['planner']} | {j['episodes']} | "
                  f"{j['mean_return']:.1f} | {j['std_return']:.1f} | "
                  f"{', '.join(f'{r:.0f}' for r in j['returns'])} | {j['plan_ms_median']:.2f} |")
        print()
    bp, tp = os.path.join(out, "bench_plan_opt.json"), os.path.join(out, "torch_plan_opt.json")
    if os.path.exists(bp) and os.path.exists(tp):
        b, t = load(bp), load(tp)
        print("## Plan latency, 1 thread, side by side (bench_plan_opt vs torch_reference.py)\n")
        print(f"`{b['command']}` (CPU kernel path {b.get('cpu_kernels')}) and "
              f"`{t['command']}` (PyTorch {t.get('machine', {}).get('torch', '')}), one after the "
              "other on the shared machine. CEM population 500, H 30, 5 iterations; PETS: the same "
              "over 5 probabilistic members x 20 particles (TSinf).\n")
        print("| model | mbrl ms/plan | PyTorch ms/plan | speedup |")
        print("|---|---|---|---|")
        tm = {r["model"]: r for r in t["results"] if r.get("device") == "cpu"}
        for r in b["results"]:
            if r["model"] in tm:
                print(f"| {r['model']} | {r['ms_per_plan']:.1f} | {tm[r['model']]['ms_per_plan']:.1f} | "
                      f"{tm[r['model']]['ms_per_plan'] / r['ms_per_plan']:.1f}x |")
        print()


if __name__ == "__main__":
    main()
