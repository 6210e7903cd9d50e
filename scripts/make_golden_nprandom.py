#!/usr/bin/python3
"""scripts/make_golden_nprandom.py - numpy golden vectors for mbrl/nprandom.h and the env resets.

Writes tests/data/nprandom_golden.txt, read by tests/test_nprandom.cpp (and re-made in memory
and compared by tests/py_nprandom_reference.py, so a stale or edited file fails a test).
Every number comes from numpy's own classes: np.random.SeedSequence, np.random.PCG64,
np.random.Generator (the generator Gymnasium's env.reset(seed=s) builds, see
gymnasium/utils/seeding.py np_random). Doubles are written with float.hex (exact).

Line formats (one case per `seed` line, values separated by spaces):
  seed HI LO                  integer seed = HI * 2^64 + LO (decimal)
  words N w0 .. wN-1          numpy's uint32 entropy words of the seed
  gen32 M g0 .. gM-1          SeedSequence(seed).generate_state(M, np.uint32)
  state SH SL IH IL           PCG64(seed).state: state high/low, inc high/low halves
  raw N r0 ..                 the first N PCG64(seed).random_raw() values
  advance DH DL R             PCG64(seed).advance(DH * 2^64 + DL); then one random_raw()
  pendulum N th0 td0 ..       N Gymnasium Pendulum resets: reset(seed), then reset() N-1 times
  cartpole N x0 xd0 t0 td0 .. N Gymnasium CartPole resets, the same way
  seedseq N e0 .. M g0 ..     SeedSequence([e0..]).generate_state(M, np.uint32) (list entropy)
Usage: /usr/bin/python3 scripts/make_golden_nprandom.py [--out tests/data/nprandom_golden.txt]
"""
import argparse
import os

import numpy as np

SEEDS = [0, 1, 7, 42, 123, 999, 12345, 2**31, 2**32 - 1, 2**32 + 5, 2**63, 2**64 - 1,
         2**64, 2**64 + 7, 2**100 + 3, 2**128 - 1]
ADVANCES = [1, 2, 1000, 2**40 + 17, 2**64 + 5, 2**127 + 2**64 + 3]
SEEDSEQ_ENTROPY = [[], [5], [1, 2, 3, 4], [1, 2, 3, 4, 5], [0xFFFFFFFF] * 7]
N_RESETS = 6
MASK64 = 2**64 - 1


def int_words(n):
    """numpy's _int_to_uint32_array (low words first, [0] for 0)."""
    w = []
    if n == 0:
        w.append(0)
    while n > 0:
        w.append(n & 0xFFFFFFFF)
        n >>= 32
    return w


def gym_np_random(seed):
    """gymnasium.utils.seeding.np_random(seed)[0]."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def pendulum_resets(seed, n):
    rng = gym_np_random(seed)
    high = np.array([np.pi, 1.0])  # DEFAULT_X, DEFAULT_Y of PendulumEnv.reset
    return [rng.uniform(low=-high, high=high) for _ in range(n)]


def cartpole_resets(seed, n):
    rng = gym_np_random(seed)
    return [rng.uniform(low=-0.05, high=0.05, size=(4,)) for _ in range(n)]


def golden_lines():
    lines = [f"# nprandom_golden.txt - written by scripts/make_golden_nprandom.py with numpy "
             f"{np.__version__}; do not edit"]
    for s in SEEDS:
        lines.append(f"seed {s >> 64} {s & MASK64}")
        w = int_words(s)
        lines.append("words %d %s" % (len(w), " ".join(map(str, w))))
        g = np.random.SeedSequence(s).generate_state(8, np.uint32)
        lines.append("gen32 8 %s" % " ".join(str(int(v)) for v in g))
        st = np.random.PCG64(s).state["state"]
        lines.append(f"state {st['state'] >> 64} {st['state'] & MASK64} {st['inc'] >> 64} "
                     f"{st['inc'] & MASK64}")
        raw = np.random.PCG64(s).random_raw(5)
        lines.append("raw 5 %s" % " ".join(str(int(v)) for v in raw))
        for d in ADVANCES:
            bg = np.random.PCG64(s)
            bg.advance(d)
            lines.append(f"advance {d >> 64} {d & MASK64} {int(bg.random_raw())}")
        p = pendulum_resets(s, N_RESETS)
        lines.append("pendulum %d %s" % (N_RESETS, " ".join(float(v).hex() for r in p for v in r)))
        c = cartpole_resets(s, N_RESETS)
        lines.append("cartpole %d %s" % (N_RESETS, " ".join(float(v).hex() for r in c for v in r)))
    for e in SEEDSEQ_ENTROPY:
        g = np.random.SeedSequence(e).generate_state(9, np.uint32)
        lines.append("seedseq %d %s 9 %s" % (len(e), " ".join(map(str, e)),
                                            " ".join(str(int(v)) for v in g)))
    return [ln.replace("  ", " ") for ln in lines]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data",
                                                  "nprandom_golden.txt"))
    args = ap.parse_args()
    with open(args.out, "w") as f:
        f.write("\n".join(golden_lines()) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
