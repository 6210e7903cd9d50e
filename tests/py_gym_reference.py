#!/usr/bin/python3
"""py_gym_reference.py - every transition mbrl_collect writes equals Gymnasium's own step.

An independent numpy transcription (float64, as Gymnasium computes) of
  Farama-Foundation/Gymnasium gymnasium/envs/classic_control/pendulum.py  (PendulumEnv.step,
      angle_normalize, reset: uniform([-pi, -1], [pi, 1]))
  Farama-Foundation/Gymnasium gymnasium/envs/classic_control/cartpole.py  (CartPoleEnv.step,
      kinematics_integrator="euler", reset: uniform(-0.05, 0.05, size=4))
  Farama-Foundation/Gymnasium gymnasium/wrappers/common.py  (TimeLimit: truncated when
      elapsed_steps >= max_episode_steps)
Gymnasium itself is not installed here (no PyPI), hence the transcription.

It runs `BIN/mbrl_collect` for Pendulum-v1 and CartPole-v1, reads the HDF5 file with h5py
(layout in ../shared/DESIGN.md, "Files") and checks, transition by transition:
  next_observations == step(observation, action) within 1e-5 (Pendulum: th = atan2(sin, cos)
  from the stored float32 observation, thdot = obs[2]); rewards equal within 1e-5; terminals
  equal Gymnasium's termination; timeouts exactly at the time limit and never with a terminal;
  episodes back to back (next_obs[i] == obs[i+1] inside an episode, a fresh reset after its
  end); actions in the action space; /stats equal numpy's recomputation (population mean/std;
  delta = next_obs - obs) within rtol 1e-5 + atol 1e-5 * rms of the column.
Every episode's first observation is Gymnasium's reset, computed here with numpy's own
generator as gymnasium.utils.seeding.np_random makes it (Generator(PCG64(SeedSequence(seed))))
for the standard collection loop: episode 0 = env.reset(seed=seed), episode i = the i-th
env.reset() after it; also for episodes added with --append. Exact (CartPole obs = float32 of
the drawn state; Pendulum thdot exact, cos/sin within one float32 ulp: libm vs numpy's cos).
Exit 0 pass, 1 fail, 77 skip (numpy/h5py or the mbrl_collect binary missing).
Usage: /usr/bin/python3 tests/py_gym_reference.py --bin BUILD/bin
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import h5py
except ImportError as e:  # pragma: no cover
    print(f"py_gym_reference: skipped: {e}")
    sys.exit(77)

TOL = 1e-5


# ---------------------------------------------------------------- Gymnasium, transcribed

def angle_normalize(x):
    return ((x + np.pi) % (2 * np.pi)) - np.pi


class Pendulum:
    max_speed = 8
    max_torque = 2.0
    dt = 0.05
    g = 10.0
    m = 1.0
    l = 1.0
    max_episode_steps = 200

    @classmethod
    def step(cls, state, u):
        """state = (th, thdot) float64; u = float32 array (1,). Returns obs, reward, terminated."""
        th, thdot = state
        g, m, l, dt = cls.g, cls.m, cls.l, cls.dt
        u = np.clip(u, -cls.max_torque, cls.max_torque)[0]
        costs = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * (u**2)
        newthdot = thdot + (3 * g / (2 * l) * np.sin(th) + 3.0 / (m * l**2) * u) * dt
        newthdot = np.clip(newthdot, -cls.max_speed, cls.max_speed)
        newth = th + newthdot * dt
        obs = np.array([np.cos(newth), np.sin(newth), newthdot], dtype=np.float64)
        return obs, -costs, False, 0.0

    @staticmethod
    def state_from_obs(obs):
        o = obs.astype(np.float64)
        return np.array([math.atan2(o[1], o[0]), o[2]])

    @staticmethod
    def is_reset_obs(obs):
        c, s, thdot = (float(v) for v in obs)
        return abs(c * c + s * s - 1) < 1e-5 and -1.0 <= thdot <= 1.0

    @staticmethod
    def reset(np_random):
        """PendulumEnv.reset (options=None): uniform(low=-high, high=high), high = [pi, 1]."""
        high = np.array([np.pi, 1.0])
        th, thdot = np_random.uniform(low=-high, high=high)
        return np.array([np.cos(th), np.sin(th), thdot], dtype=np.float32)

    @staticmethod
    def obs_ulps():
        return np.array([1, 1, 0])

    @staticmethod
    def action_ok(a):
        return a.shape == (1,) and -2.0 <= a[0] <= 2.0


class CartPole:
    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    max_episode_steps = 500

    @classmethod
    def step(cls, state, action):
        """state = (x, x_dot, theta, theta_dot) float64; action int. Returns obs, reward,
        terminated, margin (distance of the new state to the termination boundary)."""
        x, x_dot, theta, theta_dot = state
        force = cls.force_mag if action == 1 else -cls.force_mag
        costheta = math.cos(theta)
        sintheta = math.sin(theta)
        temp = (force + cls.polemass_length * theta_dot**2 * sintheta) / cls.total_mass
        thetaacc = (cls.gravity * sintheta - costheta * temp) / (
            cls.length * (4.0 / 3.0 - cls.masspole * costheta**2 / cls.total_mass))
        xacc = temp - cls.polemass_length * thetaacc * costheta / cls.total_mass
        x = x + cls.tau * x_dot  # euler
        x_dot = x_dot + cls.tau * xacc
        theta = theta + cls.tau * theta_dot
        theta_dot = theta_dot + cls.tau * thetaacc
        terminated = bool(x < -cls.x_threshold or x > cls.x_threshold
                          or theta < -cls.theta_threshold_radians
                          or theta > cls.theta_threshold_radians)
        margin = min(abs(abs(x) - cls.x_threshold), abs(abs(theta) - cls.theta_threshold_radians))
        # +1 on every step including the terminating one (steps_beyond_terminated is None)
        return np.array([x, x_dot, theta, theta_dot]), 1.0, terminated, margin

    @staticmethod
    def state_from_obs(obs):
        return obs.astype(np.float64)

    @staticmethod
    def is_reset_obs(obs):
        return bool(np.all(np.abs(obs.astype(np.float64)) <= 0.05))

    @staticmethod
    def reset(np_random):
        """CartPoleEnv.reset (options=None): uniform(low=-0.05, high=0.05, size=(4,))."""
        return np.array(np_random.uniform(low=-0.05, high=0.05, size=(4,)), dtype=np.float32)

    @staticmethod
    def obs_ulps():
        return np.zeros(4)

    @staticmethod
    def action_ok(a):
        return a.shape == (1,) and a[0] in (0.0, 1.0)


ENVS = {"Pendulum-v1": Pendulum, "CartPole-v1": CartPole}


def gym_np_random(seed):
    """gymnasium.utils.seeding.np_random(seed)[0], which env.reset(seed=seed) installs."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


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


