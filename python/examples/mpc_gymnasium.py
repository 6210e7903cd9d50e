"""Control the real gymnasium Pendulum-v1 with mbrl.Planner (random-shooting MPC in the C
library) and print the return of every episode: the same returns `mbrl_mpc` prints for the same
seed, model and settings (episode i resets with seed S + i and the planner with reset(S + i)).

    python python/examples/mpc_gymnasium.py --oracle --episodes 5 --seed 0
    python python/examples/mpc_gymnasium.py --model data/pendulum_model.h5 --json
    build/bin/mbrl_mpc --oracle --episodes 5 --seed 0          # the same returns
"""

import argparse
import json
import time

import gymnasium
import numpy as np

import mbrl


def run_episodes(planner, episodes, seed, env_id="Pendulum-v1"):
    """Episodes i = 0..episodes-1 of gymnasium.make(env_id) with reset seeds seed + i; returns
    (returns, actions per episode, planning seconds)."""
    env = gymnasium.make(env_id)
    returns, actions, plan_s = [], [], 0.0
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        planner.reset(seed=seed + i)
        ret, acts, done = 0.0, [], False
        while not done:
            t0 = time.perf_counter()
            a = planner.plan(obs)
            plan_s += time.perf_counter() - t0
            obs, r, terminated, truncated, _ = env.step(a)
            ret += float(r)
            acts.append(a)
            done = terminated or truncated
        returns.append(ret)
        actions.append(np.array(acts))
    env.close()
    return returns, actions, plan_s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="a dynamics checkpoint (mbrl_train / DynamicsModel.save)")
    g.add_argument("--oracle", action="store_true", help="plan with the true dynamics")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--horizon", type=int, default=15)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    planner = mbrl.Planner("oracle" if a.oracle else a.model, "Pendulum-v1", samples=a.samples,
                           horizon=a.horizon, seed=a.seed, device=a.device)
    returns, actions, plan_s = run_episodes(planner, a.episodes, a.seed)
    steps = sum(len(x) for x in actions)
    if a.json:
        print(json.dumps({"returns": returns, "mean_return": float(np.mean(returns)),
                          "device": planner.device, "plan_ms_mean": 1e3 * plan_s / steps}))
    else:
        for i, r in enumerate(returns):
            print(f"episode {i} (reset seed {a.seed + i}): return {r:9.2f}")
        print(f"mean return {np.mean(returns):.2f} +- {np.std(returns):.2f} over {a.episodes} "
              f"episodes; planning {1e3 * plan_s / steps:.3f} ms per action on {planner.device}")


if __name__ == "__main__":
    main()
