#!/usr/bin/python3
"""bench/make_results.py - turn a folder of bench JSON files into bench/RESULTS.md.

Usage: make_results.py RESULTS_DIR [--out bench/RESULTS.md] [--peak-gflops-per-core X]

RESULTS_DIR holds one JSON object per file (bench/README.md has the schema): our bench_*
programs ("impl": "mbrl"; one file per CPU kernel path, named by their "cpu_kernels") and
torch_reference.py ("bench": "torch_reference"), plus the optional run.json that run_all.sh
writes (date, host, threads, commands). The first section sums up the issue-9 targets per
kernel path; then every area in detail. Areas with no data read "not measured". Files that are
not valid JSON are reported on stderr and listed in the output, never silently dropped.
"""
import argparse
import glob
import json
import os
import sys

AREAS = ("env", "train", "mpc", "a2c", "peak", "ensemble", "python")  # peak: bench_peak's FP32
# ceiling; python: bench/bench_python.py, the Python package against the C calls it makes
PATHS = ("avx512", "avx2", "generic")  # CPU kernel paths, best first (mbrl/cpu.h)
ISA_PATH = {"avx512f": "avx512", "avx2_fma": "avx2"}  # bench_peak files from before "path"
LINEAR_FLOPS_DEFAULT = 9088  # 2*(4*64 + 64*64 + 64*3): the seed's model, 3+1 -> 64 -> 64 -> 3


