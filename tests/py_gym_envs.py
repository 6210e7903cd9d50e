#!/usr/bin/python3
"""py_gym_envs.py - every registered environment against the real Gymnasium (scripts/venv).

BIN/mbrl_env_server (tests/env_server.c) steps mbrl's envs; gymnasium.make(id) steps
Gymnasium's, side by side with the same actions. For each of the five envs:
  spec       obs/action spaces (float32 bounds, Discrete n), TimeLimit max_episode_steps;
  resets     env.reset(seed=s) for 200+ seeds (0..199 and large ones up to 2^64-1), each
             followed by 3 env.reset() calls: observation (float32 bits) and state (float64)
             exact;
  single     episodes of one env (reset(seed=S), then reset() after every end), actions from
             a uniform random policy (continuous: uniform in 1.25 x the bounds, so clipping is
             used) and from an energy-pumping policy (reaches MountainCar's goal, swings
             Acrobot up, keeps CartPole up to its time limit), one episode stepped 3 steps past
             its termination: observation, reward (float32 bits), terminated, truncated exact;
  batch      4 envs in mbrl_env_batch vs SyncVectorEnv(autoreset_mode=SAME_STEP) seeded with
             envs.reset(seed=S) (env b <- S + b): observations after auto-resets, rewards,
             terminations, truncations and infos["final_obs"] (our next_obs) exact;
  planner    the env's functions on observations, on Gymnasium's transitions: reward_obs ==
             Gymnasium's reward (float32 of it; Pendulum, MountainCarContinuous within the
             tolerance below), terminal_obs == terminated, and the float oracle step within
             ORACLE_TOL of Gymnasium's next observation; shaped_cost finite.
  np trig    mbrl_np_sincosf == numpy's float32 np.cos/np.sin (Acrobot's reset observation)
             on 20,000 arguments in [-0.1, 0.1] and [-4, 4].
Exactness needs numpy's float64 sin/cos to be libm's (gymvenv.py turns numpy's AVX-512 SVML
dispatch off). Where they are not (another numpy build), the last bits differ and chaotic
trajectories part ways, so every step then starts our env from Gymnasium's state ("set") and
observations and rewards are compared within 1e-5 (steps past a termination are skipped).
Exit 0 pass, 1 fail, 77 skip (no venv, or the server binary not built).
Usage: /usr/bin/python3 tests/py_gym_envs.py --bin BUILD/bin
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gymvenv  # noqa: E402

gymvenv.ensure(__file__)

import argparse  # noqa: E402
import subprocess  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

gym.logger.min_level = 40  # no warnings for stepping past termination

IDS = ["Pendulum-v1", "CartPole-v1", "MountainCarContinuous-v0", "MountainCar-v0", "Acrobot-v1"]

# planner functions vs Gymnasium: |ours - gym| <= atol + rtol |gym| (as tests/test_env.cpp's
# EnvPlannerFunctions against our exact env)
REWARD_TOL = {"Pendulum-v1": (1e-5, 1e-6), "MountainCarContinuous-v0": (1e-6, 1e-6)}
ORACLE_TOL = {"Pendulum-v1": (2e-6, 2e-6), "CartPole-v1": (1e-6, 1e-6),
              "MountainCarContinuous-v0": (1e-7, 1e-6), "MountainCar-v0": (1e-7, 1e-6),
              "Acrobot-v1": (1e-5, 1e-5)}


class Server:
    def __init__(self, exe):
        self.p = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = []
        while True:
            r = self.p.stdout.readline()
            if not r:
                raise RuntimeError(f"env server died on {line!r}")
            r = r.strip()
            if r == "ok":
                return out
            if r.startswith("error"):
                raise RuntimeError(f"env server: {line!r}: {r}")
            out.append(r.split())

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.close()
        self.p.wait()


def f32(tokens):
    return np.array([float.fromhex(t) for t in tokens], dtype=np.float32)


def f64(tokens):
    return np.array([float.fromhex(t) for t in tokens], dtype=np.float64)


class Check:
    def __init__(self, exact):
        self.exact = exact
        self.failures = 0
        self.worst = {}

    def fail(self, msg):
        self.failures += 1
        if self.failures <= 25:
            print("FAIL:", msg)

    def same32(self, what, got, want):
        """float32 arrays: bit for bit (or within 1e-5 when numpy's trig is not libm's)."""
        got = np.asarray(got, dtype=np.float32)
        want = np.asarray(want, dtype=np.float32)
        if self.exact:
            if got.shape != want.shape or not np.array_equal(got.view(np.uint32),
                                                             want.view(np.uint32)):
                self.fail(f"{what}: got {got!r}, want {want!r}")
        elif got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-5):
            self.fail(f"{what}: got {got!r}, want {want!r} (tolerance 1e-5)")

    def close(self, key, what, got, want, atol, rtol):
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        ratio = float(np.max(np.abs(got - want) / (atol + rtol * np.abs(want))))
        self.worst[key] = max(self.worst.get(key, 0.0), ratio)
        if not ratio <= 1.0:
            self.fail(f"{what}: got {got}, want {want} (error / tolerance {ratio:.3g})")


def spec_of(srv, env_id):
    t = srv.cmd(f"spec {env_id}")[0]
    o, a = int(t[3]), int(t[4])
    v = t[10:]
    return {"obs_dim": o, "act_dim": a, "discrete": int(t[5]), "n_actions": int(t[6]),
            "max_steps": int(t[7]), "state_dim": int(t[8]), "act_low": f32(v[0:a]),
            "act_high": f32(v[a:2 * a]), "obs_low": f32(v[2 * a:2 * a + o]),
            "obs_high": f32(v[2 * a + o:2 * a + 2 * o])}


def check_np_sincos(srv, ck):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-0.1, 0.1, 10000), rng.uniform(-4, 4, 10000)]).astype(np.float32)
    got_c, got_s = [], []
    for chunk in np.array_split(x, 20):
        for t in srv.cmd("sincos " + " ".join(float(v).hex() for v in chunk)):
            got_c.append(float.fromhex(t[1]))
            got_s.append(float.fromhex(t[2]))
    want_c, want_s = np.cos(x), np.sin(x)
    ck.same32("mbrl_np_sincosf cos", got_c, want_c)
    ck.same32("mbrl_np_sincosf sin", got_s, want_s)
    import math
    libm = sum(np.float32(math.cos(float(v))) != c or np.float32(math.sin(float(v))) != s
               for v, c, s in zip(x, want_c, want_s))
    return len(x), libm


def check_spec(env_id, sp, ck):
    env = gym.make(env_id)
    os_, as_ = env.observation_space, env.action_space
    if sp["obs_dim"] != os_.shape[0]:
        ck.fail(f"{env_id}: obs_dim {sp['obs_dim']}, Gymnasium {os_.shape}")
    ck.same32(f"{env_id} obs_low", sp["obs_low"], os_.low)
    ck.same32(f"{env_id} obs_high", sp["obs_high"], os_.high)
    if sp["max_steps"] != env.spec.max_episode_steps:
        ck.fail(f"{env_id}: max_steps {sp['max_steps']}, Gymnasium {env.spec.max_episode_steps}")
    if isinstance(as_, gym.spaces.Discrete):
        if not sp["discrete"] or sp["n_actions"] != as_.n or sp["act_dim"] != 1:
            ck.fail(f"{env_id}: discrete {sp['discrete']} n {sp['n_actions']}, Gymnasium {as_}")
        ck.same32(f"{env_id} act bounds", [sp["act_low"][0], sp["act_high"][0]], [0, as_.n - 1])
    else:
        if sp["discrete"] or sp["act_dim"] != as_.shape[0]:
            ck.fail(f"{env_id}: continuous act_dim {sp['act_dim']}, Gymnasium {as_}")
        ck.same32(f"{env_id} act_low", sp["act_low"], as_.low)
        ck.same32(f"{env_id} act_high", sp["act_high"], as_.high)
    env.close()


def gym_state(env):
    return np.asarray(env.unwrapped.state, dtype=np.float64)


def check_resets(srv, env_id, sp, ck):
    env = gym.make(env_id)
    seeds = list(range(200)) + [2**31 - 1, 2**32 + 5, 2**63 + 7, 2**64 - 1]
    n = 0
    for s in seeds:
        srv.cmd(f"open {env_id} single 1 {s} 0")
        for k in range(4):
            obs, _ = env.reset(seed=s) if k == 0 else env.reset()
            r = srv.cmd("reset")[0]
            o = sp["obs_dim"]
            what = f"{env_id} reset(seed={s}) + {k} resets"
            ck.same32(what + " observation", f32(r[2:2 + o]), obs)
            st = f64(r[2 + o:])
            if not np.array_equal(st, gym_state(env)):
                ck.fail(f"{what}: state {st!r}, Gymnasium {gym_state(env)!r}")
            n += 1
    env.close()
    return n


class Policy:
    """Random or energy-pumping actions from Gymnasium's observation (numpy rng)."""

    def __init__(self, env_id, sp, rng):
        self.id, self.sp, self.rng = env_id, sp, rng

    def random(self):
        sp = self.sp
        if sp["discrete"]:
            return int(self.rng.integers(sp["n_actions"]))
        lo, hi = sp["act_low"].astype(np.float64), sp["act_high"].astype(np.float64)
        pad = 0.125 * (hi - lo)
        return self.rng.uniform(lo - pad, hi + pad).astype(np.float32)

    def pump(self, obs):
        i = self.id
        if i == "Pendulum-v1":
            return np.array([2.5 if obs[2] >= 0 else -2.5], dtype=np.float32)
        if i == "CartPole-v1":
            return int(obs[2] + 0.5 * obs[3] > 0)
        if i == "MountainCar-v0":
            return 2 if obs[1] >= 0 else 0
        if i == "MountainCarContinuous-v0":
            return np.array([1.5 if obs[1] >= 0 else -1.5], dtype=np.float32)
        return 2 if obs[5] >= 0 else 0  # Acrobot: torque along the second joint's velocity

    def __call__(self, kind, obs):
        if kind == "random" or (kind == "mixed" and self.rng.random() < 0.2):
            return self.random()
        return self.pump(obs)


