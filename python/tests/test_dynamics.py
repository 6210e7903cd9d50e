"""mbrl.DynamicsModel: train() writes the weights mbrl_train writes (same seed, same backend: bit
for bit), predict() equals mbrl_train --predict, checkpoints go both ways, errors are clear."""

import json

import h5py
import numpy as np
import pytest

import mbrl

from conftest import assert_same, assert_same_datasets


def test_train_equals_mbrl_train(tmp_path, run_bin, pendulum_data):
    ref = tmp_path / "ref.h5"
    js = run_bin("mbrl_train", "--data", pendulum_data, "--out", ref, "--steps", 700, "--seed", 4,
                 "--batch", 64, "--hidden", "32,32", "--device", "cpu", "--json", json_out=True)
    model = mbrl.DynamicsModel.train(pendulum_data, steps=700, batch_size=64, seed=4, device="cpu",
                                     hidden=(32, 32))
    ours = tmp_path / "ours.h5"
    model.save(ours)
    assert_same_datasets(ours, ref)
    m = model.metrics
    assert m["train_loss"] == pytest.approx(js["train_loss"], rel=1e-6)
    assert m["loss"] == pytest.approx(js["val_loss"], rel=1e-6)
    np.testing.assert_allclose(m["rmse_1"], js["rmse_1step"], rtol=1e-6)
    np.testing.assert_allclose(m["rmse_15"], js["rmse_15step"], rtol=1e-6)
    assert model.history["loss"].shape == (700,)
    assert model.config["seed"] == 4 and model.config["batch"] == 64


def test_predict_equals_mbrl_train_predict(tmp_path, run_bin, pendulum_model):
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (37, 3)).astype(np.float32)
    act = rng.uniform(-2, 2, (37, 1)).astype(np.float32)
    inp, out = tmp_path / "in.h5", tmp_path / "out.h5"
    with h5py.File(inp, "w") as f:
        f["observations"], f["actions"] = obs, act
    run_bin("mbrl_train", "--predict", pendulum_model, "--data", inp, "--out", out, "--device", "cpu")
    with h5py.File(out, "r") as f:
        want = f["next_observations"][()]
    m = mbrl.DynamicsModel.load(pendulum_model, device="cpu")
    np.testing.assert_allclose(m.predict(obs, act), want, rtol=1e-6, atol=1e-6)
    one = m.predict(obs[0], act[0])
    assert one.shape == (3,)
    np.testing.assert_allclose(one, want[0], rtol=1e-6, atol=1e-6)
    assert m.env_id == "Pendulum-v1" and (m.obs_dim, m.act_dim) == (3, 1)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        m.predict(np.zeros((4, 2)), act[:4])
    with pytest.raises(ValueError, match="4 rows but act has 5"):
        m.predict(obs[:4], act[:5])


def test_checkpoint_is_mbrl_trains_format(tmp_path, pendulum_data):
    m = mbrl.DynamicsModel.train(pendulum_data, steps=50, seed=0, device="cpu", val_frac=0.0)
    p = tmp_path / "m.h5"
    m.save(p)
    with h5py.File(p, "r") as f:
        assert f.attrs["format"] in (b"mbrl.dynamics", "mbrl.dynamics")
        assert f["model/network/0/weight"].shape == (64, 4)
        cfg = json.loads(f.attrs["config"])
    assert cfg["created_by"].startswith("mbrl-python")
    m2 = mbrl.DynamicsModel.load(p)
    x = np.zeros((2, 3), np.float32)
    u = np.ones((2, 1), np.float32)
    assert_same(m2.predict(x, u), m.predict(x, u), "reloaded predictions")


def test_logdir_and_errors(tmp_path, pendulum_data):
    m = mbrl.DynamicsModel.train(pendulum_data, steps=100, seed=0, device="cpu", logdir=tmp_path / "log",
                                 eval_every=50)
    rows = (tmp_path / "log" / "metrics.csv").read_text().splitlines()
    assert rows[0] == "step,tag,value" and "0,train_model/loss," in rows[1]
    assert any(r.startswith("50,val/loss,") for r in rows) and any(r.startswith("100,val/loss,") for r in rows)
    assert len(m.history["val_loss"]) == 2
    with pytest.raises(FileNotFoundError):
        mbrl.DynamicsModel.load(tmp_path / "none.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(OSError, match="bad.h5"):
        mbrl.DynamicsModel.load(bad)
    with pytest.raises(ValueError, match="batch_size 5000 is larger than the training split"):
        mbrl.DynamicsModel.train(pendulum_data, steps=10, batch_size=5000)
    with pytest.raises(ValueError, match="device"):
        mbrl.DynamicsModel.train(pendulum_data, steps=10, device="tpu")
    with pytest.raises(mbrl.NumericError, match="non-finite|NaN|nan|Inf"):
        mbrl.DynamicsModel.train(pendulum_data, steps=200, lr=1e30, device="cpu")


def test_closed_objects_raise_instead_of_crashing(pendulum_model):
    m = mbrl.DynamicsModel.load(pendulum_model, device="cpu")
    p = mbrl.Planner(m, "Pendulum-v1", samples=8, horizon=2, device="cpu")
    m.close()
    m.close()
    with pytest.raises(RuntimeError, match="closed"):
        m.predict(np.zeros(3), np.zeros(1))
    with pytest.raises(RuntimeError, match="closed"):
        mbrl.Planner(m, "Pendulum-v1")
    p.plan(np.zeros(3))                   # the planner holds its own copy of the model
    p.close()
    with pytest.raises(RuntimeError, match="closed"):
        p.plan(np.zeros(3))
    net = mbrl.MLP([2, 2], device="cpu")
    net.close()
    with pytest.raises(RuntimeError, match="closed"):
        net.forward(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="closed"):
        net.get_params()
    agent = mbrl.A2C(seed=0, device="cpu")
    agent.close()
    with pytest.raises(RuntimeError, match="closed"):
        agent.iterate()
    with pytest.raises(RuntimeError, match="closed"):
        agent.act(np.zeros(4))
