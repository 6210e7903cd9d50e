#!/usr/bin/python3
"""tests/py_checkpoint_torch.py - a checkpoint written by mbrl_train loads into seed 003's
PyTorch `Model` with load_state_dict (DESIGN.md "Dynamics checkpoint") and predicts the same
next states as mbrl.

Steps: mbrl_collect a small Pendulum dataset, mbrl_train a model (60 steps, so BatchNorm
running statistics are non-trivial), load it into the seed's Model (scripts/seed_models.py:
the seed's classes with the .cuda() calls removed) exactly as DESIGN.md says, set the
normalizer statistics, and compare predict_next_states in eval mode on 512 random
states/actions with what `mbrl_train --predict MODEL --data IN --out OUT` writes (mbrl's
predictions, eval mode).
Tolerance: |torch - mbrl| <= 1e-5 (absolute, raw units; values are at most ~8 in size).

Run: /usr/bin/python3 tests/py_checkpoint_torch.py --bin <build>/bin
Exit 0 pass, 1 fail, 77 skip (torch, numpy or h5py missing)."""
import argparse
import os
import subprocess
import sys
import tempfile
import types

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"SKIP: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from seed_models import Model  # noqa: E402  (seed 003's classes, .cuda() removed)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stderr}")
        sys.exit(1)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory holding mbrl_collect and mbrl_train")
    args = ap.parse_args()
    collect = os.path.join(args.bin, "mbrl_collect")
    train = os.path.join(args.bin, "mbrl_train")
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        data, ckpt = os.path.join(tmp, "d.h5"), os.path.join(tmp, "m.h5")
        inp, pred = os.path.join(tmp, "in.h5"), os.path.join(tmp, "pred.h5")
        run([collect, "--episodes", "6", "--max-steps", "50", "--seed", "7", "--out", data])
        run([train, "--data", data, "--out", ckpt, "--steps", "60", "--batch", "32",
             "--device", "cpu", "--seed", "3"])

        with h5py.File(ckpt, "r") as f:
            # fixed-length string attributes: h5py reads them as bytes
            assert f.attrs["format"] == b"mbrl.dynamics", f.attrs["format"]
            assert int(f.attrs["format_version"]) == 2
            assert f.attrs["env_id"].decode() == "Pendulum-v1"
            hidden = [int(h) for h in f.attrs["hidden"]]
            assert hidden == [64, 64], hidden
            state = {}
            f["model"].visititems(
                lambda name, obj: state.__setitem__("model/" + name, obj[()])
                if isinstance(obj, h5py.Dataset) else None)
            stats = types.SimpleNamespace(
                **{k: f["normalizer"][k][()] for k in f["normalizer"].keys()})

        model = Model((3,), (1,), nn_size=hidden[0])
        # DESIGN.md: load_state_dict({k.replace('/', '.'): torch.tensor(v) ...}), strict.
        model.load_state_dict({k.replace('/', '.'): torch.tensor(v) for k, v in state.items()})
        model.set_statistics(stats)
        model.eval()
        nbt = int(model.model.network[1].num_batches_tracked)
        if nbt != 60:
            print(f"FAIL: num_batches_tracked is {nbt}, expected 60 (one per training step)")
            return 1

        rng = np.random.default_rng(1)
        n = 512
        th = rng.uniform(-np.pi, np.pi, n)
        obs = np.stack([np.cos(th), np.sin(th), rng.uniform(-8, 8, n)], 1).astype(np.float32)
        act = rng.uniform(-2, 2, (n, 1)).astype(np.float32)
        with h5py.File(inp, "w") as f:
            f["observations"] = obs
            f["actions"] = act
        run([train, "--predict", ckpt, "--data", inp, "--out", pred, "--device", "cpu"])
        with h5py.File(pred, "r") as f:
            mb_next = f["next_observations"][()]
            mb_delta = f["delta_normalized"][()]

        with torch.no_grad():
            t_delta = model.predicted_delta_state_normalized(torch.from_numpy(obs),
                                                             torch.from_numpy(act)).numpy()
            t_next = model.predict_next_states(torch.from_numpy(obs), torch.from_numpy(act)).numpy()
    err_next = float(np.max(np.abs(t_next - mb_next)))
    err_delta = float(np.max(np.abs(t_delta - mb_delta)))
    print(f"max |torch - mbrl|: next state {err_next:.3g} (tol 1e-5, ratio {err_next / 1e-5:.3f}), "
          f"normalized delta {err_delta:.3g} (tol 1e-5, ratio {err_delta / 1e-5:.3f})")
    if not (err_next <= 1e-5 and err_delta <= 1e-5):
        print("FAIL: mbrl's predictions differ from the seed's PyTorch Model")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