def act_hex(a):
    return " ".join(float(v).hex() for v in np.atleast_1d(np.asarray(a, dtype=np.float64)))


def check_planner_fns(env_id, t, o, prev_obs, gym_next, gym_reward, gym_term, ck, where):
    """t: a server step line; the env's planner functions against Gymnasium's transition."""
    rew_obs = float.fromhex(t[2 * o + 5])
    term_obs = int(t[2 * o + 6])
    oracle = f32(t[2 * o + 7:3 * o + 7])
    shaped = float.fromhex(t[3 * o + 7])
    atol, rtol = REWARD_TOL.get(env_id, (0.0, 0.0))
    if atol == 0.0:
        if np.float32(rew_obs) != np.float32(gym_reward):
            ck.fail(f"{where}: reward_obs {rew_obs}, Gymnasium's reward {gym_reward}")
    else:
        ck.close(env_id + " reward_obs", f"{where}: reward_obs", rew_obs, gym_reward, atol, rtol)
    if bool(term_obs) != bool(gym_term):
        ck.fail(f"{where}: terminal_obs {term_obs}, Gymnasium's terminated {gym_term}")
    atol, rtol = ORACLE_TOL[env_id]
    ck.close(env_id + " oracle", f"{where}: oracle step from {prev_obs}", oracle, gym_next, atol,
             rtol)
    if not np.isfinite(shaped):
        ck.fail(f"{where}: shaped_cost {shaped}")


