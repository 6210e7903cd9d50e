#!/usr/bin/python3
"""py_dataset_h5py.py - mbrl.dataset files and h5py understand each other.

1. A file from `BIN/mbrl_collect` opens with h5py in one line: float32 arrays, terminals and
   timeouts come back as numpy bool, root attributes as bytes (fixed-length strings) / int,
   /stats as float32 arrays equal to numpy's population mean/std (ddof 0) of the stored rows.
   Its integrity data checks out with Python's hashlib (not mbrl's code): every dataset's
   "sha256" attribute is the SHA-256 of its bytes, and the 512-byte seal holds the length and
   SHA-256 of the rest of the file, the format name and version, and its own SHA-256.
2. A file written by plain h5py in the same layout (numpy bool flags, str attributes,
   format_version 1: no seal) is accepted by mbrl: `mbrl_collect --append` onto it works,
   keeps its rows bit for bit and writes it back sealed (format_version 2). The same file
   claiming format_version 2 without a seal is refused, the file unchanged.
Exit 0 pass, 1 fail, 77 skip (numpy/h5py or the binary missing).
Usage: /usr/bin/python3 tests/py_dataset_h5py.py --bin BUILD/bin
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import h5py
except ImportError as e:  # pragma: no cover
    print(f"py_dataset_h5py: skipped: {e}")
    sys.exit(77)

STAT_NAMES = ["state_mean", "state_std", "action_mean", "action_std", "delta_state_mean",
              "delta_state_std"]


def fail(msg):
    print(f"py_dataset_h5py: FAIL: {msg}")
    sys.exit(1)


def numpy_stats(obs, act, nxt):
    delta = nxt - obs  # float32, as numpy computes it
    o, a, d = (x.astype(np.float64) for x in (obs, act, delta))
    return {"state_mean": o.mean(0), "state_std": o.std(0), "action_mean": a.mean(0),
            "action_std": a.std(0), "delta_state_mean": d.mean(0), "delta_state_std": d.std(0)}


def check_collected(path, env_id, obs_dim, episodes):
    with h5py.File(path, "r") as f:
        for name, dim in (("observations", obs_dim), ("actions", 1), ("next_observations", obs_dim)):
            if f[name].dtype != np.float32 or f[name].ndim != 2 or f[name].shape[1] != dim:
                fail(f"{path}: /{name} is {f[name].dtype} {f[name].shape}")
        n = f["observations"].shape[0]
        if f["rewards"].dtype != np.float32 or f["rewards"].shape != (n,):
            fail(f"{path}: /rewards is {f['rewards'].dtype} {f['rewards'].shape}")
        for name in ("terminals", "timeouts"):
            if f[name].dtype != np.bool_ or f[name].shape != (n,):
                fail(f"{path}: /{name} reads as {f[name].dtype} {f[name].shape}, want bool ({n},)")
        a = f.attrs
        want = {"format": b"mbrl.dataset", "format_version": 2, "env_id": env_id.encode(),
                "episodes": episodes, "seed": 4}
        for k, v in want.items():
            got = a.get(k)
            if isinstance(v, bytes) and not isinstance(got, bytes):
                fail(f"{path}: attr {k} reads as {type(got).__name__}, want bytes (fixed-length)")
            if got != v:
                fail(f"{path}: attr {k} = {got!r}, want {v!r}")
        if not a.get("created_by", b"").decode().startswith("mbrl_collect "):
            fail(f"{path}: attr created_by = {a.get('created_by')!r}")
        term, tout = f["terminals"][()], f["timeouts"][()]
        if int((term | tout).sum()) != episodes or bool((term & tout).any()):
            fail(f"{path}: {int(term.sum())} terminals + {int(tout.sum())} timeouts for {episodes} episodes")
        ref = numpy_stats(f["observations"][()], f["actions"][()], f["next_observations"][()])
        for k in STAT_NAMES:
            got = f["stats"][k][()]
            if got.dtype != np.float32:
                fail(f"{path}: /stats/{k} is {got.dtype}")
            if not np.allclose(got, ref[k], rtol=1e-6, atol=1e-7):
                fail(f"{path}: /stats/{k} = {got}, numpy says {ref[k]}")
    check_integrity(path, "mbrl.dataset", 2)
    return n


def check_integrity(path, fmt, version):
    """The seal and every dataset's digest, recomputed with hashlib."""
    raw = open(path, "rb").read()
    seal, content = raw[:512], raw[512:]
    if seal[:16] != b"\x89MBRL SEAL\r\n\x1a\n\0\0":
        fail(f"{path}: no seal magic: {seal[:16]!r}")
    if int.from_bytes(seal[16:20], "little") != 1 or int.from_bytes(seal[20:24], "little") != 512:
        fail(f"{path}: seal version/size {seal[16:24]!r}")
    if int.from_bytes(seal[24:32], "little") != len(content):
        fail(f"{path}: seal says {int.from_bytes(seal[24:32], 'little')} bytes, file has {len(content)}")
    if seal[32:64] != hashlib.sha256(content).digest():
        fail(f"{path}: the seal's SHA-256 differs from hashlib's over bytes 512..end")
    if seal[64:128].rstrip(b"\0").decode() != fmt or int.from_bytes(seal[128:136], "little") != version:
        fail(f"{path}: seal names {seal[64:128].rstrip(bytes(1))!r} v{int.from_bytes(seal[128:136], 'little')}")
    if seal[136:168] != hashlib.sha256(seal[:136]).digest() or any(seal[168:]):
        fail(f"{path}: the seal's own digest or padding is wrong")
    if raw[512:520] != b"\x89HDF\r\n\x1a\n":
        fail(f"{path}: the HDF5 superblock is not at offset 512")
    n = 0
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            nonlocal n
            if isinstance(obj, h5py.Dataset):
                want = hashlib.sha256(obj[()].tobytes()).hexdigest().encode()
                if obj.attrs.get("sha256") != want:
                    fail(f"{path}: /{name} sha256 {obj.attrs.get('sha256')!r}, hashlib {want!r}")
                n += 1
        f.visititems(visit)
    print(f"{path}: seal and {n} dataset digests match hashlib: ok")


