"""Wrong arguments of every kind into every entry point: each is refused with an exception (or
converted), never a crash (a crash would take the whole pytest process down)."""

import numpy as np
import pytest

import mbrl

BAD_ARRAYS = [None, "abc", [[1, 2], [3]], np.zeros((0, 3)), np.zeros((2, 3, 1)), np.array(object()),
              np.zeros(3, complex), {"a": 1}]


def _refused(fn, *args, **kw):
    with pytest.raises((TypeError, ValueError, OSError, RuntimeError)):
        fn(*args, **kw)


@pytest.mark.parametrize("bad", BAD_ARRAYS, ids=range(len(BAD_ARRAYS)))
def test_bad_arrays(bad, pendulum_model):
    env = mbrl.make_env("Pendulum-v1", num_envs=2, seed=0)
    env.reset()
    _refused(env.step, bad)
    planner = mbrl.Planner("oracle", "Pendulum-v1", samples=8, horizon=2, device="cpu")
    _refused(planner.plan, bad)
    model = mbrl.DynamicsModel.load(pendulum_model, device="cpu")
    _refused(model.predict, bad, np.zeros((2, 1)))
    _refused(model.predict, np.zeros((2, 3)), bad)
    net = mbrl.MLP([3, 4, 2], device="cpu")
    _refused(net.forward, bad)
    net.forward(np.zeros((2, 3)))
    _refused(net.backward, bad)
    _refused(net.set_params, bad)
    agent = mbrl.A2C(seed=0, device="cpu")
    _refused(agent.act, bad)
    _refused(agent.set_state, 0, bad)
    ok = mbrl.collect("Pendulum-v1", episodes=1, seed=0)
    f = dict(ok.fields)
    for k in f:
        _refused(mbrl.Dataset.from_arrays, "Pendulum-v1", **{**f, k: bad})


@pytest.mark.parametrize("bad", [None, 3, b"\0x", "x\0y", ["Pendulum-v1"], "", "Pendulum-v1 "])
def test_bad_names(bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused(mbrl.make_env, bad)
    _refused(mbrl.collect, bad)
    _refused(mbrl.Planner, "oracle", bad)
    _refused(mbrl.Dataset.load, bad)
    _refused(mbrl.DynamicsModel.load, bad)
    _refused(mbrl.MLP.load, bad)
    _refused(mbrl.A2C, bad)
    if bad != "Pendulum-v1 ":                  # (a fine file name)
        _refused(mbrl.collect("CartPole-v1", episodes=1).save, bad)


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, "3", None, np.float64(2.0)])
def test_bad_integers(bad):
    _refused(mbrl.make_env, "Pendulum-v1", num_envs=bad)
    _refused(mbrl.collect, "Pendulum-v1", episodes=bad)
    _refused(mbrl.Planner, "oracle", "Pendulum-v1", samples=bad)
    _refused(mbrl.A2C, models=bad)
    if bad is not None:
        _refused(mbrl.make_env("Pendulum-v1").reset, seed=bad)
        _refused(mbrl.collect, "Pendulum-v1", seed=bad)
        _refused(mbrl.MLP, [2, bad])


def test_devices():
    for bad in ("gpu", "CUDA:0", "", None, 1):
        _refused(mbrl.Planner, "oracle", "Pendulum-v1", device=bad)
        _refused(mbrl.MLP, [2, 2], device=bad)
    if not mbrl.cuda_available():
        with pytest.raises(mbrl.UnsupportedError, match="cuda"):
            mbrl.MLP([2, 2], device="cuda")


def test_nan_and_inf_inputs_do_not_crash():
    planner = mbrl.Planner("oracle", "Pendulum-v1", samples=8, horizon=2, device="cpu")
    with pytest.raises(mbrl.NumericError, match="not finite"):       # the library refuses it
        planner.plan(np.array([np.nan, np.inf, -np.inf], np.float32))
    assert planner.plan(np.zeros(3)).shape == (1,)
    env = mbrl.make_env("Pendulum-v1", num_envs=2, seed=0)
    env.reset()
    env.step(np.array([np.nan, np.inf], np.float32))
    net = mbrl.MLP([2, 2], device="cpu")
    assert np.isnan(net.forward(np.array([[np.nan, 0.0]]), train=False)).all()