def check_single(srv, env_id, sp, ck, seed, rng):
    o = sp["obs_dim"]
    env = gym.make(env_id)
    pol = Policy(env_id, sp, rng)
    srv.cmd(f"open {env_id} single 1 {seed} 0")
    kinds = ["random", "pump", "mixed", "random", "pump", "mixed"]
    steps = terms = truncs = 0
    for ep, kind in enumerate(kinds):
        gobs, _ = env.reset(seed=seed) if ep == 0 else env.reset()
        r = srv.cmd("reset")[0]
        ck.same32(f"{env_id} episode {ep} reset", f32(r[2:2 + o]), gobs)
        extra = 0  # steps still to take after a termination (episode 1 takes 3)
        t = 0
        while True:
            a = pol(kind, gobs)
            if not ck.exact:
                if extra > 0:
                    break
                srv.cmd("set 0 " + act_hex(gym_state(env)))
            gnext, grew, gterm, gtrunc, _ = env.step(a)
            line = srv.cmd("step " + act_hex(a))[0]
            t += 1
            steps += 1
            where = f"{env_id} seed {seed} episode {ep} ({kind}) step {t}"
            ck.same32(where + " observation", f32(line[2:2 + o]), gnext)
            ck.same32(where + " reward", [float.fromhex(line[2 + o])], [np.float32(grew)])
            if int(line[3 + o]) != int(gterm) or int(line[4 + o]) != int(gtrunc):
                ck.fail(f"{where}: terminated/truncated {line[3 + o]}/{line[4 + o]}, Gymnasium "
                        f"{gterm}/{gtrunc}")
            if extra == 0:  # the planner's functions on an ordinary transition
                check_planner_fns(env_id, line, o, gobs, gnext, grew, gterm, ck, where)
            gobs = gnext
            if extra > 0:  # stepping past a termination, as a careless caller would
                extra -= 1
                if extra == 0 or gtrunc:
                    break
                continue
            if gterm or gtrunc:
                terms += int(gterm)
                truncs += int(gtrunc)
                if gterm and not gtrunc and ep == 1:
                    extra = 3
                    continue
                break
    env.close()
    return steps, terms, truncs


