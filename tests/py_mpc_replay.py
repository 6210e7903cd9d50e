#!/usr/bin/python3
"""py_mpc_replay.py - mbrl_mpc --record files replayed in the real Gymnasium (scripts/venv).

For every registered env: BIN/mbrl_mpc --env ID --oracle --record FILE (2 episodes, small K
and H, the shaped cost where the reward is sparse) writes the actions it took with the
record's env_id and seed attributes. The replay reads only those: gymnasium.make(env_id),
episode i reset with env.reset(seed=seed + i), then the recorded actions in order (a discrete
env's action index as an int). Each step's observation, reward (float32 of Gymnasium's),
terminated flag and the episode returns of mbrl_mpc's JSON must be Gymnasium's: exact where
numpy's float64 sin/cos are libm's (gymvenv.py makes them so on AVX-512 CPUs); otherwise
within 1e-4 until the chaotic trajectories part (Acrobot), which is then reported, not failed.
Exit 0 pass, 1 fail, 77 skip (no venv, or mbrl_mpc not built).
Usage: /usr/bin/python3 tests/py_mpc_replay.py --bin BUILD/bin
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gymvenv  # noqa: E402

gymvenv.ensure(__file__)

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import gymnasium as gym  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

gym.logger.min_level = 40

# env id -> (extra mbrl_mpc arguments, steps per episode)
CASES = {
    "Pendulum-v1": ([], 60),
    "CartPole-v1": ([], 80),
    "MountainCarContinuous-v0": (["--cost", "shaped"], 120),
    "MountainCar-v0": (["--cost", "shaped"], 120),
    "Acrobot-v1": (["--cost", "shaped"], 100),
}
SEED = 11
EPISODES = 2


def replay(path, returns, exact):
    """Replay record `path` in Gymnasium; a list of problems (empty: all equal)."""
    problems = []
    with h5py.File(path, "r") as f:
        env_id = f.attrs["env_id"]
        env_id = env_id.decode() if isinstance(env_id, bytes) else str(env_id)
        seed = int(f.attrs["seed"])
        obs, act, rew = f["observations"][()], f["actions"][()], f["rewards"][()]
        nxt, term, ep = f["next_observations"][()], f["terminals"][()], f["episode"][()]
    env = gym.make(env_id)
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    for i in range(EPISODES):
        rows = np.flatnonzero(ep == i)
        o, _ = env.reset(seed=seed + i)
        if not np.array_equal(o.astype(np.float32), obs[rows[0]]):
            problems.append(f"{env_id} episode {i}: reset(seed={seed + i}) observation {o} != "
                            f"recorded {obs[rows[0]]}")
            continue
        ret = 0.0
        for t, r in enumerate(rows):
            a = int(act[r][0]) if discrete else act[r].astype(np.float32)
            if discrete and float(a) != float(act[r][0]):
                problems.append(f"{env_id}: recorded action {act[r][0]} is not an index")
            o, rg, te, tr, _ = env.step(a)
            ret += rg
            o32 = o.astype(np.float32)
            same = (np.array_equal(o32, nxt[r]) and np.float32(rg) == rew[r]
                    and bool(te) == bool(term[r]))
            if not same:
                close = (np.allclose(o32, nxt[r], atol=1e-4, rtol=1e-4)
                         and abs(np.float32(rg) - rew[r]) <= 1e-4 * (1 + abs(rg))
                         and bool(te) == bool(term[r]))
                if exact or not close:
                    problems.append(f"{env_id} episode {i} step {t}: gymnasium obs {o32} reward "
                                    f"{rg} terminated {te}; recorded {nxt[r]} {rew[r]} {term[r]}")
                else:
                    print(f"  {env_id} episode {i}: trajectories part at step {t} (numpy's "
                          "sin/cos are not libm's here); replay stopped there")
                break
            if (te or tr) and t + 1 != len(rows):
                problems.append(f"{env_id} episode {i}: gymnasium ended at step {t}, the record "
                                f"has {len(rows)} steps")
                break
        else:
            if abs(ret - returns[i]) > 1e-3 * (1 + abs(ret)):
                problems.append(f"{env_id} episode {i}: gymnasium return {ret}, mbrl_mpc "
                                f"{returns[i]}")
            else:
                print(f"  {env_id} episode {i} (reset seed {seed + i}): {len(rows)} steps, "
                      f"return {ret:.3f} == mbrl_mpc's")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    exe = os.path.join(args.bin, "mbrl_mpc")
    if not os.access(exe, os.X_OK):
        print(f"py_mpc_replay: skipped: {exe} not built")
        return 77
    exact = gymvenv.libm_trig()
    problems = []
    with tempfile.TemporaryDirectory() as d:
        for env_id, (extra, steps) in CASES.items():
            rec = os.path.join(d, env_id + ".h5")
            cmd = [exe, "--env", env_id, "--oracle", "--episodes", str(EPISODES), "--seed",
                   str(SEED), "--samples", "128", "--horizon", "10", "--max-steps", str(steps),
                   "--device", "cpu", "--json", "--record", rec] + extra
            p = subprocess.run(cmd, capture_output=True, text=True,
                               env=dict(os.environ, OMP_NUM_THREADS="1"))
            if p.returncode != 0:
                problems.append(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr[-1000:]}")
                continue
            problems += replay(rec, json.loads(p.stdout)["returns"], exact)
    for m in problems:
        print("FAIL:", m)
    print("py_mpc_replay:", "ok" if not problems else f"{len(problems)} problems",
          "(exact: numpy's sin/cos are libm's)" if exact else "(numpy's sin/cos are not libm's)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
