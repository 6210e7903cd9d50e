#!/usr/bin/python3
"""py_gym_reference.py - every transition mbrl_collect writes equals the real Gymnasium's step.

Runs `BIN/mbrl_collect` for each registered env (Pendulum-v1, CartPole-v1 (also with an
episode cap), MountainCarContinuous-v0, MountainCar-v0, Acrobot-v1, and an --append
continuation), reads the HDF5 file with h5py (layout in ../shared/DESIGN.md, "Files") and
replays it in gymnasium.make(env_id) (scripts/venv's pinned Gymnasium, see gymvenv.py):
episode 0 from env.reset(seed=seed), episode i from the i-th env.reset() after it (the
standard collection loop, also across --append), every row's action stepped in Gymnasium:
  observations == Gymnasium's observation before the step and next_observations == after
  it, rewards == float32(Gymnasium's reward), terminals == terminated, bit for bit (within
  1e-5 where numpy's float64 sin/cos are not libm's, see gymvenv.py); timeouts exactly at
  the time limit or the --max-steps cap and never with a terminal; episodes back to back;
  actions in the action space; /stats equal numpy's recomputation (population mean/std;
  delta = next_obs - obs) within rtol 1e-5 + atol 1e-5 * rms of the column; root attrs
  format, env_id, episodes.
Exit 0 pass, 1 fail, 77 skip (no venv, or the mbrl_collect binary missing).
Usage: /usr/bin/python3 tests/py_gym_reference.py --bin BUILD/bin
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gymvenv  # noqa: E402

gymvenv.ensure(__file__)

import argparse  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import gymnasium as gym  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

TOL = 1e-5
EXACT = True  # set in main(): numpy's float64 sin/cos are libm's


# ---------------------------------------------------------------- checks

class Checker:
    def __init__(self):
        self.failures = 0

    def fail(self, msg):
        self.failures += 1
        if self.failures <= 20:
            print("FAIL:", msg)

    def close(self, what, got, want, atol, rtol=0.0):
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        err = np.abs(got - want)
        lim = atol + rtol * np.abs(want)
        ratio = float(np.max(err / lim)) if err.size else 0.0
        if not np.all(err <= lim):
            self.fail(f"{what}: got {got}, want {want} (worst ratio {ratio:.3g})")
        return ratio


    def same(self, what, got, want):
        """float32 values bit for bit (within TOL when numpy's trig is not libm's)."""
        got = np.asarray(got, dtype=np.float32)
        want = np.asarray(want, dtype=np.float32)
        if EXACT:
            ok = got.shape == want.shape and np.array_equal(got.view(np.uint32), want.view(np.uint32))
        else:
            ok = got.shape == want.shape and np.allclose(got, want, rtol=TOL, atol=TOL)
        if not ok:
            self.fail(f"{what}: got {got}, want Gymnasium's {want}")


def action_for_gym(space, a):
    """The stored float action as Gymnasium takes it, or None if outside the space."""
    if isinstance(space, gym.spaces.Discrete):
        k = int(a[0])
        return k if a.shape == (1,) and float(k) == float(a[0]) and 0 <= k < space.n else None
    a = a.astype(np.float32)
    return a if a.shape == space.shape and space.contains(a) else None


def check_file(path, env_id, max_steps, episodes, seed, ck):
    env = gym.make(env_id)
    limit = min(max_steps, env.spec.max_episode_steps)
    starts = 0
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
        obs = f["observations"][()]
        act = f["actions"][()]
        nobs = f["next_observations"][()]
        rew = f["rewards"][()]
        term = f["terminals"][()].astype(bool)
        tout = f["timeouts"][()].astype(bool)
        stats = {k: f["stats"][k][()] for k in f["stats"]}
    def attr_str(v):
        return v.decode() if isinstance(v, bytes) else str(v)
    if attr_str(attrs.get("format", "")) != "mbrl.dataset":
        ck.fail(f"{path}: root attr format = {attrs.get('format')!r}, want 'mbrl.dataset'")
    if attr_str(attrs.get("env_id", "")) != env_id:
        ck.fail(f"{path}: root attr env_id = {attrs.get('env_id')!r}, want {env_id!r}")
    n = obs.shape[0]
    O = env.observation_space.shape[0]
    for name, arr, shape, dt in (("observations", obs, (n, O), np.float32),
                                 ("actions", act, (n, 1), np.float32),
                                 ("next_observations", nobs, (n, O), np.float32),
                                 ("rewards", rew, (n,), np.float32)):
        if arr.shape != shape or arr.dtype != dt:
            ck.fail(f"{name}: shape {arr.shape} dtype {arr.dtype}, want {shape} {np.dtype(dt)}")
            return 0.0
    if term.shape != (n,) or tout.shape != (n,):
        ck.fail(f"terminals/timeouts shapes {term.shape} {tout.shape}, want ({n},)")
    if n == 0:
        ck.fail(f"{path}: no transitions")
        return 0.0

    worst = 0.0
    ep_len = 0
    ends = 0
    gobs = None
    for i in range(n):
        if ep_len == 0:  # an episode starts: Gymnasium's next reset
            gobs, _ = env.reset(seed=seed) if starts == 0 else env.reset()
            ck.same(f"{env_id} seed {seed} episode {starts} (row {i}) first observation", obs[i],
                    gobs)
            starts += 1
        else:
            ck.same(f"{env_id} row {i} observation", obs[i], gobs)
        ep_len += 1
        a = action_for_gym(env.action_space, act[i])
        if a is None:
            ck.fail(f"{env_id} row {i}: action {act[i]} outside the action space "
                    f"{env.action_space}")
            return worst
        gobs, grew, gterm, gtrunc, _ = env.step(a)
        ck.same(f"{env_id} row {i} next_observations", nobs[i], gobs)
        ck.same(f"{env_id} row {i} reward", rew[i], np.float32(grew))
        if bool(term[i]) != bool(gterm):
            ck.fail(f"{env_id} row {i}: terminal {bool(term[i])}, Gymnasium says {gterm}")
        want_timeout = (ep_len >= limit) and not bool(gterm)
        if bool(tout[i]) != want_timeout:
            ck.fail(f"{env_id} row {i}: timeout {bool(tout[i])} at episode step {ep_len}, "
                    f"want {want_timeout} (limit {limit}, Gymnasium truncated {gtrunc})")
        if term[i] and tout[i]:
            ck.fail(f"{env_id} row {i}: terminal and timeout both set")
        done = bool(term[i] or tout[i])
        if i + 1 < n and not done and not np.array_equal(obs[i + 1], nobs[i]):
            ck.fail(f"{env_id} row {i}: next_observations {nobs[i]} != observations[{i + 1}] "
                    f"{obs[i + 1]} inside an episode")
        if i + 1 == n and not done:
            ck.fail(f"{env_id}: the last row {i} ends no episode")
        if done:
            ends += 1
            ep_len = 0
    env.close()
    if ends != episodes:
        ck.fail(f"{env_id}: {ends} episodes in the file, asked for {episodes}")
    if int(attrs.get("episodes", -1)) != episodes:
        ck.fail(f"{env_id}: root attr episodes = {attrs.get('episodes')}, want {episodes}")

    # statistics: population mean/std in float64 from the stored float32 data
    o64, a64, n64 = obs.astype(np.float64), act.astype(np.float64), nobs.astype(np.float64)
    d64 = n64 - o64
    want = {"state_mean": o64.mean(0), "state_std": o64.std(0),
            "action_mean": a64.mean(0), "action_std": a64.std(0),
            "delta_state_mean": d64.mean(0), "delta_state_std": d64.std(0)}
    rms = {"state": np.sqrt((o64**2).mean(0)), "action": np.sqrt((a64**2).mean(0)),
           "delta_state": np.sqrt((d64**2).mean(0))}
    for k, w in want.items():
        if k not in stats:
            ck.fail(f"{env_id}: /stats/{k} missing")
            continue
        scale = rms[k.rsplit("_", 1)[0]]
        worst = max(worst, ck.close(f"{env_id} /stats/{k}", stats[k], w, TOL * scale + 1e-12, TOL))
    if starts != episodes:
        ck.fail(f"{env_id}: {starts} episode starts checked, want {episodes}")
    print(f"{env_id}: {n} transitions, {ends} episodes ({int(term.sum())} terminated) replayed "
          f"in Gymnasium from reset(seed={seed}); stats worst error / tolerance {worst:.3g}")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory holding mbrl_collect")
    args = ap.parse_args()
    exe = os.path.join(args.bin, "mbrl_collect")
    if not os.access(exe, os.X_OK):
        print(f"py_gym_reference: skipped: {exe} not built yet")
        return 77
    global EXACT
    EXACT = gymvenv.libm_trig()
    print(f"gymnasium {gym.__version__}, numpy {np.__version__}: comparing "
          f"{'bit for bit' if EXACT else 'within 1e-5 (numpy float64 sin/cos are not libm)'}")
    ck = Checker()
    cases = (("Pendulum-v1", 3, 200, 5), ("CartPole-v1", 20, 500, 5), ("CartPole-v1", 5, 12, 6),
             ("MountainCarContinuous-v0", 2, 999, 7), ("MountainCar-v0", 3, 200, 8),
             ("Acrobot-v1", 3, 500, 9), ("Acrobot-v1", 4, 30, 10))
    with tempfile.TemporaryDirectory() as tmp:
        for k, (env_id, episodes, max_steps, seed) in enumerate(cases):
            out = os.path.join(tmp, f"x{k}.h5")
            cmd = [exe, "--env", env_id, "--episodes", str(episodes), "--max-steps", str(max_steps),
                   "--seed", str(seed), "--out", out, "--force"]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                ck.fail(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
                continue
            check_file(out, env_id, max_steps, episodes, seed, ck)
        # --append continues the episode count: 2 + 3 episodes == Gymnasium's first 5 resets
        out = os.path.join(tmp, "append.h5")
        for extra in (["--episodes", "2", "--seed", "11", "--force"], ["--episodes", "3", "--append"]):
            cmd = [exe, "--env", "Pendulum-v1", "--max-steps", "20", "--out", out] + extra
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                ck.fail(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
        if os.path.exists(out):
            check_file(out, "Pendulum-v1", 20, 5, 11, ck)
    if ck.failures:
        print(f"py_gym_reference: {ck.failures} failures")
        return 1
    print("py_gym_reference: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