def check_batch(srv, env_id, sp, ck, seed, rng, B=4):
    o = sp["obs_dim"]
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(B)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    pol = Policy(env_id, sp, rng)
    gobs, _ = envs.reset(seed=seed)
    srv.cmd(f"open {env_id} batch {B} {seed} 0")
    lines = srv.cmd("reset")
    for b in range(B):
        ck.same32(f"{env_id} batch reset env {b}", f32(lines[b][2:2 + o]), gobs[b])
    T = 2 * sp["max_steps"] + 50
    ends = 0
    for t in range(T):
        acts = [pol("mixed" if b % 2 else "random", gobs[b]) for b in range(B)]
        if sp["discrete"]:
            a = np.array(acts, dtype=np.int64)
        else:
            a = np.stack(acts).astype(np.float32)
        if not ck.exact:
            for b in range(B):
                srv.cmd(f"set {b} " + act_hex(gym_state(envs.envs[b])))
        gnext, grew, gterm, gtrunc, info = envs.step(a)
        lines = srv.cmd("step " + " ".join(act_hex(x) for x in acts))
        for b in range(B):
            ln = lines[b]
            where = f"{env_id} batch seed {seed} env {b} step {t}"
            ck.same32(where + " obs (after auto-reset)", f32(ln[5 + o:5 + 2 * o]), gnext[b])
            ck.same32(where + " reward", [float.fromhex(ln[2 + o])], [grew[b]])
            if int(ln[3 + o]) != int(gterm[b]) or int(ln[4 + o]) != int(gtrunc[b]):
                ck.fail(f"{where}: terminated/truncated {ln[3 + o]}/{ln[4 + o]}, Gymnasium "
                        f"{gterm[b]}/{gtrunc[b]}")
            if gterm[b] or gtrunc[b]:
                ends += 1
                ck.same32(where + " final obs", f32(ln[2:2 + o]), info["final_obs"][b])
            else:
                ck.same32(where + " next obs", f32(ln[2:2 + o]), gnext[b])
        gobs = gnext
    envs.close()
    if ends < B:
        ck.fail(f"{env_id} batch: only {ends} episode ends in {T} steps; the check needs "
                "auto-resets")
    return T * B, ends


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory holding mbrl_env_server")
    args = ap.parse_args()
    exe = os.path.join(args.bin, "mbrl_env_server")
    if not os.access(exe, os.X_OK):
        print(f"py_gym_envs: skipped: {exe} not built yet")
        return 77
    exact = gymvenv.libm_trig()
    print(f"gymnasium {gym.__version__}, numpy {np.__version__}; numpy float64 sin/cos "
          f"{'equal libm: comparing bit for bit' if exact else 'differ from libm: comparing within 1e-5'}")
    ck = Check(exact)
    srv = Server(exe)
    try:
        n, libm = check_np_sincos(srv, ck)
        print(f"numpy float32 cos/sin: {n} arguments (of which numpy rounds {libm} otherwise than "
              "libm)")
        for k, env_id in enumerate(IDS):
            sp = spec_of(srv, env_id)
            check_spec(env_id, sp, ck)
            nres = check_resets(srv, env_id, sp, ck)
            rng = np.random.default_rng(100 + k)
            steps, terms, truncs = check_single(srv, env_id, sp, ck, 7 + k, rng)
            bsteps, bends = check_batch(srv, env_id, sp, ck, 1000 + 10 * k, rng)
            print(f"{env_id}: {nres} resets, {steps} single-env steps ({terms} terminations, "
                  f"{truncs} truncations), {bsteps} batch steps ({bends} auto-resets); planner "
                  f"functions: reward error/tol {ck.worst.get(env_id + ' reward_obs', 0):.3g}, "
                  f"oracle error/tol {ck.worst.get(env_id + ' oracle', 0):.3g}")
    finally:
        srv.close()
    if ck.failures:
        print(f"py_gym_envs: {ck.failures} failures")
        return 1
    print("py_gym_envs: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
