#!/usr/bin/env python3
"""bench/bench_python.py - what the Python package (python/mbrl, ctypes) costs over the C library.

    .venv/bin/python bench/bench_python.py [--threads N] [--quick] [--build DIR] [--rounds R]

Prints ONE JSON object (bench/README.md's schema, area "python"). Every figure is measured side by
side in this process, interleaved round by round (medians over R rounds), because the machine
is shared:
  - call:   a ctypes call of the library with no arguments (mbrl_cuda_compiled), and of
            mbrl_env_batch_step for one env with 7 prebuilt arguments: the binding's floor;
  - plan:   Planner.plan(obs) against the bare ctypes call of mbrl_planner_plan with prebuilt
            arguments (the C plan plus the floor), alternated call by call (medians of single
            calls): oracle and learned model at K x H = 1024 x 15, and a tiny 16 x 1 plan whose C
            time is ~1 us, where the difference is the overhead and not noise; overhead =
            Python - bare + the no-argument call's cost;
  - env:    make_env(num_envs=4096) stepped from Python (env.step(env.actions) and env.step(a
            new float32 array)) against the bare ctypes call of mbrl_env_batch_step (the C rate);
  - loop:   the whole Python MPC loop on the REAL gymnasium Pendulum-v1 (Planner.plan +
            gymnasium step, K=1024, H=15, CPU; wall time) against `mbrl_mpc` doing the same
            episodes (subprocess, same model file, same seeds): its loop rate from its own mean
            planning time per action (its C env step takes nanoseconds), and its process rate
            (episode steps over the process's wall time, start-up and model load included).
The library is $MBRL_LIBRARY or <build>/lib/libmbrl.so; the programs come from <build>/bin.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def per_call(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=None)
    a = ap.parse_args()
    if a.threads < 1:
        print("bench_python.py: error: --threads must be >= 1", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    os.environ.setdefault("MBRL_LIBRARY", os.path.join(a.build, "lib", "libmbrl.so"))
    sys.path.insert(0, os.path.join(ROOT, "python"))
    try:
        import numpy as np
        import gymnasium
        import mbrl
        from mbrl import _lib
        from mbrl._arrays import addr
        L = _lib.lib()
    except ImportError as e:
        print(f"bench_python.py: error: {e} (run with the project venv: ./scripts/venv; build "
              f"the library: ./scripts/build build)", file=sys.stderr)
        return 1
    rounds = a.rounds or (3 if a.quick else 7)
    scale = 0.3 if a.quick else 1.0
    rows = []
    vp = ctypes.c_void_p

    # ---- the binding's floor
    noop = _lib.raw_function("mbrl_cuda_compiled", ctypes.c_int)
    env1 = mbrl.make_env("Pendulum-v1", 1, seed=0)
    env1.reset()
    step1 = env1._step_fn
    args1 = env1._step_args
    t_noop, t_step1, t_step1_py = [], [], []
    for _ in range(rounds):
        n = int(200000 * scale)
        t_noop.append(per_call(noop, n))
        t_step1.append(per_call(lambda: step1(*args1), n))
        t_step1_py.append(per_call(lambda: env1.step(env1.actions), n // 2))
    noop_us = median(t_noop) * 1e6
    rows.append({"bench": "python", "name": "ctypes_call", "what": "no arguments (mbrl_cuda_compiled)",
                 "us_per_call": noop_us, "runs": rounds})
    rows.append({"bench": "python", "name": "ctypes_call",
                 "what": "mbrl_env_batch_step, 1 env, 7 prebuilt arguments",
                 "us_per_call": median(t_step1) * 1e6, "runs": rounds})
    rows.append({"bench": "python", "name": "ctypes_call", "what": "VecEnv.step(env.actions), 1 env",
                 "us_per_call": median(t_step1_py) * 1e6, "runs": rounds})

    # ---- a learned model (trained here) for plan and loop
    tmp = tempfile.mkdtemp(prefix="bench_python_")
    ds = mbrl.collect("Pendulum-v1", episodes=20, seed=999)
    model = mbrl.DynamicsModel.train(ds, steps=2000 if a.quick else 5000, seed=0, device="cpu")
    model_path = os.path.join(tmp, "model.h5")
    model.save(model_path)

    # ---- Planner.plan vs the bare C plan
    obs = np.array([np.cos(2.0), np.sin(2.0), 0.3], np.float32)
    for which, K, H in (("oracle", 1024, 15), ("learned", 1024, 15), ("oracle", 16, 1)):
        p = mbrl.Planner("oracle" if which == "oracle" else model, "Pendulum-v1", samples=K,
                         horizon=H, device="cpu")
        p.reset(seed=0)
        seeds = np.array([12345], np.uint64)  # the bare call's plan seed, set per call below
        res = np.zeros(1, p._results.dtype)
        raw = _lib.raw_function("mbrl_planner_plan", ctypes.c_int)
        rargs = (p._p, vp(addr(obs)), vp(addr(seeds)), ctypes.c_int(1), vp(addr(res)))
        n = max(50, int((300 if K > 16 else 20000) * scale)) * rounds
        inner = []                       # the C call inside Planner.plan, timed around it
        fn = p._plan_fn

        def timed(*args, fn=fn, inner=inner):
            t0 = time.perf_counter()
            r = fn(*args)
            inner.append(time.perf_counter() - t0)
            return r

        p._plan_fn = timed
        for _ in range(20):
            p.plan(obs)
            raw(*rargs)
        t_py, t_raw, outside = [], [], []
        pc = time.perf_counter
        for i in range(n):              # alternate call by call (each goes first half the time)
            seeds[0] = mbrl.planner_seed(7, 0, i)   # fresh draws as the planner's (not timed)
            if i & 1:
                t0 = pc()
                p.plan(obs)
                t1 = pc()
                raw(*rargs)
                t2 = pc()
                t_py.append(t1 - t0)
                t_raw.append(t2 - t1)
            else:
                t0 = pc()
                raw(*rargs)
                t1 = pc()
                p.plan(obs)
                t2 = pc()
                t_raw.append(t1 - t0)
                t_py.append(t2 - t1)
            outside.append(t_py[-1] - inner[-1])
        py_us, raw_us = median(t_py) * 1e6, median(t_raw) * 1e6
        outside_alt = median(outside) * 1e6
        outside = []                     # plans back to back: the steady per-call cost
        for _ in range(n):
            t0 = pc()
            p.plan(obs)
            outside.append(pc() - t0 - inner[-1])
        rows.append({"bench": "python", "name": "plan_overhead", "model": which, "K": K, "H": H,
                     "device": "cpu", "us_python": py_us, "us_c_bare_call": raw_us,
                     "us_overhead": median(outside) * 1e6 + noop_us,
                     "us_overhead_after_bare_call": outside_alt + noop_us,
                     "us_c_inside_plan": median(inner[-n:]) * 1e6, "target_us": 20, "calls": n})
        p.close()

    # ---- make_env(num_envs=4096) stepped from Python
    B = 4096
    env = mbrl.make_env("Pendulum-v1", B, seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    env.actions[:] = rng.uniform(-2, 2, (B, 1))
    fresh = [rng.uniform(-2, 2, (B, 1)).astype(np.float32) for _ in range(4)]
    n = max(50, int(1000 * scale))
    t_buf, t_new, t_raw = [], [], []
    k = [0]

    def step_new():
        k[0] += 1
        env.step(fresh[k[0] & 3])

    for _ in range(rounds):
        t_raw.append(per_call(lambda: env._step_fn(*env._step_args), n))
        t_buf.append(per_call(lambda: env.step(env.actions), n))
        t_new.append(per_call(step_new, n))
    for mode, t in (("env.step(env.actions)", t_buf), ("env.step(new float32 array)", t_new)):
        rows.append({"bench": "python", "name": "env_step", "env": "Pendulum-v1", "batch": B,
                     "mode": mode, "device": "cpu", "steps_per_s": B / median(t),
                     "c_bare_steps_per_s": B / median(t_raw), "target_steps_per_s": 1e7,
                     "runs": rounds})

    # ---- the whole MPC loop on the real gymnasium Pendulum-v1 vs mbrl_mpc
    sys.path.insert(0, os.path.join(ROOT, "python", "examples"))
    from mpc_gymnasium import run_episodes
    mpc = os.path.join(a.build, "bin", "mbrl_mpc")
    episodes = 1 if a.quick else 2
    loop_rounds = max(2, rounds // 2)
    for which in ("oracle", "learned"):
        t_py, plan_py, t_c, t_cwall, plan_c = [], [], [], [], []
        planner = mbrl.Planner("oracle" if which == "oracle" else model_path, "Pendulum-v1",
                               samples=1024, horizon=15, device="cpu")
        margs = ["--oracle"] if which == "oracle" else ["--model", model_path]
        for _ in range(loop_rounds):
            t0 = time.perf_counter()
            rets, acts, plan_s = run_episodes(planner, episodes, 0)
            steps = sum(len(x) for x in acts)
            t_py.append(steps / (time.perf_counter() - t0))
            plan_py.append(1e3 * plan_s / steps)
            t0 = time.perf_counter()
            out = subprocess.run([mpc, *margs, "--episodes", str(episodes), "--seed", "0",
                                  "--device", "cpu", "--json"], capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if out.returncode != 0:
                print(f"bench_python.py: error: mbrl_mpc failed: {out.stderr}", file=sys.stderr)
                return 1
            js = json.loads(out.stdout)
            t_cwall.append(js["env_steps"] / wall)
            plan_c.append(js["plan_ms_mean"])
            t_c.append(1e3 / js["plan_ms_mean"])
        rows.append({"bench": "python", "name": "mpc_loop", "model": which, "K": 1024, "H": 15,
                     "device": "cpu", "env": "gymnasium Pendulum-v1 (Python loop)",
                     "steps_per_s": median(t_py), "plan_ms": median(plan_py),
                     "mbrl_mpc_steps_per_s": median(t_c), "mbrl_mpc_plan_ms": median(plan_c),
                     "mbrl_mpc_process_steps_per_s": median(t_cwall), "episodes": episodes,
                     "runs": loop_rounds})
        planner.close()

    print(json.dumps({
        "bench": "python", "impl": "mbrl", "version": mbrl.__version__,
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "host": socket.gethostname(),
                    "gpu": mbrl.cuda_available() and L.mbrl_cuda_device_name().decode() or None,
                    "python": platform.python_version(), "numpy": np.__version__,
                    "gymnasium": gymnasium.__version__,
                    "cpu_kernels": os.environ.get("MBRL_CPU_KERNELS", "auto (best the CPU has)")},
        "threads": a.threads, "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([os.path.relpath(sys.executable, ROOT), "bench/bench_python.py"] + sys.argv[1:]),
        "results": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
