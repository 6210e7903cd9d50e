"""The gymnasium wrappers registered as mbrl/<id>: gymnasium's env checker, and the envs against
the real gymnasium ones (reset by reset, step by step, np_random's state)."""

import warnings

import numpy as np
import pytest

import gymnasium
from gymnasium.utils.env_checker import check_env

import mbrl

from conftest import LIBM_TRIG, NEEDS_LIBM_TRIG, assert_same

IDS = mbrl.env_ids()


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return sorted({str(x.message) for x in w})


@pytest.mark.parametrize("env_id", IDS)
def test_registered_for_every_c_id(env_id):
    spec = gymnasium.spec(f"mbrl/{env_id}")
    assert spec.max_episode_steps == mbrl.env_spec(env_id).max_steps
    env = gymnasium.make(f"mbrl/{env_id}")
    assert isinstance(env.unwrapped, mbrl.gym.MbrlEnv)


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_passes(env_id):
    env = gymnasium.make(f"mbrl/{env_id}")
    ours = _warnings_of(lambda: check_env(env.unwrapped))
    # The only warnings allowed are those gymnasium's own env of the id gives (e.g. Pendulum's
    # "use a symmetric action space"); ids gymnasium lacks must give none.
    try:
        theirs = _warnings_of(lambda: check_env(gymnasium.make(env_id).unwrapped, skip_render_check=True))
    except gymnasium.error.Error:
        theirs = []
    extra = [w for w in ours if w not in theirs and "infinit" not in w]
    assert not extra, extra


def test_make_with_module_prefix_imports_mbrl():
    env = gymnasium.make("mbrl:mbrl/CartPole-v1")
    assert env.reset(seed=0)[0].shape == (4,)


@pytest.mark.parametrize("env_id", [i for i in IDS if i in gymnasium.envs.registration.registry])
def test_equals_gymnasium_reset_by_reset_and_step_by_step(env_id):
    if not LIBM_TRIG and env_id != "CartPole-v1":
        pytest.skip(NEEDS_LIBM_TRIG)
    ours, ref = gymnasium.make(f"mbrl/{env_id}"), gymnasium.make(env_id)
    ref.action_space.seed(5)
    for ep in range(4):
        seed = 40 + ep if ep % 2 == 0 else None          # seeded and continued resets
        o1, _ = ours.reset(seed=seed)
        o2, _ = ref.reset(seed=seed)
        assert_same(o1, o2, f"reset {ep}")
        st1 = ours.unwrapped.np_random.bit_generator.state
        st2 = ref.unwrapped.np_random.bit_generator.state
        assert st1 == st2, "np_random must be Gymnasium's generator after the reset"
        for t in range(1000):
            a = ref.action_space.sample()
            s1, s2 = ours.step(a), ref.step(a)
            assert_same(s1[0], s2[0], f"obs, episode {ep} step {t}")
            assert np.float32(s1[1]) == np.float32(s2[1]), (ep, t, s1[1], s2[1])
            assert s1[2:4] == s2[2:4], (ep, t, s1[2:4], s2[2:4])
            if s1[2] or s1[3]:
                break


def test_user_draws_from_np_random_shift_the_next_reset_as_in_gymnasium():
    ours, ref = gymnasium.make("mbrl/Pendulum-v1"), gymnasium.make("Pendulum-v1")
    ours.reset(seed=3)
    ref.reset(seed=3)
    ours.unwrapped.np_random.uniform(size=5)
    ref.unwrapped.np_random.uniform(size=5)
    assert_same(ours.reset()[0], ref.reset()[0], "reset after user draws")


def test_single_env_checks_actions():
    env = gymnasium.make("mbrl/CartPole-v1").unwrapped
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        env.step(2)
    p = gymnasium.make("mbrl/Pendulum-v1").unwrapped
    p.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        p.step(np.zeros(2))
    with pytest.raises(ValueError, match="render"):
        gymnasium.make("mbrl/Pendulum-v1", render_mode="human")


def test_make_vec_uses_the_c_batch():
    envs = gymnasium.make_vec("mbrl/Pendulum-v1", num_envs=6)
    assert isinstance(envs, mbrl.gym.MbrlVectorEnv)
    assert envs.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
    o, _ = envs.reset(seed=11)
    ref = gymnasium.make_vec("Pendulum-v1", num_envs=6, vectorization_mode="sync")
    assert_same(o, ref.reset(seed=11)[0], "vector reset")
    o2, r, te, tr, info = envs.step(envs.action_space.sample())
    assert o2.shape == (6, 3) and r.shape == (6,) and te.dtype == np.bool_
    assert o2 is not envs._venv.obs                  # copies by default, as gymnasium's
    envs.close()
    with pytest.raises(ValueError, match="max_episode_steps"):
        gymnasium.make_vec("mbrl/Pendulum-v1", num_envs=2, max_episode_steps=50)