def check_file(path, env_id, max_steps, episodes, seed, ck):
    Env = ENVS[env_id]
    np_random = gym_np_random(seed)
    starts = 0
    limit = min(max_steps, Env.max_episode_steps)
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
    for name, arr, shape, dt in (("observations", obs, (n, obs.shape[1]), np.float32),
                                 ("actions", act, (n, 1), np.float32),
                                 ("next_observations", nobs, obs.shape, np.float32),
                                 ("rewards", rew, (n,), np.float32)):
        if arr.shape != shape or arr.dtype != dt:
            ck.fail(f"{name}: shape {arr.shape} dtype {arr.dtype}, want {shape} {np.dtype(dt)}")
    if term.shape != (n,) or tout.shape != (n,):
        ck.fail(f"terminals/timeouts shapes {term.shape} {tout.shape}, want ({n},)")
    if n == 0:
        ck.fail(f"{path}: no transitions")
        return 0.0

    worst = 0.0
    ep_len = 0
    ends = 0
    if not Env.is_reset_obs(obs[0]):
        ck.fail(f"{env_id} row 0: first observation {obs[0]} is not a reset observation")
    for i in range(n):
        if ep_len == 0:  # an episode starts: Gymnasium's next reset
            want0 = Env.reset(np_random)
            ulp = np.spacing(np.abs(want0)).astype(np.float64) * Env.obs_ulps()
            diff = np.abs(obs[i].astype(np.float64) - want0.astype(np.float64))
            if not np.all(diff <= ulp):
                ck.fail(f"{env_id} seed {seed} episode {starts} (row {i}): first observation "
                        f"{obs[i]} != Gymnasium's reset {want0}")
            starts += 1
        ep_len += 1
        a = act[i]
        if not Env.action_ok(a):
            ck.fail(f"{env_id} row {i}: action {a} outside the action space")
        s = Env.state_from_obs(obs[i])
        if Env is Pendulum:
            want_obs, want_r, want_term, margin = Env.step(s, a.astype(np.float32))
        else:
            want_obs, want_r, want_term, margin = Env.step(s, int(a[0]))
        worst = max(worst, ck.close(f"{env_id} row {i} next_observations", nobs[i], want_obs, TOL, TOL))
        worst = max(worst, ck.close(f"{env_id} row {i} reward", rew[i], want_r, TOL, TOL))
        if bool(term[i]) != want_term and margin > 1e-6:
            ck.fail(f"{env_id} row {i}: terminal {bool(term[i])}, Gymnasium says {want_term}")
        want_timeout = (ep_len >= limit) and not bool(term[i])
        if bool(tout[i]) != want_timeout:
            ck.fail(f"{env_id} row {i}: timeout {bool(tout[i])} at episode step {ep_len}, "
                    f"want {want_timeout} (limit {limit})")
        if term[i] and tout[i]:
            ck.fail(f"{env_id} row {i}: terminal and timeout both set")
        done = bool(term[i] or tout[i])
        if i + 1 < n:
            if done:
                if not Env.is_reset_obs(obs[i + 1]):
                    ck.fail(f"{env_id} row {i + 1}: episode start {obs[i + 1]} is not a reset obs")
            elif not np.array_equal(obs[i + 1], nobs[i]):
                ck.fail(f"{env_id} row {i}: next_observations {nobs[i]} != observations[{i + 1}] "
                        f"{obs[i + 1]} inside an episode")
        elif not done:
            ck.fail(f"{env_id}: the last row {i} ends no episode")
        if done:
            ends += 1
            ep_len = 0
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
    print(f"{env_id}: {n} transitions, {ends} episodes (starts == Gymnasium's resets for seed "
          f"{seed}), worst error / tolerance {worst:.3g}")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory holding mbrl_collect")
    args = ap.parse_args()
    exe = os.path.join(args.bin, "mbrl_collect")
    if not os.access(exe, os.X_OK):
        print(f"py_gym_reference: skipped: {exe} not built yet")
        return 77
    ck = Checker()
    cases = (("Pendulum-v1", 3, 200, 5), ("CartPole-v1", 20, 500, 5), ("CartPole-v1", 5, 12, 6))
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
