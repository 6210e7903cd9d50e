"""mbrl.Planner against mbrl_mpc.

1. On our C pendulum (gymnasium.make("mbrl/Pendulum-v1")), Planner with reset(seed=S + i) at
   episode i makes exactly mbrl_mpc --seed S's actions (its --record file), step for step, and
   the returns are equal to the last bit: oracle, learned model, warm start, reward on next.
2. On the REAL gymnasium Pendulum-v1 (python/examples/mpc_gymnasium.py), seeds 0..4: where
   numpy's float64 sin/cos are libm's (scripts/test makes them so, see conftest.py) the actions
   are mbrl_mpc's step for step and every return is mbrl_mpc's to 1e-3 (gymnasium sums float64
   rewards, mbrl_mpc the float32 ones). Where they are not (numpy's AVX-512 SVML), the actions
   are mbrl_mpc's until the first step where gymnasium's observation leaves our C env's, and the
   returns agree within 0.1 + 0.1% of their size (measured: <= 0.03)."""

import importlib.util
import os

import h5py
import numpy as np
import pytest

import gymnasium

import mbrl

from conftest import LIBM_TRIG, ROOT, assert_same

EXAMPLE = os.path.join(ROOT, "python", "examples", "mpc_gymnasium.py")


def _example():
    spec = importlib.util.spec_from_file_location("mpc_gymnasium", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _mpc_record(run_bin, tmp_path, model, episodes, seed, extra=(), max_steps=200):
    rec = tmp_path / f"rec_{len(list(tmp_path.glob('rec_*')))}.h5"
    margs = ["--oracle"] if model == "oracle" else ["--model", model]
    js = run_bin("mbrl_mpc", *margs, "--episodes", episodes, "--seed", seed, "--device", "cpu",
                 "--max-steps", max_steps, "--record", rec, "--json", *extra, json_out=True)
    with h5py.File(rec, "r") as f:
        acts, ep = f["actions"][()], f["episode"][()]
        pred = f["predicted_next_observations"][()]
    return js, [acts[ep == i] for i in range(episodes)], [pred[ep == i] for i in range(episodes)]


def _run_ours(planner, episodes, seed, env_id="mbrl/Pendulum-v1", reset_seeded=True, max_steps=200):
    env = gymnasium.make(env_id)
    rets, acts, preds = [], [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        if reset_seeded:
            planner.reset(seed=seed + i)
        else:
            planner.reset() if i else None
        ret, a_ep, p_ep, done = 0.0, [], [], False
        while not done:
            a = planner.plan(obs)
            p_ep.append(planner.last_predicted_next_obs[0])
            obs, r, te, tr, _ = env.step(a)
            ret += r
            a_ep.append(a)
            done = te or tr or len(a_ep) == max_steps
        rets.append(ret)
        acts.append(np.array(a_ep))
        preds.append(np.array(p_ep))
    return rets, acts, preds


@pytest.mark.parametrize("case", ["oracle", "learned", "warm", "next", "raw"])
def test_actions_equal_mbrl_mpc_step_for_step(case, tmp_path, run_bin, pendulum_model):
    model = "oracle" if case == "oracle" else pendulum_model
    extra = {"warm": ["--warm-start"], "next": ["--reward-on", "next", "--gamma", "0.9"],
             "raw": ["--no-projection"]}.get(case, [])
    steps = 200 if case == "oracle" else 80      # the learned model's plans cost ~1 ms each
    js, want_acts, want_pred = _mpc_record(run_bin, tmp_path, model, 3, 17, extra, steps)
    planner = mbrl.Planner(model if case != "learned" else mbrl.DynamicsModel.load(model, device="cpu"),
                           "Pendulum-v1", samples=1024, horizon=15, device="cpu",
                           warm_start=case == "warm", reward_on="next" if case == "next" else "current",
                           gamma=0.9 if case == "next" else 1.0, projection=case != "raw")
    rets, acts, preds = _run_ours(planner, 3, 17, max_steps=steps)
    for i in range(3):
        assert_same(acts[i], want_acts[i], f"episode {i} actions")
        assert_same(preds[i], want_pred[i], f"episode {i} predicted next observations")
    assert rets == js["returns"] or np.allclose(rets, js["returns"], rtol=0, atol=5e-6), (rets, js["returns"])


@pytest.mark.parametrize("env_id,cost", [("CartPole-v1", "reward"), ("MountainCarContinuous-v0", "shaped"),
                                         ("MountainCar-v0", "shaped"), ("Acrobot-v1", "shaped")])
def test_every_env_oracle_equals_mbrl_mpc(env_id, cost, tmp_path, run_bin):
    """Planner("oracle", env_id, cost=...) on our C env makes mbrl_mpc --env --cost's actions
    (a discrete env's action: the index as a float, stepped as an int)."""
    rec = tmp_path / "rec.h5"
    js = run_bin("mbrl_mpc", "--env", env_id, "--oracle", "--cost", cost, "--episodes", 1,
                 "--seed", 4, "--samples", 256, "--horizon", 10, "--max-steps", 40, "--device",
                 "cpu", "--record", rec, "--json", json_out=True)
    with h5py.File(rec, "r") as f:
        want = f["actions"][()]
    planner = mbrl.Planner("oracle", env_id, samples=256, horizon=10, seed=4, device="cpu",
                           cost=cost)
    env = gymnasium.make("mbrl/" + env_id)
    discrete = isinstance(env.action_space, gymnasium.spaces.Discrete)
    obs, _ = env.reset(seed=4)
    planner.reset(seed=4)
    acts, ret = [], 0.0
    for _ in range(len(want)):
        a = planner.plan(obs)
        acts.append(a)
        obs, r, te, tr, _ = env.step(int(a[0]) if discrete else a)
        ret += r
        if te or tr:
            break
    assert_same(np.array(acts), want, f"{env_id} actions")
    assert abs(ret - js["returns"][0]) <= 1e-3 * (1 + abs(ret))


def test_reset_without_seed_continues_with_the_next_episode(tmp_path, run_bin):
    js, want, _ = _mpc_record(run_bin, tmp_path, "oracle", 3, 5)
    planner = mbrl.Planner("oracle", "Pendulum-v1", seed=5, device="cpu")
    _, acts, _ = _run_ours(planner, 3, 5, reset_seeded=False)
    for i in range(3):
        assert_same(acts[i], want[i], f"episode {i}")


def test_batched_plan_equals_single_plans():
    rng = np.random.default_rng(1)
    th = rng.uniform(-np.pi, np.pi, 6)
    obs = np.stack([np.cos(th), np.sin(th), rng.uniform(-1, 1, 6)], 1).astype(np.float32)
    batched = mbrl.Planner("oracle", "Pendulum-v1", samples=256, horizon=10, seed=3, device="cpu")
    single = mbrl.Planner("oracle", "Pendulum-v1", samples=256, horizon=10, device="cpu")
    batched.reset(seed=100)
    for t in range(3):
        got = batched.plan(obs)
        assert got.shape == (6, 1)
        for e in range(6):
            single.reset(seed=100 + e)
            for _ in range(t):          # move the single planner to step t
                single.plan(obs[e])
            assert_same(single.plan(obs[e]), got[e], f"row {e} step {t}")
    with pytest.raises(ValueError, match="plans for 6 environment"):
        batched.plan(obs[:2])
    batched.reset()                     # next block: seeds 106..111
    assert batched.plan(obs[:2]).shape == (2, 1)
    assert batched.last_costs().shape == (2, 256)


def test_planner_seed_is_mbrl_planner_seed():
    # mbrl_planner_seed(0, 0, 0) and (1, 0, 7) computed by the C header's splitmix64 (a
    # hand-checked value: the same mixing as splitmix64 over (episode, step)).
    from mbrl.planner import _planner_seeds
    for base in (0, 1, 2**64 - 3):
        for step in (0, 5):
            assert list(_planner_seeds(base, 12, step)) == [mbrl.planner_seed((base + e) % 2**64, 0, step)
                                                            for e in range(12)]


def test_real_gymnasium_example_equals_mbrl_mpc_seeds_0_to_4(tmp_path, run_bin, pendulum_model):
    ex = _example()
    for model in ("oracle", pendulum_model):
        js, want, _ = _mpc_record(run_bin, tmp_path, model, 5, 0)
        planner = mbrl.Planner(model, "Pendulum-v1", seed=0, device="cpu")
        rets, acts, _ = ex.run_episodes(planner, 5, 0)
        ours_env = gymnasium.make("mbrl/Pendulum-v1")
        real_env = gymnasium.make("Pendulum-v1")
        for i in range(5):
            # the first step where the real env's observation leaves ours (same actions)
            o1, _ = ours_env.reset(seed=i)
            o2, _ = real_env.reset(seed=i)
            first = len(acts[i])
            for t, a in enumerate(acts[i]):
                if not np.array_equal(o1, o2):
                    first = t
                    break
                o1 = ours_env.step(a)[0]
                o2 = real_env.step(a)[0]
            if LIBM_TRIG:
                assert first == len(acts[i]), f"gymnasium's observation left ours at step {first}"
            assert_same(acts[i][:first], want[i][:first], f"{model} episode {i} actions before step {first}")
            tol = 1e-3 if LIBM_TRIG else 0.1 + 1e-3 * abs(js["returns"][i])
            assert abs(rets[i] - js["returns"][i]) <= tol, (model, i, rets[i], js["returns"][i])


def test_bad_arguments():
    with pytest.raises(ValueError, match="obs must have shape"):
        mbrl.Planner("oracle", "Pendulum-v1", device="cpu").plan(np.zeros(4))
    with pytest.raises(ValueError, match="CartPole-v1"):   # unknown id: the known ones named
        mbrl.Planner("oracle", "Nope-v0", device="cpu")
    with pytest.raises(ValueError, match="cost"):
        mbrl.Planner("oracle", "Pendulum-v1", cost="dense")
    with pytest.raises(FileNotFoundError):
        mbrl.Planner("no_model.h5", "Pendulum-v1")
    with pytest.raises(TypeError):
        mbrl.Planner(3, "Pendulum-v1")
    with pytest.raises(ValueError, match="gamma"):
        mbrl.Planner("oracle", "Pendulum-v1", gamma=0)
    with pytest.raises(ValueError, match="samples"):
        mbrl.Planner("oracle", "Pendulum-v1", samples=0)
    with pytest.raises(ValueError, match="reward_on"):
        mbrl.Planner("oracle", "Pendulum-v1", reward_on="later")
