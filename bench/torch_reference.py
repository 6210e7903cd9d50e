#!/usr/bin/python3
"""bench/torch_reference.py - the PyTorch way of doing mbrl's hot paths, for side-by-side ratios.

Sections (all by default, or one with --only):
  train  the seed's dynamics Model (Linear-BN-ReLU x2, Linear; 3+1 -> 64 -> 64 -> 3), Adam(lr 0.01,
         betas (0.99, 0.999)), MSE on normalized deltas; one step = random minibatch gather from a
         resident 4000-transition pendulum dataset + forward + loss + backward + optimizer step.
  mpc    the seed's random-shooting plan as batched tensor ops per horizon step, under no_grad:
         variants bn_eval (seed model, eval mode), folded (BN folded into the Linears), oracle
         (the true pendulum step on tensors, float32). Cost = -sum of the pendulum reward on the
         predicted observations; argmin; first action.
  a2c    an SB3-configured A2C on CartPole-v1 in plain PyTorch: 8 envs stepped one after another in
         Python like SB3's DummyVecEnv (a transcription of Gymnasium's CartPole step), n_steps 5,
         separate actor/critic 64-64 tanh MLPs, orthogonal init, RMSprop(alpha 0.99, eps 1e-5).

Prints ONE JSON object on stdout (schema in bench/README.md); progress goes to stderr.
Runs on the CPU with --threads N (torch.set_num_threads), and also on CUDA when
torch.cuda.is_available() (or --device cpu|cuda|all).
Example: /usr/bin/python3 bench/torch_reference.py --threads 1 --quick
"""
import argparse
import copy
import datetime
import json
import math
import os
import platform
import socket
import statistics
import sys
import time
import types

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"torch_reference.py: error: {e}; install python3-torch and python3-numpy "
          f"(Debian) to run the PyTorch reference", file=sys.stderr)
    sys.exit(1)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
# scripts/seed_models.py: the seed's ml2_utils helpers and its MLP / Model, .cuda() removed
from seed_models import Model, normalize, unnormalize  # noqa: E402

# ---------------------------------------------------------------- helpers


# MBRL_BENCH_CLOCK=cpu (run_all.sh --cpu-time): time with this process's CPU time, as the bench
# programs then do (robust on a shared, loaded machine; single-threaded runs only).
CPU_CLOCK = os.environ.get("MBRL_BENCH_CLOCK") == "cpu"
if CPU_CLOCK:
    time.perf_counter = time.process_time


def log(msg):
    print(f"torch_reference: {msg}", file=sys.stderr, flush=True)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_mhz_and_simd():
    mhz, simd = None, []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz") and mhz is None:
                    mhz = float(line.split(":", 1)[1])
                elif line.startswith("flags") and not simd:
                    flags = set(line.split(":", 1)[1].split())
                    simd = [x for x in ("fma", "avx2", "avx512f") if x in flags]
    except (OSError, ValueError):
        pass
    return mhz, simd


