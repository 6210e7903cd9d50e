"""Shared fixtures of the Python suite. ./scripts/test runs it against the Release build:
MBRL_LIBRARY=build/lib/libmbrl.so and PYTHONPATH=python, so the package and the programs of
build/bin (mbrl_collect, mbrl_train, mbrl_mpc, mbrl_a2c: the references the package must equal)
come from one build. MBRL_BUILD_DIR overrides the build folder.

scripts/test also sets NPY_DISABLE_CPU_FEATURES=AVX512_SKX on AVX-512 machines (as
tests/gymvenv.py does): numpy's AVX-512 float64 sin/cos (SVML) round differently from libm in the
last bit, and with them the real Gymnasium's trajectories differ from ours (and from Gymnasium's
own on other machines). LIBM_TRIG says whether numpy's sin/cos are libm's in this interpreter:
then comparisons with gymnasium are exact; else they are looser or skipped, as each test says."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _libm_trig(n=20000):
    import math
    x = np.random.default_rng(7).uniform(-30, 30, n)
    return bool(np.all(np.sin(x) == np.array([math.sin(v) for v in x])) and
                np.all(np.cos(x) == np.array([math.cos(v) for v in x])))


LIBM_TRIG = _libm_trig()
NEEDS_LIBM_TRIG = ("numpy's float64 sin/cos are not libm's here (AVX-512 SVML): gymnasium's "
                   "trajectories part from ours in the last bit; run with "
                   "NPY_DISABLE_CPU_FEATURES=AVX512_SKX, as scripts/test does")


def build_dir():
    d = os.environ.get("MBRL_BUILD_DIR")
    if d:
        return os.path.abspath(d)
    lib = os.environ.get("MBRL_LIBRARY")
    if lib:
        return os.path.dirname(os.path.dirname(os.path.abspath(lib)))
    return os.path.join(ROOT, "build")


@pytest.fixture(scope="session")
def bindir():
    d = os.path.join(build_dir(), "bin")
    if not os.path.isfile(os.path.join(d, "mbrl_mpc")):
        pytest.skip(f"no mbrl programs in {d} (build them: ./scripts/build build)")
    return d


@pytest.fixture(scope="session")
def run_bin(bindir):
    """run_bin(name, *args, json_out=False) -> CompletedProcess (or the parsed JSON)."""
    def run(name, *args, json_out=False, check=True):
        p = subprocess.run([os.path.join(bindir, name), *map(str, args)], capture_output=True,
                           text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if check and p.returncode != 0:
            raise AssertionError(f"{name} {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}")
        return json.loads(p.stdout) if json_out else p
    return run


@pytest.fixture(scope="session")
def pendulum_data(tmp_path_factory, run_bin):
    """A small mbrl_collect dataset (6 episodes of 200 steps, seed 999) and its path."""
    path = tmp_path_factory.mktemp("data") / "pendulum.h5"
    run_bin("mbrl_collect", "--episodes", 6, "--seed", 999, "--out", path)
    return str(path)


@pytest.fixture(scope="session")
def pendulum_model(tmp_path_factory, run_bin, pendulum_data):
    """A checkpoint mbrl_train makes from pendulum_data (600 steps, seed 1, CPU)."""
    path = tmp_path_factory.mktemp("model") / "model.h5"
    run_bin("mbrl_train", "--data", pendulum_data, "--out", path, "--steps", 600, "--seed", 1,
            "--device", "cpu")
    return str(path)


def python_env():
    """The environment for a child Python that imports this mbrl (library + sources)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "python") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_python(args, cwd=None, env=None, timeout=600):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=env or python_env(), timeout=timeout)


def assert_same(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} vs {b.shape}"
    if not np.array_equal(a, b):
        i = np.argwhere(a != b)[0]
        raise AssertionError(f"{what} differ first at {tuple(i)}: {a[tuple(i)]!r} vs {b[tuple(i)]!r}")


def h5_datasets(path):
    """{name: array} of every dataset in an HDF5 file (h5py)."""
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
    return out


def assert_same_datasets(path_a, path_b):
    """Two HDF5 files hold the same datasets with the same values, bit for bit."""
    a, b = h5_datasets(path_a), h5_datasets(path_b)
    assert set(a) == set(b), sorted(set(a) ^ set(b))
    for k in a:
        assert_same(a[k], b[k], k)
