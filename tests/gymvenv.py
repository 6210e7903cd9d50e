"""gymvenv.py - run a Python test under the project's venv, where the real Gymnasium is.

tests/py_gym_*.py call ensure(__file__) first. Under ctest they start with Debian's
/usr/bin/python3 (no Gymnasium); ensure() makes the venv with scripts/venv (Debian's python3
with --system-site-packages plus the pins of scripts/requirements-py.txt; idempotent, under a
lock so that parallel tests do not build it twice) and re-executes the test with its python.
If the venv cannot be made (no package index, no python3-venv) the test exits 77: skipped.

It also sets NPY_DISABLE_CPU_FEATURES=AVX512_SKX on CPUs with AVX-512: numpy's AVX-512 build
computes float64 sin/cos with SVML, which rounds differently from libm (the last bit of ~60%
of results here), so Gymnasium's own numbers then depend on the machine. With that dispatch
off numpy's float64 sin/cos are libm's, and Gymnasium is the same on every x86-64 machine.
libm_trig() says whether that holds in the running interpreter.
"""
import hashlib
import os
import subprocess
import sys
import tempfile

_MARK = "MBRL_GYM_VENV"


def _cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512bw" in line for line in f)
    except OSError:
        return False


def ensure(script):
    """Re-execute `script` under scripts/venv's python (once); exit 77 if there is none."""
    if os.environ.get(_MARK) == "1":
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(script)))
    tag = hashlib.sha1(root.encode()).hexdigest()[:12]
    lock = os.path.join(tempfile.gettempdir(), f"mbrl-venv-{tag}.lock")
    try:
        import fcntl
        with open(lock, "w") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            p = subprocess.run([os.path.join(root, "scripts", "venv")], capture_output=True,
                               text=True)
    except OSError as e:
        print(f"{os.path.basename(script)}: skipped: cannot run scripts/venv: {e}")
        sys.exit(77)
    if p.returncode != 0 or not p.stdout.strip():
        print(f"{os.path.basename(script)}: skipped: scripts/venv could not make the venv "
              f"(exit {p.returncode}): {p.stderr.strip()[-2000:]}")
        sys.exit(77)
    py = p.stdout.strip().splitlines()[-1]
    env = dict(os.environ)
    env[_MARK] = "1"
    if _cpu_has_avx512() and "NPY_DISABLE_CPU_FEATURES" not in env:
        env["NPY_DISABLE_CPU_FEATURES"] = "AVX512_SKX"
    sys.stdout.flush()
    os.execve(py, [py, os.path.abspath(script)] + sys.argv[1:], env)


def libm_trig(n=20000):
    """True when numpy's float64 sin/cos equal libm's (math.sin/cos) on n random arguments."""
    import math
    import numpy as np
    x = np.random.default_rng(7).uniform(-30, 30, n)
    return bool(np.all(np.sin(x) == np.array([math.sin(v) for v in x])) and
                np.all(np.cos(x) == np.array([math.cos(v) for v in x])))