def write_with_h5py(path, rng, version=1):
    n_ep, T = 3, 10
    obs = rng.uniform(-1, 1, size=(n_ep * T, 3)).astype(np.float32)
    nxt = (obs + rng.normal(0, 0.1, size=obs.shape)).astype(np.float32)
    act = rng.uniform(-2, 2, size=(n_ep * T, 1)).astype(np.float32)
    rew = rng.normal(size=n_ep * T).astype(np.float32)
    term = np.zeros(n_ep * T, dtype=bool)
    tout = np.zeros(n_ep * T, dtype=bool)
    tout[T - 1::T] = True
    st = numpy_stats(obs, act, nxt)
    with h5py.File(path, "w") as f:
        f["observations"], f["actions"], f["next_observations"] = obs, act, nxt
        f["rewards"], f["terminals"], f["timeouts"] = rew, term, tout
        for k in STAT_NAMES:
            f[f"stats/{k}"] = st[k].astype(np.float32)
        f.attrs["format"] = "mbrl.dataset"
        f.attrs["format_version"] = version
        f.attrs["env_id"] = "Pendulum-v1"
        f.attrs["seed"] = 4
        f.attrs["episodes"] = n_ep
        f.attrs["created_by"] = "h5py"
    return obs, act, nxt, rew, tout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    exe = os.path.join(args.bin, "mbrl_collect")
    if not os.access(exe, os.X_OK):
        print(f"py_dataset_h5py: skipped: {exe} not built")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        # an unsealed file claiming version 2 is refused, untouched
        path = os.path.join(tmp, "v2_unsealed.h5")
        write_with_h5py(path, np.random.default_rng(0), version=2)
        before = open(path, "rb").read()
        p = subprocess.run([exe, "--append", "--out", path, "--episodes", "1", "--max-steps", "5"],
                           capture_output=True, text=True)
        if p.returncode != 1 or "has no mbrl seal" not in p.stderr or path not in p.stderr:
            fail(f"--append onto an unsealed version-2 file: exit {p.returncode}: {p.stderr}")
        if open(path, "rb").read() != before or sorted(os.listdir(tmp)) != ["v2_unsealed.h5"]:
            fail("the refused file was changed, or a temporary was left")
        print("an unsealed file claiming format_version 2 is refused: ok")

        for env_id, obs_dim, eps in (("Pendulum-v1", 3, 3), ("CartPole-v1", 4, 5)):
            out = os.path.join(tmp, env_id + ".h5")
            p = subprocess.run([exe, "--env", env_id, "--episodes", str(eps), "--max-steps", "50",
                                "--seed", "4", "--out", out], capture_output=True, text=True)
            if p.returncode != 0:
                fail(f"mbrl_collect {env_id} exited {p.returncode}: {p.stderr}")
            n = check_collected(out, env_id, obs_dim, eps)
            print(f"{env_id}: {n} transitions read by h5py {h5py.__version__}: ok")

        path = os.path.join(tmp, "from_h5py.h5")
        obs, act, nxt, rew, tout = write_with_h5py(path, np.random.default_rng(0))
        p = subprocess.run([exe, "--append", "--out", path, "--episodes", "2", "--max-steps", "5"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"mbrl_collect --append onto an h5py-written file exited {p.returncode}: {p.stderr}")
        with h5py.File(path, "r") as f:
            n = len(obs)
            if f["observations"].shape[0] != n + 10 or f.attrs["episodes"] != 5:
                fail(f"append: {f['observations'].shape[0]} rows, {f.attrs['episodes']} episodes")
            for name, ref in (("observations", obs), ("actions", act), ("next_observations", nxt),
                              ("rewards", rew), ("timeouts", tout)):
                if not np.array_equal(f[name][:n], ref):
                    fail(f"append changed the h5py-written rows of /{name}")
            if f["terminals"].dtype != np.bool_:
                fail(f"after append /terminals reads as {f['terminals'].dtype}")
        check_integrity(path, "mbrl.dataset", 2)
        print("h5py-written dataset accepted by mbrl_collect --append: ok")
    print("py_dataset_h5py: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
