#!/usr/bin/python3
"""py_nprandom_reference.py - tests/data/nprandom_golden.txt is what numpy gives today.

tests/test_nprandom.cpp and tests/test_env.cpp compare our SeedSequence / PCG64 / env resets
with the committed golden file; this test re-makes the file's lines in memory with the
installed numpy (scripts/make_golden_nprandom.py's golden_lines) and demands they are equal,
so the C++ tests check against numpy itself, not against a stale or hand-edited file. It also
checks a few of numpy's facts the golden script relies on (SeedSequence's constants, that
Generator.uniform draws one random_raw per double as (raw >> 11) * 2^-53).
Exit 0 pass, 1 fail, 77 skip (numpy missing).
Usage: /usr/bin/python3 tests/py_nprandom_reference.py [--bin BUILD/bin] (the binaries are not used)
"""
import argparse
import importlib.util
import os
import sys

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"py_nprandom_reference: skipped: {e}")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_script():
    path = os.path.join(ROOT, "scripts", "make_golden_nprandom.py")
    spec = importlib.util.spec_from_file_location("make_golden_nprandom", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", help="unused (uniform interface of the py_ tests)")
    ap.parse_args()
    failures = []
    mod = load_script()
    want = mod.golden_lines()
    with open(os.path.join(HERE, "data", "nprandom_golden.txt")) as f:
        got = f.read().splitlines()
    # the first line names the numpy version that wrote the file; the numbers must not differ
    if len(got) != len(want):
        failures.append(f"golden file has {len(got)} lines, numpy gives {len(want)}")
    for i, (g, w) in enumerate(zip(got[1:], want[1:]), start=2):
        if g != w:
            failures.append(f"line {i}: file {g[:120]!r}... != numpy {w[:120]!r}...")

    # numpy facts the C transcription relies on
    for s in (0, 42, 2**63):
        bg = np.random.PCG64(np.random.SeedSequence(s))
        raw = np.random.PCG64(np.random.SeedSequence(s)).random_raw(3)
        u = np.random.Generator(bg).uniform(-2.5, 4.0, size=3)
        want_u = -2.5 + 6.5 * ((raw >> np.uint64(11)).astype(np.float64) * 2.0**-53)
        if not np.array_equal(u, want_u):
            failures.append(f"seed {s}: uniform {u} != low + range * (raw >> 11) * 2^-53 {want_u}")
        st = np.random.PCG64(s).state["state"]
        st2 = np.random.PCG64(np.random.SeedSequence(s)).state["state"]
        if st != st2:
            failures.append(f"seed {s}: PCG64(int) and PCG64(SeedSequence(int)) differ")
    words = np.random.SeedSequence(2**32 + 5).generate_state(4, np.uint64)
    words32 = np.random.SeedSequence(2**32 + 5).generate_state(8, np.uint32)
    if not np.array_equal(words, words32.astype("<u4").view("<u8")):
        failures.append("generate_state(4, uint64) is not 8 uint32 words viewed little-endian")

    for f in failures[:20]:
        print("FAIL:", f)
    if failures:
        print(f"py_nprandom_reference: {len(failures)} failures "
              "(re-run scripts/make_golden_nprandom.py if numpy changed on purpose)")
        return 1
    print(f"py_nprandom_reference: {len(want) - 1} golden lines equal numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
