#!/usr/bin/env python3
"""Second, independent reader of mbrl's TensorBoard event files and metrics.csv.

Runs `<bin>/test_log --gtest_filter=Log.WriteAndParseBack` with MBRL_LOG_KEEP_DIR set, so the
C library writes its sample scalars into a kept directory, then decodes the TFRecord framing
(pure-Python CRC-32C, masked) and the protobuf Event messages without any of our C code, and
checks them against the sample list (same as sample_scalars() in tests/test_log.cpp) and
against metrics.csv. If the `tensorboard` package is importable, its EventAccumulator must
read the same scalars too.

Usage: py_tensorboard_read.py --bin BUILD/bin     exit 0 pass, 1 fail, 77 skip
"""
import argparse
import csv
import math
import os
import socket
import struct
import subprocess
import sys
import tempfile


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf: bytes, i: int):
    v, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7
        if shift >= 64:
            raise ValueError("varint too long")


def fields(buf: bytes):
    """Yield (field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 1:
            v = buf[i:i + 8]
            i += 8
        elif wire == 5:
            v = buf[i:i + 4]
            i += 4
        elif wire == 2:
            n, i = varint(buf, i)
            v = buf[i:i + n]
            i += n
        else:
            raise ValueError(f"wire type {wire}")
        if i > len(buf):
            raise ValueError("field runs past the message")
        yield num, wire, v


def read_events(path):
    data = open(path, "rb").read()
    i, records = 0, []
    while i < len(data):
        (length,) = struct.unpack_from("<Q", data, i)
        (len_crc,) = struct.unpack_from("<I", data, i + 8)
        if len_crc != masked(data[i:i + 8]):
            raise ValueError(f"bad length CRC at byte {i}")
        body = data[i + 12:i + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, i + 12 + length)
        if data_crc != masked(body):
            raise ValueError(f"bad data CRC at byte {i}")
        records.append(body)
        i += 12 + length + 4
    version, scalars = None, []
    for k, body in enumerate(records):
        ev = {}
        for num, wire, v in fields(body):
            ev[(num, wire)] = v
        if k == 0:
            version = ev.get((3, 2), b"").decode()
            continue
        step = ev.get((2, 0), 0)
        if step >= 1 << 63:
            step -= 1 << 64
        for num, wire, val in fields(ev[(5, 2)]):
            assert (num, wire) == (1, 2), (num, wire)
            vf = dict(((n, w), x) for n, w, x in fields(val))
            tag = vf[(1, 2)].decode()
            (value,) = struct.unpack("<f", vf[(2, 5)])
            scalars.append((tag, step, value))
    return version, scalars


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or struct.pack("<f", a) == struct.pack("<f", b)


def expected_scalars():
    out = [("train_model/loss", s, f32(1.0 / (s + 1))) for s in range(0, 300, 7)]
    out += [("val/loss", 0, f32(0.1)), ("val/loss", 127, f32(-2.5)), ("val/loss", 128, f32(1e-30)),
            ("val/loss", 1 << 40, f32(3.0e38)), ("edge/negative_step", -5, 0.0),
            ("edge/nan", 1, float("nan")), ("edge/inf", 2, float("-inf")),
            ("edge/long tag with spaces and unicode \u00e9", 3, 42.0)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    test_log = os.path.join(args.bin, "test_log")
    if not os.path.exists(test_log):
        print(f"skip: {test_log} is not built")
        return 77
    if crc32c(b"123456789") != 0xE3069283:
        print("FAIL: python crc32c reference is wrong")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MBRL_LOG_KEEP_DIR=tmp)
        r = subprocess.run([test_log, "--gtest_filter=Log.WriteAndParseBack"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            print(r.stdout)
            print("FAIL: test_log could not write the sample log")
            return 1
        run = os.path.join(tmp, "run1")
        names = [n for n in os.listdir(run) if n.startswith("events.out.tfevents.")]
        if len(names) != 1:
            print(f"FAIL: expected one event file in {run}, found {names}")
            return 1
        host = socket.gethostname()
        parts = names[0].split(".")
        ok_name = names[0].endswith(f".{host}.mbrl") and parts[3].isdigit()
        version, scalars = read_events(os.path.join(run, names[0]))
        want = expected_scalars()
        failures = []
        if not ok_name:
            failures.append(f"event file name {names[0]} is not events.out.tfevents.<time>.{host}.mbrl")
        if version != "brain.Event:2":
            failures.append(f"file_version {version!r}")
        if len(scalars) != len(want):
            failures.append(f"{len(scalars)} scalars, expected {len(want)}")
        for got, exp in zip(scalars, want):
            if got[0] != exp[0] or got[1] != exp[1] or not same(got[2], exp[2]):
                failures.append(f"event scalar {got} != expected {exp}")
        with open(os.path.join(run, "metrics.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if rows[0] != ["step", "tag", "value"]:
            failures.append(f"csv header {rows[0]}")
        for row, exp in zip(rows[1:], want):
            if row[1] != exp[0] or int(row[0]) != exp[1] or not same(f32(float(row[2])), exp[2]):
                failures.append(f"csv row {row} != expected {exp}")
        if len(rows) - 1 != len(want):
            failures.append(f"{len(rows) - 1} csv rows, expected {len(want)}")
        try:
            from tensorboard.backend.event_processing import event_accumulator  # noqa: F401
        except Exception:
            event_accumulator = None
        if event_accumulator is not None:
            acc = event_accumulator.EventAccumulator(run)
            acc.Reload()
            tb = acc.Scalars("val/loss")
            if [e.step for e in tb] != [s for t, s, _ in want if t == "val/loss"]:
                failures.append(f"tensorboard reads val/loss steps {[e.step for e in tb]}")
        else:
            print("note: tensorboard is not installed; checked with the pure-Python reader only")
    for msg in failures[:20]:
        print("FAIL:", msg)
    if failures:
        return 1
    print(f"ok: {len(scalars)} scalars, CRCs, protobuf fields and metrics.csv agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
