"""`pip install .` and `pip install -e .` work: scikit-build-core builds the library with the
project's CMakeLists.txt and installs it inside the package, found relative to it.

To keep ./scripts/test short this is the cached variant: no build isolation (scikit-build-core
from the project venv), CPU only (-DMBRL_CUDA=OFF: the Release build already compiles the CUDA
kernels once), the CMake build kept in build/pip-test between runs (the first run compiles the
host sources, ~40 s on 2 busy cores; later runs only relink if nothing changed). The wheel goes
into one fresh venv, the editable install into another, and each imports mbrl from a neutral
folder with MBRL_LIBRARY and PYTHONPATH unset. The full isolated build with CUDA
(`pip install .` into a fresh venv) is measured by hand (python/README.md)."""

import glob
import os
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from conftest import ROOT

SMOKE = r"""
import os, sys, numpy as np, mbrl
lib = mbrl.library_path()
assert lib.startswith(sys.argv[1]), (lib, sys.argv[1])
ds = mbrl.collect("Pendulum-v1", episodes=2, seed=1)
m = mbrl.DynamicsModel.train(ds, steps=20, val_frac=0.0, device="cpu")
a = mbrl.Planner(m, "Pendulum-v1", samples=64, horizon=5, device="cpu").plan(ds.observations[0])
env = mbrl.make_env("CartPole-v1", num_envs=8, seed=0)
env.reset()
env.step(np.zeros(8))
print("ok", lib, a)
"""


def _clean_env():
    env = {k: v for k, v in os.environ.items() if k not in ("MBRL_LIBRARY", "PYTHONPATH", "MBRL_BUILD_DIR")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def _venv(path):
    base = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys._base_executable
    _run([base, "-m", "venv", "--system-site-packages", "--without-pip", path])
    return os.path.join(path, "bin", "python")


def _site_packages(py):
    return subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_pip_wheel_and_editable_install(tmp_path):
    pytest.importorskip("scikit_build_core")
    build = os.path.join(ROOT, "build", "pip-test")
    settings = [f"--config-settings=build-dir={build}", "--config-settings=cmake.define.MBRL_CUDA=OFF"]
    env = _clean_env()
    # the build backend comes from this (the project's) venv
    env_build = dict(env, PYTHONPATH=sysconfig.get_paths()["purelib"])

    # 1. a wheel, into a fresh venv
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-build-isolation", "--no-deps",
          "-w", wheels, *settings], env=env_build, cwd=tmp_path)
    whl = glob.glob(str(wheels / "mbrl-*.whl"))
    assert len(whl) == 1, whl
    names = zipfile.ZipFile(whl[0]).namelist()
    assert "mbrl/libmbrl.so" in names and "mbrl/__init__.py" in names and "mbrl/plot.py" in names
    py1 = _venv(tmp_path / "v1")
    _run([sys.executable, "-m", "pip", "--python", py1, "install", "--no-deps", "--no-index", whl[0]],
         env=env)
    out = _run([py1, "-c", SMOKE, _site_packages(py1)], env=env, cwd=tmp_path).stdout
    assert out.startswith("ok")

    # 2. editable: python files from python/mbrl, the library from the (same) build
    py2 = _venv(tmp_path / "v2")
    _run([sys.executable, "-m", "pip", "--python", py2, "install", "--no-build-isolation", "--no-deps",
          "-e", ROOT, *settings], env=env_build, cwd=tmp_path)
    out = _run([py2, "-c", SMOKE + "assert mbrl.__file__.startswith(sys.argv[2]), mbrl.__file__\n",
                _site_packages(py2), os.path.join(ROOT, "python", "mbrl")], env=env, cwd=tmp_path).stdout
    assert out.startswith("ok")
