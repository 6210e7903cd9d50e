#!/usr/bin/python3
"""scripts/make_golden_planner.py - PyTorch golden file for the planner (tests/test_planner.cpp).

Writes tests/data/planner_golden.h5:
  a dynamics checkpoint of the seed's Model (Linear-BN-ReLU x2, Linear; 4 -> 64 -> 64 -> 3,
  orthogonal init, BatchNorm running statistics from a few training-mode forwards, then eval
  mode) in DESIGN.md's layout (/model/network/<i>/..., /normalizer/..., root attrs), and
  /golden/obs0 (3), /golden/actions (K, H, 1), /golden/gamma (1), /golden/costs (K):
  PyTorch's per-sequence cost -sum_h gamma^h r(s_h, a_h) with s_0 = obs0,
  s_{h+1} = model.predict_next_states(s_h, a_h) (eval mode, float32) and the Pendulum reward
  on the predicted observations (th = atan2(sin, cos)).

Usage: /usr/bin/python3 scripts/make_golden_planner.py [--out tests/data/planner_golden.h5]
"""
import argparse
import json
import math
import os

import h5py
import numpy as np
import torch

from seed_models import MLP, normalize, unnormalize  # scripts/seed_models.py: seed 003's model

K, H, GAMMA = 64, 15, 0.9


def pendulum_data(n_ep=5, steps=200, seed=0):
    rng = np.random.default_rng(seed)
    obs, act, nxt = [], [], []
    for _ in range(n_ep):
        th, thdot = rng.uniform(-np.pi, np.pi), rng.uniform(-1, 1)
        for _ in range(steps):
            u = float(rng.uniform(-2, 2))
            obs.append([math.cos(th), math.sin(th), thdot])
            thdot = min(max(thdot + (15.0 * math.sin(th) + 3.0 * u) * 0.05, -8.0), 8.0)
            th = th + thdot * 0.05
            act.append([u])
            nxt.append([math.cos(th), math.sin(th), thdot])
    return (np.asarray(obs, np.float32), np.asarray(act, np.float32),
            np.asarray(nxt, np.float32))


def reward(s, a):
    th = torch.atan2(s[:, 1], s[:, 0])
    thn = torch.remainder(th + math.pi, 2 * math.pi) - math.pi
    u = torch.clamp(a[:, 0], -2.0, 2.0)
    return -(thn * thn + 0.1 * s[:, 2] * s[:, 2] + 0.001 * u * u)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "planner_golden.h5"))
    args = ap.parse_args()
    torch.manual_seed(3)
    obs, act, nxt = pendulum_data()
    delta = nxt - obs
    stats = {"state_mean": obs.mean(0), "state_std": obs.std(0),
             "action_mean": act.mean(0), "action_std": act.std(0),
             "delta_state_mean": delta.mean(0), "delta_state_std": delta.std(0)}
    st = {k: torch.tensor(v) for k, v in stats.items()}
    net = MLP(3, 1)
    with torch.no_grad():  # training-mode forwards give BN non-trivial running statistics
        net.train()
        S, A = torch.tensor(obs), torch.tensor(act)
        for i in range(0, len(S), 250):
            net(normalize(S[i:i + 250], st["state_mean"], st["state_std"]),
                normalize(A[i:i + 250], st["action_mean"], st["action_std"]))
    net.eval()

    def predict(s, a):
        d = net(normalize(s, st["state_mean"], st["state_std"]),
                normalize(a, st["action_mean"], st["action_std"]))
        return s + unnormalize(d, st["delta_state_mean"], st["delta_state_std"])

    rng = np.random.default_rng(17)
    actions = rng.uniform(-2.0, 2.0, size=(K, H, 1)).astype(np.float32)
    actions[0] = 0.0
    actions[1] = 2.0
    obs0 = np.array([math.cos(2.8), math.sin(2.8), -0.9], np.float32)
    with torch.no_grad():
        s = torch.tensor(obs0).expand(K, 3).clone()
        A = torch.tensor(actions)
        cost = torch.zeros(K)
        g = torch.tensor(1.0)
        for h in range(H):
            a = A[:, h]
            cost = cost - g * reward(s, a)
            s = predict(s, a)
            g = g * GAMMA
    tmp = args.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = "mbrl.dynamics"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["env_id"] = "Pendulum-v1"
        f.attrs["hidden"] = np.array([64, 64], np.int64)
        f.attrs["config"] = json.dumps({"created_by": "scripts/make_golden_planner.py",
                                        "torch": torch.__version__})
        for k, v in net.state_dict().items():
            name = "model/" + k.replace(".", "/")
            if k.endswith("num_batches_tracked"):
                f.create_dataset(name, data=np.int64(v.item()))
            else:
                f.create_dataset(name, data=v.numpy().astype(np.float32))
        for k, v in stats.items():
            f.create_dataset("normalizer/" + k, data=v.astype(np.float32))
        f.create_dataset("golden/obs0", data=obs0)
        f.create_dataset("golden/actions", data=actions)
        f.create_dataset("golden/gamma", data=np.array([GAMMA], np.float32))
        f.create_dataset("golden/costs", data=cost.numpy().astype(np.float32))
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: K={K} H={H} gamma={GAMMA}, costs {float(cost.min()):.3f}.."
          f"{float(cost.max()):.3f}")


if __name__ == "__main__":
    main()
