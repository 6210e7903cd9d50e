"""mbrl.collect and mbrl.Dataset: the same transitions as mbrl_collect, files h5py reads and the
library reloads, from_arrays' checks, and clear errors for missing or damaged files."""

import os

import h5py
import numpy as np
import pytest

import mbrl

from conftest import assert_same


@pytest.mark.parametrize("env_id,episodes,steps", [("Pendulum-v1", 5, None), ("CartPole-v1", 7, 100)])
def test_collect_equals_mbrl_collect(tmp_path, run_bin, env_id, episodes, steps):
    path = tmp_path / "c.h5"
    args = ["--env", env_id, "--episodes", episodes, "--seed", 42, "--out", path]
    if steps:
        args += ["--max-steps", steps]
    run_bin("mbrl_collect", *args)
    ds = mbrl.collect(env_id, episodes=episodes, max_steps=steps, seed=42)
    with h5py.File(path, "r") as f:
        for k in mbrl.dataset.FIELDS:
            assert_same(getattr(ds, k), f[k][()], k)
        for k in mbrl.dataset.STAT_NAMES:
            assert_same(getattr(ds.stats, k), f["stats"][k][()], f"stats/{k}")
        assert f.attrs["episodes"] == ds.episodes == episodes
    assert ds.env_id == env_id and ds.seed == 42 and len(ds) == len(ds.rewards)


def test_save_load_round_trip_and_h5py(tmp_path):
    ds = mbrl.collect("Pendulum-v1", episodes=3, seed=1)
    p = tmp_path / "d.h5"
    ds.save(p)
    with h5py.File(p, "r") as f:
        assert f.attrs["format"] in (b"mbrl.dataset", "mbrl.dataset")
        assert_same(f["actions"][()], ds.actions, "actions via h5py")
    back = mbrl.Dataset.load(p)
    for k in mbrl.dataset.FIELDS:
        assert_same(getattr(back, k), getattr(ds, k), k)
    assert back.episodes == 3 and back.seed == 1
    with pytest.raises(FileExistsError):
        ds.save(p, overwrite=False)
    assert [e - s for s, e in back.episode_bounds()] == [200, 200, 200]


def test_fields_are_read_only_views_that_keep_the_dataset_alive():
    obs = mbrl.collect("Pendulum-v1", episodes=1, seed=0).observations   # dataset dropped
    assert obs.shape == (200, 3) and np.isfinite(obs).all()
    with pytest.raises(ValueError):
        obs[0, 0] = 1.0


def test_from_arrays(tmp_path):
    src = mbrl.collect("Pendulum-v1", episodes=2, seed=5)
    f = {k: np.array(v) for k, v in src.fields.items()}
    ds = mbrl.Dataset.from_arrays("Pendulum-v1", f["observations"].astype(np.float64),
                                  f["actions"], f["next_observations"], f["rewards"].tolist(),
                                  f["terminals"].astype(int), f["timeouts"], seed=5)
    for k in mbrl.dataset.STAT_NAMES:
        assert_same(getattr(ds.stats, k), getattr(src.stats, k), k)
    assert ds.episodes == 2
    # obs_dim is the env's, numbers must be finite, flags 0/1 and never both
    with pytest.raises(ValueError, match=r"shape \(400, 1\)"):
        mbrl.Dataset.from_arrays("Pendulum-v1", f["observations"], f["observations"],
                                 f["next_observations"], f["rewards"], f["terminals"], f["timeouts"])
    bad = f["rewards"].copy()
    bad[7] = np.nan
    with pytest.raises(ValueError, match=r"rewards holds NaN or Inf \(first at index \(7,\)\)"):
        mbrl.Dataset.from_arrays("Pendulum-v1", f["observations"], f["actions"],
                                 f["next_observations"], bad, f["terminals"], f["timeouts"])
    t = f["terminals"].astype(int)
    t[3] = 2
    with pytest.raises(ValueError, match="must be 0 or 1, got 2 at row 3"):
        mbrl.Dataset.from_arrays("Pendulum-v1", f["observations"], f["actions"],
                                 f["next_observations"], f["rewards"], t, f["timeouts"])
    with pytest.raises(ValueError, match="row 199 has terminals and timeouts both set"):
        mbrl.Dataset.from_arrays("Pendulum-v1", f["observations"], f["actions"],
                                 f["next_observations"], f["rewards"], f["timeouts"], f["timeouts"])
    with pytest.raises(ValueError, match="unknown env id"):
        mbrl.Dataset.from_arrays("Nope-v1", *f.values())
    with pytest.raises(TypeError, match="real numbers"):
        mbrl.Dataset.from_arrays("Pendulum-v1", f["observations"].astype(complex), f["actions"],
                                 f["next_observations"], f["rewards"], f["terminals"], f["timeouts"])


def test_file_errors_are_oserrors_with_the_library_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mbrl.Dataset.load(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(OSError, match="junk.h5") as e:
        mbrl.Dataset.load(junk)
    assert isinstance(e.value, mbrl.FileError) and e.value.status == 3  # MBRL_ERR_FORMAT
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(OSError, match="foreign.h5"):
        mbrl.Dataset.load(foreign)
    ds = mbrl.collect("CartPole-v1", episodes=1, seed=0)
    with pytest.raises(OSError, match="no_such_dir"):
        ds.save(tmp_path / "no_such_dir" / "x.h5")
    assert not os.path.exists(tmp_path / "no_such_dir")


def test_collect_checks_arguments():
    with pytest.raises(ValueError, match="episodes"):
        mbrl.collect("Pendulum-v1", episodes=0)
    with pytest.raises(ValueError, match="unknown env id"):
        mbrl.collect("Pendulum-v9")
    with pytest.raises(ValueError, match="seed"):
        mbrl.collect("Pendulum-v1", seed=2**64)