def fmt(x, digits=3):
    """Numbers with `digits` significant figures, thousands separated; '-' for missing."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 10 ** digits:
        return f"{x:,.0f}"
    dec = max(0, digits - 1 - int(f"{ax:e}".split("e")[1]))
    return f"{x:,.{dec}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(fmt(c) for c in r) + " |")
    return out


def load(folder):
    """Returns (rows, meta, machines, problems): rows are dicts with 'area' and 'impl' added."""
    rows, machines, problems, meta = [], [], [], {}
    files = sorted(glob.glob(os.path.join(folder, "*.json")))
    for path in files:
        name = os.path.basename(path)
        try:
            with open(path) as f:
                obj = json.load(f)
        except (OSError, ValueError) as e:
            problems.append(f"{name}: not readable as JSON ({e})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{name}: top level is not a JSON object")
            continue
        if name == "run.json":
            meta = obj
            continue
        top_bench = obj.get("bench")
        impl = obj.get("impl") or ("torch" if top_bench == "torch_reference" else "mbrl")
        if isinstance(obj.get("machine"), dict):
            machines.append((name, impl, obj["machine"], obj.get("threads"), obj.get("command")))
        results = obj.get("results")
        if not isinstance(results, list):
            problems.append(f"{name}: no 'results' list")
            continue
        for r in results:
            if not isinstance(r, dict):
                problems.append(f"{name}: a result row is not an object")
                continue
            r = dict(r)
            r["area"] = r.get("bench", top_bench)
            r["impl"] = r.get("impl", impl)
            r["threads"] = r.get("threads", obj.get("threads"))
            r["file"] = name
            r.setdefault("date", obj.get("date"))
            r["clock"] = obj.get("clock") or "wall"  # wall clock, or process CPU time
            if impl != "torch":  # the CPU kernel path the row ran on (CPU rows)
                r.setdefault("kernels", r.get("path") or obj.get("cpu_kernels")
                             or ISA_PATH.get(r.get("isa")))
            if r["area"] not in AREAS:
                problems.append(f"{name}: row with unknown bench '{r['area']}' "
                                f"(expected one of {', '.join(AREAS)})")
                continue
            rows.append(r)
    return rows, meta, machines, problems


def need(r, keys):
    missing = [k for k in keys if r.get(k) is None]
    return not missing, missing


def split(rows, area, required, problems):
    ours, torch = [], []
    for r in rows:
        if r["area"] != area:
            continue
        ok, missing = need(r, required)
        if not ok:
            problems.append(f"{r['file']}: {area} row without {', '.join(missing)}: skipped")
            continue
        (torch if r["impl"] == "torch" else ours).append(r)
    return ours, torch


def torch_match(torch_rows, device, pick):
    """Torch rows on the same device if torch measured it there, else on the CPU."""
    same = [t for t in torch_rows if t.get("device") == device and pick(t)]
    if same:
        return same, device
    cpu = [t for t in torch_rows if t.get("device") == "cpu" and pick(t)]
    return cpu, "cpu"


def path_key(r):
    k = r.get("kernels")
    return PATHS.index(k) if k in PATHS else len(PATHS)


def section_env(rows, problems):
    out = ["## Environment stepping", ""]
    ours, _ = split(rows, "env", ("env", "device", "steps_per_s"), problems)
    if not ours:
        return out + ["not measured", ""]
    body = []
    order = {"single": 0}  # single env first, then the batched modes by name and batch
    for r in sorted(ours, key=lambda r: (r["env"], r["device"], order.get(r.get("mode"), 1),
                                         str(r.get("mode")), r.get("batch") or 0)):
        ns = r.get("ns_per_step") or (1e9 / r["steps_per_s"] if r["steps_per_s"] else None)
        body.append([r["env"], r.get("mode", "-"), r["device"], r.get("batch", "-"),
                     r["steps_per_s"], ns, r.get("threads")])
    out += table(["env", "mode", "device", "batch", "steps/s", "ns/step", "threads"], body)
    return out + [""]


def section_train(rows, problems):
    out = ["## Dynamics-model training step (batch gather, forward, MSE, backward, Adam)", ""]
    ours, torch = split(rows, "train", ("device", "batch", "steps_per_s"), problems)
    if not ours:
        out += ["mbrl: not measured", ""]
    else:
        body = []
        for r in sorted(ours, key=lambda r: (r["device"], r["batch"], path_key(r),
                                             str(r.get("variant")))):
            cands, tdev = torch_match(torch, r["device"], lambda t, b=r["batch"]: t["batch"] == b)
            best = max(cands, key=lambda t: t["steps_per_s"]) if cands else None
            tsps = best["steps_per_s"] if best else None
            tname = f"{best.get('variant', '-')} ({tdev})" if best else "not measured"
            us = r.get("us_per_step") or 1e6 / r["steps_per_s"]
            body.append([r["device"], r["batch"], r.get("variant", "-"), r["steps_per_s"],
                         r.get("samples_per_s") or r["steps_per_s"] * r["batch"], us,
                         tsps, tname, fmt_ratio(ratio(r["steps_per_s"], tsps))])
        out += table(["device", "batch", "mbrl variant", "mbrl steps/s", "mbrl samples/s",
                      "us/step", "torch steps/s", "torch variant", "mbrl / torch"], body)
        out += ["", "Ratios are against the faster PyTorch variant at the same batch (on the same "
                "device when PyTorch ran there, else PyTorch CPU).", ""]
    out += ["PyTorch reference:", ""]
    if not torch:
        return out + ["not measured", ""]
    body = [[t["device"], t["batch"], t.get("variant", "-"), t["steps_per_s"],
             t.get("samples_per_s") or t["steps_per_s"] * t["batch"], 1e6 / t["steps_per_s"]]
            for t in sorted(torch, key=lambda t: (t["device"], t["batch"], str(t.get("variant"))))]
    out += table(["device", "batch", "torch variant", "steps/s", "samples/s", "us/step"], body)
    return out + [""]


def peak_of(peaks, r):
    """The per-core peak for a CPU row: its kernel path's, else the best path's."""
    if r.get("device") != "cpu" or not peaks:
        return None
    return peaks.get(r.get("kernels")) or next((peaks[p] for p in PATHS if p in peaks), None)


def section_mpc(rows, problems, peaks, run_threads, run_clock):
    out = ["## Random-shooting MPC: one plan (K action sequences x H steps)", ""]
    ours, torch = split(rows, "mpc", ("model", "device", "K", "H", "ms_per_plan"), problems)
    ours = [r for r in ours if (not run_threads or (r.get("threads") or 1) == run_threads)
            and r["clock"] == run_clock]
    if peaks:
        out += ["Peak used for '% peak': the row's kernel path's FMA peak per core (bench_peak) x "
                "threads: " + ", ".join(f"{p} {peaks[p]:.0f} GFLOP/s" for p in PATHS if p in peaks)
                + " (CPU rows only).", ""]

    def pct(g, r):
        pk = peak_of(peaks, r)
        if g is None or not pk:
            return None
        return f"{100 * g / (pk * (r.get('threads') or 1)):.0f}%"

    if not ours:
        out += ["mbrl: not measured", ""]
    else:
        body = []
        for r in sorted(ours, key=lambda r: (r["model"], r["device"], path_key(r),
                                            str(r.get("variant")), r.get("E") or 1, r["K"], r["H"])):
            E = r.get("E") or 1
            tvar = "folded" if r["model"] == "learned" else "oracle"
            cands, tdev = torch_match(torch, r["device"], lambda t, r=r, v=tvar:
                                      t.get("variant") == v and t["K"] == r["K"] and t["H"] == r["H"])
            tms = cands[0]["ms_per_plan"] if cands else None
            per_env = r["ms_per_plan"] / E
            g = r.get("gflops")
            if g is None and r["model"] == "learned":
                f = r.get("flops_per_sample_step") or LINEAR_FLOPS_DEFAULT
                g = f * E * r["K"] * r["H"] / (r["ms_per_plan"] * 1e-3) / 1e9
            body.append([r["model"], r.get("kernels") or "-", r["device"], E, r["K"], r["H"],
                         r["ms_per_plan"], per_env, g, pct(g, r), tms,
                         f"{tvar} ({tdev})" if cands else "not measured",
                         fmt_ratio(ratio(tms, per_env))])
        out += table(["model", "kernels", "device", "E", "K", "H", "mbrl ms/plan",
                      "ms/plan per env", "GFLOP/s", "% peak", "torch ms/plan", "torch variant",
                      "speed-up"], body)
        out += ["", "Speed-up = torch ms per plan / mbrl ms per plan per environment; learned models "
                "against PyTorch with BatchNorm folded (its fastest variant), the oracle against "
                "PyTorch's tensor pendulum step. GFLOP/s counts 2*in*out per Linear per sample per "
                "horizon step.", ""]
    out += ["PyTorch reference (ms per plan; GFLOP/s of the folded model):", ""]
    if not torch:
        return out + ["not measured", ""]
    keys = sorted({(t["device"], t["K"], t["H"]) for t in torch})
    body = []
    for dev, K, H in keys:
        by = {t.get("variant"): t for t in torch if (t["device"], t["K"], t["H"]) == (dev, K, H)}
        g = by.get("folded", {}).get("gflops")
        body.append([dev, K, H, by.get("bn_eval", {}).get("ms_per_plan"),
                     by.get("folded", {}).get("ms_per_plan"), by.get("oracle", {}).get("ms_per_plan"),
                     g, pct(g, {"device": dev, "kernels": None,
                                "threads": by.get("folded", {}).get("threads")})])
    out += table(["device", "K", "H", "bn_eval ms", "folded ms", "oracle ms", "folded GFLOP/s",
                  "% peak"], body)
    return out + [""]


def section_a2c(rows, problems):
    out = ["## A2C training on CartPole-v1 (8 envs, n_steps 5)", ""]
    ours, torch = split(rows, "a2c", ("device", "env_steps", "steps_per_s"), problems)
    if not ours:
        out += ["mbrl: not measured", ""]
    else:
        body = []
        for r in sorted(ours, key=lambda r: (r["device"], path_key(r), r.get("ensemble") or 1,
                                             r.get("envs") or 0, r["env_steps"])):
            cands, tdev = torch_match(torch, r["device"], lambda t: True)
            best = max(cands, key=lambda t: t["steps_per_s"]) if cands else None
            tsps = best["steps_per_s"] if best else None
            body.append([r.get("name", "a2c"), r.get("kernels") or "-", r["device"], r.get("envs", "-"),
                         r.get("ensemble", 1),
                         r["env_steps"], r.get("wall_s"), r["steps_per_s"],
                         500000 / r["steps_per_s"], tsps,
                         f"{tdev}" if best else "not measured",
                         fmt_ratio(ratio(r["steps_per_s"], tsps))])
        out += table(["run", "kernels", "device", "envs", "ensemble", "env steps", "wall s",
                      "mbrl steps/s",
                      "s per 500k (est.)", "torch steps/s", "torch device", "mbrl / torch"], body)
        out += ["", "s per 500k is 500,000 / steps/s unless the row timed 500,000 steps itself "
                "(then equal to wall s).", ""]
    out += ["PyTorch reference:", ""]
    if not torch:
        return out + ["not measured", ""]
    body = [[t["device"], t.get("envs"), t["env_steps"], t.get("wall_s"), t["steps_per_s"],
             500000 / t["steps_per_s"]] for t in sorted(torch, key=lambda t: t["device"])]
    out += table(["device", "envs", "env steps", "wall s", "steps/s", "s per 500k (est.)"], body)
    return out + [""]


def learned_gflops(r):
    g = r.get("gflops")
    if g is None and r.get("model") == "learned":
        f = r.get("flops_per_sample_step") or LINEAR_FLOPS_DEFAULT
        g = f * (r.get("E") or 1) * r["K"] * r["H"] / (r["ms_per_plan"] * 1e-3) / 1e9
    return g


def section_targets(rows, problems, peaks, run_threads, run_clock):
    """Issue 9's speed targets, one column per CPU kernel path, each cell the measured ratio
    (met / MISSED against its bar)."""
    out = ["## Targets per CPU kernel path (issue 9)", ""]
    mpc, tmpc = split(rows, "mpc", ("model", "device", "K", "H", "ms_per_plan"), [])
    train, ttrain = split(rows, "train", ("device", "batch", "steps_per_s"), [])
    a2c, ta2c = split(rows, "a2c", ("device", "env_steps", "steps_per_s"), [])
    paths = [p for p in PATHS if any(r.get("kernels") == p for r in mpc + train + a2c)]
    if not paths:
        return out + ["not measured", ""]
    one = lambda r: (r["device"] == "cpu" and r["clock"] == run_clock and
                     (not run_threads or (r.get("threads") or 1) == run_threads))

    def cell(v, bar, unit="x"):
        if v is None:
            return "not measured"
        return f"{v:.2f}{unit} {'met' if v >= bar else 'MISSED'}"

    def plan_ratio(p, model, K, H):
        ours = [r for r in mpc if one(r) and r.get("kernels") == p and r["model"] == model
                and r["K"] == K and r["H"] == H and (r.get("E") or 1) == 1]
        tv = "folded" if model == "learned" else "oracle"
        th = [t for t in tmpc if t["device"] == "cpu" and t.get("variant") == tv and t["K"] == K
              and t["H"] == H]
        if not ours or not th:
            return None, None
        r = ours[0]
        pk = peak_of(peaks, r)
        g = learned_gflops(r)
        return th[0]["ms_per_plan"] / r["ms_per_plan"], (100 * g / pk if g and pk else None)

    def train_ratio(p, B):
        ours = [r for r in train if one(r) and r.get("kernels") == p and r["batch"] == B]
        th = [t for t in ttrain if t["device"] == "cpu" and t["batch"] == B]
        if not ours or not th:
            return None
        return ours[0]["steps_per_s"] / max(t["steps_per_s"] for t in th)

    def a2c_ratio(p):
        ours = [r for r in a2c if one(r) and r.get("kernels") == p and (r.get("ensemble") or 1) == 1]
        th = [t for t in ta2c if t["device"] == "cpu"]
        if not ours or not th:
            return None
        r = max(ours, key=lambda r: r["env_steps"])  # the longest run (500k when measured)
        return r["steps_per_s"] / max(t["steps_per_s"] for t in th)

    body = []
    for K in (1024, 4096, 16384):
        cells = []
        for p in paths:
            rr, pc = plan_ratio(p, "learned", K, 15)
            c = cell(rr, 3.0)
            if K == 1024:
                c += f"; {pc:.0f}% of peak {'met' if pc >= 75 else 'MISSED'}" if pc else ""
            cells.append(c)
        bar = ">= 3x PyTorch folded" + (", >= 75% of the path's FMA peak" if K == 1024 else "")
        body.append([f"learned plan K={K}, H=15", bar] + cells)
    body.append(["oracle plan K=1024, H=15", ">= 10x PyTorch"] +
                [cell(plan_ratio(p, "oracle", 1024, 15)[0], 10.0) for p in paths])
    body.append(["training step, batch 128", ">= 12x PyTorch"] +
                [cell(train_ratio(p, 128), 12.0) for p in paths])
    body.append(["training step, batch 1024", ">= 4x PyTorch"] +
                [cell(train_ratio(p, 1024), 4.0) for p in paths])
    body.append(["A2C, CartPole-v1 (steps/s)", ">= 10x PyTorch's A2C"] +
                [cell(a2c_ratio(p), 10.0) for p in paths])
    two = [r for r in mpc if r["device"] == "cpu" and (r.get("threads") or 1) == 2 and
           r["model"] == "learned" and r["K"] >= 1024]
    cells = []
    for p in paths:
        sp = []
        for r2 in two:
            if r2.get("kernels") != p:
                continue
            r1 = [r for r in mpc if r["device"] == "cpu" and (r.get("threads") or 1) == 1 and
                  r["clock"] == r2["clock"] and r.get("kernels") == p and
                  r["model"] == "learned" and r["K"] == r2["K"] and r["H"] == r2["H"]]
            if r1:
                sp.append((r2["K"], r1[0]["ms_per_plan"] / r2["ms_per_plan"]))
        cells.append(", ".join(f"K={K}: {cell(v, 1.7)}" for K, v in sorted(sp)) or "not measured")
    body.append(["2 threads vs 1, learned plan H=15", ">= 1.7x at K >= 1024"] + cells)
    out += table(["target", "bar"] + paths, body)
    out += ["", "Ratios are measured in this run, side by side with bench/torch_reference.py "
            "(same threads); '% of peak' is the learned plan's GFLOP/s (2*in*out per Linear, "
            "zeros skipped or not) over the path's own bench_peak.", ""]
    return out


def section_threads(rows):
    """Plans with 2 threads next to the same plans with 1 (run_all.sh adds the 2-thread rows)."""
    mpc = [r for r in rows if r["area"] == "mpc" and r.get("impl") != "torch" and
           r.get("device") == "cpu" and r.get("ms_per_plan")]
    two = [r for r in mpc if (r.get("threads") or 1) == 2]
    if not two:
        return []
    out = ["## Planning with two threads (OpenMP over row blocks; wall clock)", ""]
    body = []
    for r2 in sorted(two, key=lambda r: (r["model"], path_key(r), r["K"], r["H"])):
        r1 = [r for r in mpc if (r.get("threads") or 1) == 1 and r["model"] == r2["model"] and
              r["clock"] == r2["clock"] and r.get("kernels") == r2.get("kernels") and
              r["K"] == r2["K"] and r["H"] == r2["H"]]
        t1 = r1[0]["ms_per_plan"] if r1 else None
        body.append([r2["model"], r2.get("kernels") or "-", r2["K"], r2["H"], t1,
                     r2["ms_per_plan"], fmt_ratio(ratio(t1, r2["ms_per_plan"]))])
    out += table(["model", "kernels", "K", "H", "1 thread ms", "2 threads ms", "speed-up"], body)
    return out + [""]


def section_ensemble(rows, problems, peaks):
    out = ["## Dynamics ensemble: one batched training step of M members vs one member's step", ""]
    ours, _ = split(rows, "ensemble", ("name", "device", "batch", "steps_per_s"), problems)
    if not ours:
        return out + ["not measured", ""]
    body = []
    order = {"single": 0}
    for r in sorted(ours, key=lambda r: (r["device"], order.get(r["name"], 1), r.get("members") or 1,
                                         str(r["name"]))):
        us = r.get("us_per_step") or 1e6 / r["steps_per_s"]
        g = r.get("gflops")
        pct = None
        if not r.get("kernels") and str(r.get("variant", "")).startswith("cpu_"):
            r = dict(r, kernels=r["variant"][4:])  # bench_ensemble names the path in its variant
        pk = peak_of(peaks, r)
        if g is not None and pk:
            pct = f"{100 * g / (pk * (r.get('threads') or 1)):.0f}%"
        body.append([r["name"], r.get("variant", "-"), r["device"], r.get("members", 1),
                     "yes" if r.get("probabilistic") else "no", r["batch"], us, g, pct,
                     fmt_ratio(r.get("time_vs_single")), fmt_ratio(r.get("time_vs_ens1")),
                     fmt_ratio(r.get("flops_vs_single"))])
    out += table(["case", "variant", "device", "members", "probabilistic", "batch per member",
                  "us/step", "GFLOP/s", "% peak", "time vs single", "time vs ens1",
                  "FLOPs vs single"], body)
    out += ["", "Cases measured round-robin in one run; ratios are medians over rounds of the "
            "step-time ratio within a round. 'single' is the seed's model (its own fused CPU "
            "kernels); the ensemble's CPU ops call the public nn.h op per member. Issue 11 asks "
            "<= 2.5x for 5 members at batch 128 vs one member's step.", ""]
    return out


def section_python(rows, problems):
    out = ["## Python package (python/mbrl over ctypes) against the C library", ""]
    ours, _ = split(rows, "python", ("name",), problems)
    if not ours:
        return out + ["not measured", ""]
    out += ["Measured side by side in one process by bench/bench_python.py (medians of "
            "interleaved rounds), against the bare ctypes call of the same C function.", ""]
    calls = [r for r in ours if r["name"] == "ctypes_call"]
    if calls:
        out += ["Binding floor (per call):", ""]
        out += table(["call", "us/call"], [[r.get("what"), r.get("us_per_call")] for r in calls])
        out.append("")
    plans = [r for r in ours if r["name"] == "plan_overhead"]
    if plans:
        out += ["Planner.plan(obs) against the C plan (one environment):", ""]
        body = [[r.get("model"), r.get("K"), r.get("H"), r.get("us_python"), r.get("us_c_bare_call"),
                 fmt_ratio(ratio(r.get("us_python"), r.get("us_c_bare_call"))), r.get("us_overhead"),
                 r.get("us_overhead_after_bare_call"), r.get("target_us"),
                 "yes" if r.get("us_overhead") is not None and r["us_overhead"] <= r.get("target_us", 20) else "NO"]
                for r in plans]
        out += table(["model", "K", "H", "Planner.plan us", "bare C call us", "Python / C",
                      "overhead us", "overhead us, alternated", "target us", "met"], body)
        out += ["", "Medians of single calls, Planner.plan and the bare ctypes call of "
                "mbrl_planner_plan alternated call by call for the first three columns. overhead = "
                "the time Planner.plan spends outside its own C call (timed around that call inside "
                "the same plan) plus one no-argument ctypes call: plans made back to back, and the "
                "plans of the alternated run, where other code ran between a plan and the previous "
                "C call's sweep of the caches (what a control loop with an env step in between "
                "sees). The Python / C ratio of the large plans also holds the cache misses the "
                "Python code causes in the next C call.", ""]
    envs = [r for r in ours if r["name"] == "env_step"]
    if envs:
        out += ["make_env stepped from Python:", ""]
        body = [[r.get("env"), r.get("batch"), r.get("mode"), r.get("steps_per_s"),
                 r.get("c_bare_steps_per_s"), fmt_ratio(ratio(r.get("steps_per_s"), r.get("c_bare_steps_per_s"))),
                 r.get("target_steps_per_s"),
                 "yes" if (r.get("steps_per_s") or 0) >= (r.get("target_steps_per_s") or 0) else "NO"]
                for r in envs]
        out += table(["env", "batch", "Python call", "steps/s", "bare C steps/s", "Python / C",
                      "target steps/s", "met"], body)
        out.append("")
    loops = [r for r in ours if r["name"] == "mpc_loop"]
    if loops:
        out += ["The whole MPC loop: Python (Planner.plan + the real gymnasium Pendulum-v1's step) "
                "against mbrl_mpc (C plan + C env), environment steps per second:", ""]
        body = [[r.get("model"), r.get("K"), r.get("H"), r.get("device"), r.get("steps_per_s"),
                 r.get("plan_ms"), r.get("mbrl_mpc_steps_per_s"), r.get("mbrl_mpc_plan_ms"),
                 fmt_ratio(ratio(r.get("steps_per_s"), r.get("mbrl_mpc_steps_per_s"))),
                 r.get("mbrl_mpc_process_steps_per_s")] for r in loops]
        out += table(["model", "K", "H", "device", "Python loop steps/s", "Python ms/plan",
                      "mbrl_mpc steps/s", "mbrl_mpc ms/plan", "Python / mbrl_mpc",
                      "mbrl_mpc process steps/s"], body)
        out += ["", "Python loop: wall time of Planner.plan + gymnasium's env.step per step. "
                "mbrl_mpc: 1000 / its mean planning ms per action (its C env step takes "
                "nanoseconds); its process rate divides by the process's wall time (start-up, "
                "CUDA probing and model load included).", ""]
    return out


def estimate_peak(machines):
    """FP32 FMA peak per core from the torch reference's machine info: MHz x 32 flop/cycle with
    AVX2+FMA (two 8-lane FMA pipes); None when unknown."""
    for _, _, m, _, _ in machines:
        mhz, simd = m.get("cpu_mhz"), m.get("simd") or []
        if mhz and "fma" in simd and "avx2" in simd:
            return mhz * 1e-3 * 32, f"{mhz:.0f} MHz x 32 FP32 flop/cycle (2 FMA pipes x 8 lanes)"
    return None, None


def main():
    ap = argparse.ArgumentParser(description="Write bench/RESULTS.md from a folder of bench JSON.")
    ap.add_argument("folder", help="bench/results/<date>-<host>/ (as written by run_all.sh)")
    ap.add_argument("--out", default=None, help="output file (default: bench/RESULTS.md)")
    ap.add_argument("--peak-gflops-per-core", type=float, default=None,
                    help="FP32 peak per core for the '% peak' column (default: estimated from "
                         "/proc/cpuinfo MHz and SIMD flags)")
    args = ap.parse_args()
    if not os.path.isdir(args.folder):
        print(f"make_results.py: error: {args.folder} is not a folder; pass the results folder "
              f"that run_all.sh wrote (bench/results/<date>-<host>/)", file=sys.stderr)
        return 2
    out_path = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    rows, meta, machines, problems = load(args.folder)
    dates = sorted({r["date"] for r in rows if isinstance(r.get("date"), str)})
    peaks, peak_note = {}, None
    measured = [r for r in rows if r.get("area") == "peak" and r.get("gflops")]
    for r in measured:
        peaks.setdefault(r.get("kernels") or "avx512", float(r["gflops"]))
    if measured:
        peak_note = ("measured by bench_peak: independent multiply-add chains of the path's "
                     "width on one core, median of runs: " +
                     ", ".join(f"{p} {peaks[p]:.0f} GFLOP/s ({next(r.get('isa', '?') for r in measured if (r.get('kernels') or 'avx512') == p)})"
                               for p in PATHS if p in peaks))
    if args.peak_gflops_per_core is not None:
        peaks = {p: args.peak_gflops_per_core for p in PATHS}
        peak_note = f"{args.peak_gflops_per_core:.0f} GFLOP/s, given on the command line"
    if not peaks:
        est, note = estimate_peak(machines)
        if est:
            peaks, peak_note = {p: est for p in PATHS}, f"{est:.0f} GFLOP/s ({note})"
    run_threads = meta.get("threads")
    run_clock = meta.get("clock") or next((r["clock"] for r in rows if r.get("impl") == "torch"),
                                          "wall")

    lines = ["# Benchmark results", "",
             "Written by bench/make_results.py from " + os.path.relpath(args.folder) + " "
             "(re-run `./bench/run_all.sh` to refresh; schema in bench/README.md).", "",
             "## Machine and run", ""]
    m = next((mm for _, impl, mm, _, _ in machines if impl == "torch"), None) or \
        (machines[0][2] if machines else {})
    info = [("date", meta.get("date") or (min(dates) if dates else None)),
            ("host", meta.get("host") or m.get("host")),
            ("cpu", m.get("cpu")), ("cores", m.get("cores")), ("cpu MHz", m.get("cpu_mhz")),
            ("SIMD", ", ".join(m.get("simd") or []) or None),
            ("gpu", m.get("gpu") or meta.get("gpu") or "none"),
            ("threads", meta.get("threads") or (machines[0][3] if machines else None)),
            ("torch", m.get("torch")), ("git", meta.get("git")),
            ("quick mode", meta.get("quick")),
            ("clock", "process CPU time (run_all.sh --cpu-time: a loaded, shared machine)"
             if run_clock == "cpu" else "wall clock"),
            ("CPU kernel paths measured", ", ".join(sorted({r["kernels"] for r in rows if r.get("kernels")},
                                                          key=lambda k: PATHS.index(k) if k in PATHS else 9)) or None),
            ("FP32 peak per core", peak_note)]
    for k, v in info:
        if v is not None:
            lines.append(f"- {k}: {v}")
    if meta.get("note"):
        lines.append(f"- note: {meta['note']}")
    lines += ["", "Commands:", "", "```"]
    cmds = meta.get("commands") or [c for _, _, _, _, c in machines if c]
    lines += cmds or ["(not recorded)"]
    lines += ["```", ""]
    lines += section_targets(rows, problems, peaks, run_threads, run_clock)
    lines += section_env(rows, problems)
    lines += section_train(rows, problems)
    lines += section_mpc(rows, problems, peaks, run_threads, run_clock)
    lines += section_threads(rows)
    lines += section_a2c(rows, problems)
    lines += section_ensemble(rows, problems, peaks)
    lines += section_python(rows, problems)
    failed = meta.get("failed") or []
    if problems or failed:
        lines += ["## Problems in this run", ""]
        lines += [f"- {p}" for p in failed + problems]
        lines.append("")
    for p in problems:
        print(f"make_results.py: warning: {p}", file=sys.stderr)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out_path)
    print(f"make_results.py: wrote {out_path} ({len(rows)} result rows from {args.folder})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