def machine_info():
    mhz, simd = cpu_mhz_and_simd()
    info = {"host": socket.gethostname(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "cpu_mhz": mhz, "simd": simd,
            "gpu": None, "torch": torch.__version__, "python": platform.python_version()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_runs(fn, device, min_runs=3, min_total_s=0.5, max_runs=25):
    """Median seconds of fn() over at least min_runs runs (and until min_total_s has passed)."""
    times = []
    t_start = time.perf_counter()
    while len(times) < max_runs:
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
        if len(times) >= min_runs and time.perf_counter() - t_start >= min_total_s:
            break
    return statistics.median(times), len(times)


# ---------------------------------------------------------------- pendulum (Gymnasium Pendulum-v1)

PEND_G, PEND_M, PEND_L, PEND_DT, PEND_MAX_SPEED, PEND_MAX_TORQUE = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0


def pendulum_dataset(episodes=20, steps=200, seed=0):
    """4000 random-policy transitions with Gymnasium's Pendulum-v1 physics (float64 state)."""
    rng = np.random.default_rng(seed)
    obs, act, nxt = [], [], []
    for _ in range(episodes):
        th = rng.uniform(-np.pi, np.pi)
        thdot = rng.uniform(-1.0, 1.0)
        for _ in range(steps):
            u = float(rng.uniform(-PEND_MAX_TORQUE, PEND_MAX_TORQUE))
            o = [math.cos(th), math.sin(th), thdot]
            newthdot = thdot + (3 * PEND_G / (2 * PEND_L) * math.sin(th)
                                + 3.0 / (PEND_M * PEND_L ** 2) * u) * PEND_DT
            newthdot = min(max(newthdot, -PEND_MAX_SPEED), PEND_MAX_SPEED)
            th = th + newthdot * PEND_DT
            thdot = newthdot
            obs.append(o)
            act.append([u])
            nxt.append([math.cos(th), math.sin(th), thdot])
    obs = np.asarray(obs, np.float32)
    act = np.asarray(act, np.float32)
    nxt = np.asarray(nxt, np.float32)
    delta = nxt - obs
    stats = {"state_mean": obs.mean(0), "state_std": obs.std(0),
             "action_mean": act.mean(0), "action_std": act.std(0),
             "delta_state_mean": delta.mean(0), "delta_state_std": delta.std(0)}
    return obs, act, nxt, stats


def pendulum_reward_obs(obs, u):
    """Pendulum reward on an observation (cos, sin, thdot), th = atan2(sin, cos); (N,3),(N,1)->(N)."""
    th = torch.atan2(obs[:, 1], obs[:, 0])
    thn = torch.remainder(th + math.pi, 2 * math.pi) - math.pi
    uc = torch.clamp(u[:, 0], -PEND_MAX_TORQUE, PEND_MAX_TORQUE)
    return -(thn * thn + 0.1 * obs[:, 2] * obs[:, 2] + 0.001 * uc * uc)


def pendulum_step_obs(obs, u):
    """True Pendulum-v1 step on observation tensors in float32: (N,3),(N,1) -> (N,3)."""
    th = torch.atan2(obs[:, 1], obs[:, 0])
    thdot = obs[:, 2]
    uc = torch.clamp(u[:, 0], -PEND_MAX_TORQUE, PEND_MAX_TORQUE)
    newthdot = thdot + (3 * PEND_G / (2 * PEND_L) * torch.sin(th)
                        + 3.0 / (PEND_M * PEND_L ** 2) * uc) * PEND_DT
    newthdot = torch.clamp(newthdot, -PEND_MAX_SPEED, PEND_MAX_SPEED)
    newth = th + newthdot * PEND_DT
    return torch.stack((torch.cos(newth), torch.sin(newth), newthdot), dim=1)


# ---------------------------------------------------------------- the seed's model, BN folded


class FoldedModel(nn.Module):
    """Eval-mode BatchNorm folded into the preceding Linear: a plain Linear-ReLU MLP."""

    def __init__(self, model):
        super().__init__()
        layers = []
        seq = list(model.model.network)
        i = 0
        while i < len(seq):
            lin = seq[i]
            w, b = lin.weight.detach().clone(), lin.bias.detach().clone()
            if i + 1 < len(seq) and isinstance(seq[i + 1], nn.BatchNorm1d):
                bn = seq[i + 1]
                scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
                w = w * scale[:, None]
                b = (b - bn.running_mean) * scale + bn.bias.detach()
                i += 1
            new = nn.Linear(w.shape[1], w.shape[0]).to(w.device)
            new.weight.data.copy_(w)
            new.bias.data.copy_(b)
            layers.append(new)
            i += 1
            if i < len(seq) and isinstance(seq[i], nn.ReLU):
                layers.append(nn.ReLU(inplace=True))
                i += 1
        self.network = nn.Sequential(*layers)
        for k in ("state_mean", "state_std", "action_mean", "action_std",
                  "delta_state_mean", "delta_state_std"):
            setattr(self, k, getattr(model, k))

    def predict_next_states(self, states, actions):
        x = torch.cat((normalize(states, self.state_mean, self.state_std),
                       normalize(actions, self.action_mean, self.action_std)), dim=-1)
        d = self.network(x)
        return states + unnormalize(d, self.delta_state_mean, self.delta_state_std)


def linear_flops_per_sample(net):
    """2*in*out summed over the Linear layers (the FLOP count the C bench uses too)."""
    return sum(2 * m.in_features * m.out_features for m in net.modules() if isinstance(m, nn.Linear))


def make_model(device, seed=0):
    torch.manual_seed(seed)
    obs, act, nxt, stats = pendulum_dataset()
    model = Model((3,), (1,), 64).to(device)
    model.set_statistics(types.SimpleNamespace(**stats), device)
    return model, (obs, act, nxt)


# ---------------------------------------------------------------- train


def bench_train(device, batches, quick):
    """Two ways of feeding the step: 'seed_iterator' gathers the minibatch in numpy and converts it
    with torch.from_numpy(...).to(device) every step, as the seed's Dataset.random_iterator +
    MBRL.update do; 'resident_gather' keeps the dataset as tensors on the device and gathers with
    index_select from torch.randint indices (the fastest plain-PyTorch way)."""
    rows = []
    for variant in ("seed_iterator", "resident_gather"):
        model, (obs, act, nxt) = make_model(device)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.99, 0.999))
        S = torch.as_tensor(obs, device=device)
        A = torch.as_tensor(act, device=device)
        NS = torch.as_tensor(nxt, device=device)
        n = S.shape[0]
        gen = torch.Generator(device=device)
        gen.manual_seed(0)
        rng = np.random.default_rng(0)

        def step(batch):
            if variant == "seed_iterator":
                idx = rng.integers(0, n, batch)
                s = torch.from_numpy(obs[idx]).to(device).float()
                a = torch.from_numpy(act[idx]).to(device).float()
                ns = torch.from_numpy(nxt[idx]).to(device).float()
            else:
                idx = torch.randint(0, n, (batch,), device=device, generator=gen)
                s, a, ns = S.index_select(0, idx), A.index_select(0, idx), NS.index_select(0, idx)
            pred = model.predicted_delta_state_normalized(s, a)
            target = normalize(ns - s, model.delta_state_mean, model.delta_state_std)
            loss = F.mse_loss(pred, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        for batch in batches:
            for _ in range(30):  # warm-up
                step(batch)
            # steps per timed run: about 0.2 s (quick) / 0.5 s worth, from a probe
            sync(device)
            t0 = time.perf_counter()
            for _ in range(20):
                step(batch)
            sync(device)
            per = (time.perf_counter() - t0) / 20
            nsteps = max(20, int((0.2 if quick else 0.5) / per))

            def run():
                for _ in range(nsteps):
                    step(batch)
            med, runs = time_runs(run, device, min_runs=3 if quick else 5, min_total_s=0.0)
            sps = nsteps / med
            loss = float(step(batch))
            if not math.isfinite(loss):
                raise RuntimeError(f"train loss became {loss} at batch {batch}")
            rows.append({"bench": "train", "name": "train_step", "variant": variant,
                         "device": device, "batch": batch, "steps_per_s": sps,
                         "samples_per_s": sps * batch, "us_per_step": 1e6 / sps,
                         "steps_timed": nsteps, "runs": runs, "final_loss": loss})
            log(f"train {device} {variant} batch {batch}: {sps:.0f} steps/s "
                f"({1e6 / sps:.0f} us/step)")
    return rows


# ---------------------------------------------------------------- mpc


def plan(predict, obs0, K, H, gen, device):
    """One random-shooting plan, the seed's way; returns (first action, best return)."""
    actions = torch.rand((H, K, 1), device=device, generator=gen) * 4.0 - 2.0  # U[-2, 2]
    actions[:, 0] = 0.0                                                        # sequence 0: zeros
    states = obs0.expand(K, 3)
    costs = torch.zeros(K, device=device)
    for h in range(H):
        a = actions[h]
        states = predict(states, a)
        costs -= pendulum_reward_obs(states, a)
    best = torch.argmin(costs)
    return actions[0, best], -costs[best]


def bench_mpc(device, Ks, Hs, quick):
    model, (obs, act, nxt) = make_model(device)
    # Give BatchNorm non-trivial running statistics (a few training-mode forwards), then eval.
    with torch.no_grad():
        S = torch.as_tensor(obs, device=device)
        A = torch.as_tensor(act, device=device)
        model.train()
        for i in range(0, 4000, 500):
            model.predicted_delta_state_normalized(S[i:i + 500], A[i:i + 500])
    model.eval()
    folded = FoldedModel(model).eval()
    with torch.no_grad():  # the folding must not change predictions
        a, b = model.predict_next_states(S[:256], A[:256]), folded.predict_next_states(S[:256], A[:256])
        err = float((a - b).abs().max())
        if err > 1e-4:
            raise RuntimeError(f"BN folding changed predictions by {err}")
    flops = linear_flops_per_sample(folded.network)
    variants = [("learned", "bn_eval", model.predict_next_states),
                ("learned", "folded", folded.predict_next_states),
                ("oracle", "oracle", pendulum_step_obs)]
    obs0 = torch.tensor([[math.cos(3.0), math.sin(3.0), 0.5]], device=device)
    gen = torch.Generator(device=device)
    gen.manual_seed(0)
    rows = []
    with torch.no_grad():
        for kind, variant, predict in variants:
            for K in Ks:
                for H in Hs:
                    plan(predict, obs0, K, H, gen, device)  # warm-up

                    def run():
                        act0, ret = plan(predict, obs0, K, H, gen, device)
                        return act0
                    med, runs = time_runs(run, device, min_runs=3,
                                          min_total_s=0.3 if quick else 1.0)
                    gf = flops * K * H / med / 1e9 if kind == "learned" else None
                    rows.append({"bench": "mpc", "model": kind, "variant": variant, "device": device,
                                 "K": K, "H": H, "ms_per_plan": med * 1e3, "gflops": gf,
                                 "flops_per_sample_step": flops if kind == "learned" else None,
                                 "runs": runs})
                    log(f"mpc {device} {variant:8s} K={K:6d} H={H:3d}: {med * 1e3:9.3f} ms/plan"
                        + (f"  {gf:6.2f} GFLOP/s" if gf is not None else ""))
    return rows


# ---------------------------------------------------------------- a2c (SB3 configuration)


class CartPole:
    """Gymnasium CartPole-v1 (euler), transcribed step; TimeLimit 500 -> truncated."""
    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    total_mass = masspole + masscart
    polemass_length = masspole * length
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, rng):
        self.rng = rng
        self.reset()

    def reset(self):
        self.state = self.rng.uniform(-0.05, 0.05, size=(4,))
        self.t = 0
        return np.array(self.state, dtype=np.float32)

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        costheta, sintheta = math.cos(theta), math.sin(theta)
        temp = (force + self.polemass_length * theta_dot ** 2 * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta ** 2 / self.total_mass))
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * xacc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * thetaacc
        self.state = np.array((x, x_dot, theta, theta_dot), dtype=np.float64)
        self.t += 1
        terminated = bool(x < -self.x_threshold or x > self.x_threshold
                          or theta < -self.theta_threshold or theta > self.theta_threshold)
        truncated = self.t >= 500
        return np.array(self.state, dtype=np.float32), 1.0, terminated, truncated


