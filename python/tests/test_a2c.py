"""mbrl.A2C.learn against mbrl_a2c: the same evaluations and the same saved weights for a seed
(single policy, REINFORCE, and an evolving ensemble); acting, weight vectors, files, errors."""

import numpy as np
import pytest

import mbrl

from conftest import assert_same, assert_same_datasets


@pytest.mark.parametrize("kind", ["a2c", "reinforce", "ensemble"])
def test_learn_equals_mbrl_a2c(kind, tmp_path, run_bin):
    ref = tmp_path / "ref.h5"
    args = ["--steps", 12000, "--seed", 3, "--device", "cpu", "--eval-every", 5000,
            "--eval-episodes", 3, "--json", "--save", ref, "--quiet"]
    kw = {}
    if kind == "reinforce":
        args += ["--algo", "reinforce"]
        kw["algo"] = "reinforce"
    if kind == "ensemble":
        args += ["--ensemble", 4, "--evolve-every", 4000]
        kw["models"] = 4
    js = run_bin("mbrl_a2c", *args, json_out=True)
    agent = mbrl.A2C("CartPole-v1", seed=3, device="cpu", **kw)
    s = agent.learn(12000, eval_every=5000, eval_episodes=3,
                    evolve_every=4000 if kind == "ensemble" else 0)
    assert s["evals"] == [[k, pytest.approx(v, rel=1e-5)] for k, v in js["evals"]]
    assert s["env_steps"] == js["env_steps"] and s["episodes"] == js["episodes"]
    assert s["evolutions"] == js["evolutions"]
    ours = tmp_path / "ours.h5"
    agent.save(ours)
    assert_same_datasets(ours, ref)


def test_act_policy_state_and_files(tmp_path):
    agent = mbrl.A2C("CartPole-v1", models=3, seed=0, device="cpu")
    agent.learn(2000, eval_every=0, eval_episodes=2)
    obs = np.random.default_rng(0).uniform(-0.05, 0.05, (500, 4)).astype(np.float32)
    agg, probs = agent.policy(obs)
    assert agg.shape == (500, 2) and probs.shape == (3, 500, 2)
    np.testing.assert_allclose(agg, probs.sum(0) / probs.sum(0).sum(1, keepdims=True), rtol=1e-5)
    acts = agent.act(obs)
    assert_same(acts, agg.argmax(1), "greedy actions")
    assert isinstance(agent.act(obs[0]), int)
    sampled = agent.act(obs, deterministic=False, rng=np.random.default_rng(1))
    assert set(np.unique(sampled)) <= {0, 1}
    v = agent.get_state(2)
    agent.set_state(0, v)
    assert_same(agent.get_state(0), v, "state vector")
    p = tmp_path / "pol.h5"
    agent.save(p)
    back = mbrl.A2C.load(p, device="cpu")
    assert back.models == 3 and back.env_id == "CartPole-v1"
    assert_same(back.policy(obs)[0], agent.policy(obs)[0], "loaded policy")
    assert agent.contributions.shape == (3,)
    with pytest.raises(ValueError, match="continuous"):
        mbrl.A2C("Pendulum-v1")
    with pytest.raises(ValueError, match="algo"):
        mbrl.A2C(algo="ppo")
    with pytest.raises(ValueError, match="ensemble"):
        mbrl.A2C(seed=0).learn(100, evolve_every=50)
    with pytest.raises(ValueError, match=r"obs must have shape \(N, 4\)"):
        agent.act(np.zeros((2, 3)))
    with pytest.raises(mbrl.InvalidArgumentError):
        mbrl.A2C(lr=-1.0)
