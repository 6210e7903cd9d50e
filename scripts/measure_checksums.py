#!/usr/bin/python3
"""scripts/measure_checksums.py - the measurement behind the choice of per-dataset checksum
(issue 15): HDF5's Fletcher32 filter on chunked datasets against a SHA-256 of the data in an
attribute (what mbrl writes), on the damage of issue 15 (1 to 8 random bytes, 8-byte stamps of
0xff.., 0x00.., 0x7fff..) applied inside a dataset's stored bytes.

For each scheme and dataset, N damaged copies are read with h5py:
  detected    the read failed (Fletcher32) or the data's SHA-256 differs from the attribute
  same        the damage changed nothing (a byte set to its own value)
  UNDETECTED  the numbers read differ from the original and nothing noticed
Datasets: /observations (float32 pendulum states, 4000 x 3) and /terminals (bool, 4000 rows,
all False: as in every Pendulum dataset). Also times writing and reading 1M x 11 float32 both
ways (h5py; hashlib's SHA-256), and one change Fletcher32 cannot see by construction: +1 to a
big-endian 16-bit word and -1 to the word 65535 words later in the same chunk (both of its sums
stay the same modulo 65535). Prints a table; needs numpy and h5py (Debian's python3).
Usage: /usr/bin/python3 scripts/measure_checksums.py [--trials N] [--seed S]
"""
import argparse
import hashlib
import os
import random
import tempfile
import time

import h5py
import numpy as np


def make(path, scheme, data):
    with h5py.File(path, "w", libver=("v108", "v108")) as f:
        for name, arr in data.items():
            if scheme == "fletcher32":
                f.create_dataset(name, data=arr, chunks=(1000,) + arr.shape[1:], fletcher32=True)
            else:
                d = f.create_dataset(name, data=arr)
                d.attrs["sha256"] = np.bytes_(hashlib.sha256(arr.tobytes()).hexdigest())
    with h5py.File(path, "r") as f:
        spans = {}
        for name in data:
            d = f[name]
            if scheme == "fletcher32":
                spans[name] = [(d.id.get_chunk_info(i).byte_offset, d.id.get_chunk_info(i).size - 4)
                               for i in range(d.id.get_num_chunks())]
            else:
                spans[name] = [(d.id.get_offset(), d.id.get_storage_size())]
    return spans


def damage(buf, spans, rng):
    off, size = rng.choice(spans)
    what = rng.choice(["bytes", "stamp"])
    if what == "bytes":
        for _ in range(rng.randint(1, 8)):
            buf[off + rng.randrange(size)] = rng.randrange(256)
    else:
        pat = rng.choice([b"\xff" * 8, b"\x00" * 8, b"\x7f" + b"\xff" * 7, b"\xff" * 7 + b"\x7f"])
        at = off + rng.randrange(max(1, size - 7))
        end = min(at + 8, off + size)
        buf[at:end] = pat[:end - at]


def check(path, scheme, name, orig):
    try:
        with h5py.File(path, "r") as f:
            d = f[name]
            got = d[()]
            if scheme == "sha256" and hashlib.sha256(got.tobytes()).hexdigest().encode() != d.attrs["sha256"]:
                return "detected"
    except Exception:
        return "detected"
    return "same" if np.array_equal(got, orig) else "UNDETECTED"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=15)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    nrng = np.random.default_rng(a.seed)
    th = nrng.uniform(-np.pi, np.pi, 4000)
    data = {"observations": np.stack([np.cos(th), np.sin(th), nrng.uniform(-8, 8, 4000)], 1).astype(np.float32),
            "terminals": np.zeros(4000, dtype=bool)}
    tmp = tempfile.mkdtemp()
    print(f"{a.trials} damaged copies per scheme and dataset (1-8 random bytes or an 8-byte stamp "
          f"inside the dataset's stored bytes)")
    print(f"{'scheme':12} {'dataset':14} {'detected':>9} {'same':>6} {'UNDETECTED':>11}")
    for scheme in ["fletcher32", "sha256"]:
        path = os.path.join(tmp, scheme + ".h5")
        spans = make(path, scheme, data)
        raw = open(path, "rb").read()
        for name in data:
            counts = {"detected": 0, "same": 0, "UNDETECTED": 0}
            bad = os.path.join(tmp, "bad.h5")
            for _ in range(a.trials):
                buf = bytearray(raw)
                damage(buf, spans[name], rng)
                if os.path.exists(bad):
                    os.unlink(bad)
                with open(bad, "wb") as f:
                    f.write(buf)
                counts[check(bad, scheme, name, data[name])] += 1
            print(f"{scheme:12} {name:14} {counts['detected']:>9} {counts['same']:>6} {counts['UNDETECTED']:>11}")
    # a compensating change 65535 words apart inside one 1 MiB chunk
    arr = np.random.default_rng(2).uniform(1, 2, 262144).astype(np.float32)
    for scheme in ["fletcher32", "sha256"]:
        path = os.path.join(tmp, scheme + "_c.h5")
        with h5py.File(path, "w", libver=("v108", "v108")) as f:
            if scheme == "fletcher32":
                f.create_dataset("x", data=arr, chunks=(262144,), fletcher32=True)
            else:
                f.create_dataset("x", data=arr).attrs["sha256"] = np.bytes_(hashlib.sha256(arr.tobytes()).hexdigest())
        with h5py.File(path, "r") as f:
            d = f["x"]
            off = d.id.get_chunk_info(0).byte_offset if scheme == "fletcher32" else d.id.get_offset()
        buf = bytearray(open(path, "rb").read())
        for at in range(off + 2, off + 400000, 2):  # words whose +1 / -1 do not carry
            w1 = buf[at] << 8 | buf[at + 1]
            w2 = buf[at + 131070] << 8 | buf[at + 131071]
            if 0 < w1 < 0xfffe and 0 < w2 < 0xfffe:
                break
        buf[at:at + 2] = (w1 + 1).to_bytes(2, "big")
        buf[at + 131070:at + 131072] = (w2 - 1).to_bytes(2, "big")
        bad = os.path.join(tmp, "bad.h5")
        with open(bad, "wb") as f:
            f.write(buf)
        print(f"{scheme:12} +1/-1 on two words 65535 words apart: {check(bad, scheme, 'x', arr)}")
    # cost: 1M x 11 float32
    big = np.random.default_rng(1).standard_normal((1_000_000, 11)).astype(np.float32)
    path = os.path.join(tmp, "big.h5")
    for scheme in ["fletcher32", "sha256"]:
        t0 = time.perf_counter()
        with h5py.File(path, "w") as f:
            if scheme == "fletcher32":
                f.create_dataset("x", data=big, chunks=(65536, 11), fletcher32=True)
            else:
                f.create_dataset("x", data=big).attrs["sha256"] = np.bytes_(hashlib.sha256(big.tobytes()).hexdigest())
        t1 = time.perf_counter()
        with h5py.File(path, "r") as f:
            x = f["x"][()]
            if scheme == "sha256":
                assert hashlib.sha256(x.tobytes()).hexdigest().encode() == f["x"].attrs["sha256"]
        t2 = time.perf_counter()
        print(f"{scheme:12} 1M x 11 float32 (44 MB): write {1e3 * (t1 - t0):7.1f} ms, "
              f"read+verify {1e3 * (t2 - t1):7.1f} ms")
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