class DummyVecEnv:
    """SB3's DummyVecEnv: a Python loop over the envs, auto-reset, terminal_observation kept."""

    def __init__(self, n, seed):
        self.envs = [CartPole(np.random.default_rng(seed + i)) for i in range(n)]
        self.obs = np.stack([e.reset() for e in self.envs])

    def step(self, actions):
        n = len(self.envs)
        rews = np.zeros(n, np.float32)
        dones = np.zeros(n, bool)
        infos = [{} for _ in range(n)]
        for i, e in enumerate(self.envs):
            o, r, term, trunc = e.step(int(actions[i]))
            rews[i] = r
            dones[i] = term or trunc
            if dones[i]:
                infos[i]["terminal_observation"] = o
                infos[i]["TimeLimit.truncated"] = trunc and not term
                o = e.reset()
            self.obs[i] = o
        return self.obs.copy(), rews.copy(), dones.copy(), copy.deepcopy(infos)


def mlp64(in_dim, out_dim, out_gain):
    net = nn.Sequential(nn.Linear(in_dim, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                        nn.Linear(64, out_dim))
    for m, g in zip([net[0], net[2], net[4]], [math.sqrt(2), math.sqrt(2), out_gain]):
        nn.init.orthogonal_(m.weight, gain=g)
        m.bias.data.fill_(0.0)
    return net


def bench_a2c(device, total_steps, n_envs=8, n_steps=5, seed=0):
    torch.manual_seed(seed)
    gamma, lam, vf_coef, ent_coef, max_grad_norm = 0.99, 1.0, 0.5, 0.0, 0.5
    actor = mlp64(4, 2, 0.01).to(device)
    critic = mlp64(4, 1, 1.0).to(device)
    params = list(actor.parameters()) + list(critic.parameters())
    opt = torch.optim.RMSprop(params, lr=7e-4, alpha=0.99, eps=1e-5, weight_decay=0)
    venv = DummyVecEnv(n_envs, seed)
    obs = venv.obs.copy()
    episode_starts = np.ones(n_envs, np.float32)
    buf_obs = np.zeros((n_steps, n_envs, 4), np.float32)
    buf_act = np.zeros((n_steps, n_envs), np.int64)
    buf_rew = np.zeros((n_steps, n_envs), np.float32)
    buf_start = np.zeros((n_steps, n_envs), np.float32)
    buf_val = np.zeros((n_steps, n_envs), np.float32)
    ep_returns, ep_ret = [], np.zeros(n_envs)
    steps = 0
    sync(device)
    t0 = time.perf_counter()
    while steps < total_steps:
        # -------- collect_rollouts
        actor.eval(), critic.eval()  # SB3 set_training_mode(False): no-op for these layers
        for t in range(n_steps):
            with torch.no_grad():
                ot = torch.as_tensor(obs, device=device)
                dist = torch.distributions.Categorical(logits=actor(ot))
                a = dist.sample()
                v = critic(ot).flatten()
                dist.log_prob(a)  # SB3 computes and stores the log-prob
            a_np = a.cpu().numpy()
            new_obs, rews, dones, infos = venv.step(a_np)
            steps += n_envs
            ep_ret += rews
            for i in range(n_envs):  # SB3: bootstrap truncated episodes with V(terminal_obs)
                if dones[i]:
                    ep_returns.append(ep_ret[i])
                    ep_ret[i] = 0.0
                    if infos[i].get("TimeLimit.truncated"):
                        with torch.no_grad():
                            tv = critic(torch.as_tensor(infos[i]["terminal_observation"],
                                                        device=device)[None])[0, 0]
                        rews[i] += gamma * float(tv)
            buf_obs[t], buf_act[t], buf_rew[t] = obs, a_np, rews
            buf_start[t], buf_val[t] = episode_starts, v.cpu().numpy()
            obs, episode_starts = new_obs, dones.astype(np.float32)
        with torch.no_grad():
            last_v = critic(torch.as_tensor(obs, device=device)).flatten().cpu().numpy()
        # -------- compute_returns_and_advantage (GAE)
        adv = np.zeros((n_steps, n_envs), np.float32)
        gae = np.zeros(n_envs, np.float32)
        for t in reversed(range(n_steps)):
            if t == n_steps - 1:
                nonterm, next_v = 1.0 - episode_starts, last_v
            else:
                nonterm, next_v = 1.0 - buf_start[t + 1], buf_val[t + 1]
            delta = buf_rew[t] + gamma * next_v * nonterm - buf_val[t]
            gae = delta + gamma * lam * nonterm * gae
            adv[t] = gae
        ret = adv + buf_val
        # -------- train (one gradient step on the whole rollout)
        actor.train(), critic.train()
        ob = torch.as_tensor(buf_obs.reshape(-1, 4), device=device)
        ac = torch.as_tensor(buf_act.reshape(-1), device=device)
        advt = torch.as_tensor(adv.reshape(-1), device=device)
        rett = torch.as_tensor(ret.reshape(-1), device=device)
        dist = torch.distributions.Categorical(logits=actor(ob))
        log_prob = dist.log_prob(ac)
        entropy = dist.entropy()
        values = critic(ob).flatten()
        policy_loss = -(advt * log_prob).mean()
        value_loss = F.mse_loss(rett, values)
        entropy_loss = -torch.mean(entropy)
        loss = policy_loss + ent_coef * entropy_loss + vf_coef * value_loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        opt.step()
    sync(device)
    wall = time.perf_counter() - t0
    last = ep_returns[-20:]
    row = {"bench": "a2c", "name": "a2c", "variant": "sb3_config_dummyvecenv", "env": "CartPole-v1",
           "device": device, "envs": n_envs, "n_steps": n_steps, "env_steps": steps,
           "wall_s": wall, "steps_per_s": steps / wall,
           "episodes": len(ep_returns),
           "mean_return_last20": float(np.mean(last)) if last else None}
    log(f"a2c {device}: {steps} env steps in {wall:.2f} s = {steps / wall:.0f} steps/s "
        f"({len(ep_returns)} episodes, last-20 mean return {row['mean_return_last20']})")
    return row


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["train", "mpc", "a2c"], action="append",
                    help="run only this section (repeatable); default: all")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda", "all"], default="auto",
                    help="auto/all: CPU, plus CUDA when available (default auto); cpu; cuda")
    ap.add_argument("--quick", action="store_true",
                    help="subset: MPC K in {1024, 4096} x H in {15, 100}; shorter runs")
    ap.add_argument("--a2c-steps", type=int, default=None,
                    help="A2C environment steps to time (default 20000, 10000 with --quick)")
    ap.add_argument("--batches", default="128,1024", help="training batch sizes (default 128,1024)")
    ap.add_argument("--mpc-K", default=None, help="comma list of K (overrides the default sweep)")
    ap.add_argument("--mpc-H", default=None, help="comma list of H (overrides the default sweep)")
    args = ap.parse_args()

    def int_list(s, what):
        try:
            v = [int(x) for x in s.split(",") if x.strip()]
        except ValueError:
            v = []
        if not v or min(v) <= 0:
            ap.error(f"{what} must be a comma list of positive integers, got '{s}'")
        return v

    if args.threads < 1:
        ap.error(f"--threads must be >= 1, got {args.threads}")
    if args.a2c_steps is not None and args.a2c_steps < 40:
        ap.error(f"--a2c-steps must be >= 40 (one 8x5 rollout), got {args.a2c_steps}")
    batches = int_list(args.batches, "--batches")
    Ks = int_list(args.mpc_K, "--mpc-K") if args.mpc_K else (
        [1024, 4096] if args.quick else [256, 1024, 4096, 16384, 65536])
    Hs = int_list(args.mpc_H, "--mpc-H") if args.mpc_H else (
        [15, 100] if args.quick else [15, 30, 100])
    a2c_steps = args.a2c_steps or (10000 if args.quick else 20000)
    sections = args.only or ["train", "mpc", "a2c"]

    cuda = torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        print("torch_reference.py: error: --device cuda but torch sees no CUDA device "
              "(use --device cpu or auto)", file=sys.stderr)
        return 1
    devices = {"auto": ["cpu"] + (["cuda"] if cuda else []), "all": ["cpu"] + (["cuda"] if cuda else []),
               "cpu": ["cpu"], "cuda": ["cuda"]}[args.device]

    torch.set_num_threads(args.threads)
    out = {"bench": "torch_reference", "impl": "torch", "machine": machine_info(),
           "threads": torch.get_num_threads(), "devices": devices,
           "clock": "cpu" if CPU_CLOCK else "wall",
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "command": " ".join([sys.executable] + sys.argv), "quick": args.quick,
           "results": []}
    for dev in devices:
        if "train" in sections:
            out["results"] += bench_train(dev, batches, args.quick)
        if "mpc" in sections:
            out["results"] += bench_mpc(dev, Ks, Hs, args.quick)
        if "a2c" in sections:
            out["results"].append(bench_a2c(dev, a2c_steps))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
