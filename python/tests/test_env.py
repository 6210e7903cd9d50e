"""mbrl.make_env against Gymnasium's own vector envs (the real package: gymnasium.make_vec of the
same id, sync, autoreset SAME_STEP): observations, rewards, flags and final observations step by
step across autoresets; the arrays shared with C; argument checks."""

import numpy as np
import pytest

import gymnasium
from gymnasium.vector import AutoresetMode

import mbrl

from conftest import LIBM_TRIG, NEEDS_LIBM_TRIG, assert_same

# steps that cross at least one time limit of each env
STEPS = {"Pendulum-v1": 430, "CartPole-v1": 300, "MountainCar-v0": 430,
         "MountainCarContinuous-v0": 1050, "Acrobot-v1": 540}


def test_env_ids_come_from_the_c_registry():
    ids = mbrl.env_ids()
    assert "Pendulum-v1" in ids and "CartPole-v1" in ids
    for i in ids:
        s = mbrl.env_spec(i)
        assert s.id == i and s.obs_dim >= 1 and s.act_dim >= 1 and s.max_steps >= 1


@pytest.mark.parametrize("env_id", [i for i in mbrl.env_ids() if i in gymnasium.registry])
def test_steps_equal_gymnasium_vector_env(env_id):
    if not LIBM_TRIG and env_id != "CartPole-v1":      # (CartPole uses Python's math.sin)
        pytest.skip(NEEDS_LIBM_TRIG)
    B, seed, steps = 5, 123, STEPS.get(env_id, 600)
    ours = mbrl.make_env(env_id, num_envs=B, seed=seed)
    ref = gymnasium.make_vec(env_id, num_envs=B, vectorization_mode="sync",
                             vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    o1, _ = ours.reset()
    o2, _ = ref.reset(seed=seed)
    assert_same(o1, o2, "reset observations")
    rng = np.random.default_rng(0)
    spec = mbrl.env_spec(env_id)
    ends = 0
    for t in range(steps):
        if spec.discrete:
            a = rng.integers(0, spec.n_actions, size=B)
        else:
            a = rng.uniform(spec.act_low[0], spec.act_high[0], size=(B, 1)).astype(np.float32)
        o1, r1, te1, tr1, i1 = ours.step(a)
        o2, r2, te2, tr2, i2 = ref.step(a)
        assert_same(o1, o2, f"observations at step {t}")
        np.testing.assert_allclose(r1, r2, rtol=1e-6, atol=1e-6, err_msg=f"rewards at step {t}")
        assert_same(te1, te2, f"terminated at step {t}")
        assert_same(tr1, tr2, f"truncated at step {t}")
        if "_final_obs" in i2:
            ends += int(i2["_final_obs"].sum())
            assert_same(i1["_final_obs"], i2["_final_obs"], f"_final_obs at step {t}")
            for b in np.flatnonzero(i2["_final_obs"]):
                assert_same(i1["final_obs"][b], i2["final_obs"][b], f"final_obs[{b}] at step {t}")
        else:
            assert "_final_obs" not in i1
    assert ends >= 1, "the run must cross an autoreset"


def test_arrays_are_shared_not_copied():
    env = mbrl.make_env("Pendulum-v1", num_envs=3, seed=0)
    obs, _ = env.reset()
    assert obs is env.obs
    p = obs.__array_interface__["data"][0]
    for _ in range(3):
        o, r, te, tr, _ = env.step(np.zeros((3, 1), np.float32))
        assert o is env.obs and r is env.rewards and te is env.terminated and tr is env.truncated
        assert o.__array_interface__["data"][0] == p
    env.actions[:] = 1.0                   # writing into env.actions skips the copy
    before = env.obs.copy()
    env.step(env.actions)
    assert not np.array_equal(before, env.obs)
    c = mbrl.make_env("Pendulum-v1", num_envs=3, seed=0, copy=True)
    o1, _ = c.reset()
    o2, *_ = c.step(np.zeros(3))
    assert o1 is not o2 and o2 is not c.obs


def test_reset_seeds_and_continuation():
    a = mbrl.make_env("CartPole-v1", num_envs=4, seed=7)
    b = mbrl.make_env("CartPole-v1", num_envs=4)
    oa, _ = a.reset()
    ob, _ = b.reset(seed=7)
    assert_same(oa, ob, "reset(seed) vs make_env(seed)")
    for _ in range(3):                   # reset() continues env b's generator (seed 7 + b)
        oa, _ = a.reset()
    ref = [gymnasium.make("CartPole-v1") for _ in range(4)]
    want = [e.reset(seed=7 + i)[0] for i, e in enumerate(ref)]
    for _ in range(3):
        want = [e.reset()[0] for e in ref]
    assert_same(oa, np.stack(want), "4th reset")
    # no seed anywhere: a random one, different between two envs (with overwhelming odds)
    r1, _ = mbrl.make_env("Pendulum-v1", 2).reset()
    r2, _ = mbrl.make_env("Pendulum-v1", 2).reset()
    assert not np.array_equal(r1, r2)


def test_actions_are_converted_or_refused():
    env = mbrl.make_env("Pendulum-v1", num_envs=2, seed=0)
    env.reset()
    env.step([0.5, -0.5])                        # list, 1-D for act_dim 1
    env.step(np.array([[1], [2]], np.int64))     # integers
    env.step(np.zeros((2, 1), np.float64)[::1])
    with pytest.raises(ValueError, match=r"shape \(2, 1\)"):
        env.step(np.zeros((3, 1)))
    with pytest.raises(TypeError, match="numbers"):
        env.step(np.array(["a", "b"]))
    cart = mbrl.make_env("CartPole-v1", num_envs=2, seed=0)
    cart.reset()
    cart.step(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"integers in \[0, 2\)"):
        cart.step(np.array([0, 2]))
    with pytest.raises(ValueError, match=r"integers in \[0, 2\)"):
        cart.step(np.array([0.5, 1.0]))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown env id 'Nope-v0'.*Pendulum-v1"):
        mbrl.make_env("Nope-v0")
    with pytest.raises(ValueError, match="num_envs"):
        mbrl.make_env("Pendulum-v1", num_envs=0)
    with pytest.raises(TypeError):
        mbrl.make_env("Pendulum-v1", num_envs=2.5)
    with pytest.raises(ValueError, match="seed"):
        mbrl.make_env("Pendulum-v1", seed=-1)
    env = mbrl.make_env("Pendulum-v1", num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2))
    env.reset(seed=1)
    env.close()
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.step(np.zeros(2))
    with pytest.raises(RuntimeError, match="closed"):
        env.reset()
    assert isinstance(mbrl.InvalidArgumentError("x"), ValueError)
    assert isinstance(mbrl.FileError("x"), OSError)


def test_spaces():
    env = mbrl.make_env("CartPole-v1", num_envs=3)
    assert env.single_action_space == gymnasium.spaces.Discrete(2)
    assert env.observation_space.shape == (3, 4)
    p = mbrl.make_env("Pendulum-v1", num_envs=2)
    ref = gymnasium.make("Pendulum-v1")
    assert p.single_action_space == ref.action_space
    assert p.single_observation_space == ref.observation_space


def test_shared_buffers_cannot_be_rebound():
    env = mbrl.make_env("Pendulum-v1", num_envs=2, seed=0)
    for name in ("obs", "next_obs", "rewards", "terminated", "truncated", "actions"):
        with pytest.raises(AttributeError):
            setattr(env, name, np.zeros(2))
