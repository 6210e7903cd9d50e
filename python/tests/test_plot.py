"""python -m mbrl.plot: a recorded MPC run and a training log become PNGs; bad inputs exit 1
with a message."""

import os
import struct

import pytest

from conftest import run_python

pytest.importorskip("matplotlib")


def _is_png(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])          # width, height


def test_plot_mpc_record(tmp_path, run_bin, pendulum_model):
    rec = tmp_path / "run.h5"
    run_bin("mbrl_mpc", "--model", pendulum_model, "--episodes", 2, "--max-steps", 60,
            "--record", rec, "--device", "cpu")
    out = tmp_path / "run.png"
    p = run_python(["-m", "mbrl.plot", str(rec), "-o", str(out), "--episode", "1"])
    assert p.returncode == 0, p.stderr
    w, h = _is_png(out)
    assert w >= 400 and h >= 300
    p = run_python(["-m", "mbrl.plot", str(rec), "--episode", "5"])
    assert p.returncode == 1 and "episodes 0..1" in p.stderr


def test_plot_training_log(tmp_path, run_bin, pendulum_data):
    run_bin("mbrl_train", "--data", pendulum_data, "--out", tmp_path / "m.h5", "--steps", 200,
            "--eval-every", 100, "--logdir", tmp_path / "log", "--device", "cpu")
    p = run_python(["-m", "mbrl.plot", "--train", str(tmp_path / "log")])
    assert p.returncode == 0, p.stderr
    _is_png(tmp_path / "log" / "train.png")


def test_plot_errors(tmp_path, pendulum_data):
    p = run_python(["-m", "mbrl.plot", str(tmp_path / "missing.h5")])
    assert p.returncode == 1 and "does not exist" in p.stderr
    p = run_python(["-m", "mbrl.plot", pendulum_data])
    assert p.returncode == 1 and "not an MPC record" in p.stderr
    p = run_python(["-m", "mbrl.plot", "--train", str(tmp_path)])
    assert p.returncode == 1 and "no metrics.csv" in p.stderr
    p = run_python(["-m", "mbrl.plot"])
    assert p.returncode == 2
    assert not os.listdir(tmp_path)
