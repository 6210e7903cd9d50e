#!/usr/bin/python3
"""tests/py_ensemble_torch.py - an ensemble checkpoint written by `mbrl_train --ensemble M`
(format mbrl.dyn_ensemble) loads into the PyTorch model of the same shape with load_state_dict
and predicts what mbrl predicts.

Steps, for a probabilistic ensemble (3 members, --elites 2) and a deterministic one (2 members):
mbrl_collect a small Pendulum dataset, mbrl_train the ensemble (60 steps of batch 32 per
member, so BatchNorm running statistics and the log-variance bounds have moved), load /model
into scripts/ensemble_model.py's ProbEnsemble exactly as mbrl/dyn_ensemble.h documents
(strict load_state_dict of {k.replace('/', '.'): tensor}), set the /normalizer statistics, and
compare in eval mode on 512 random states/actions with `mbrl_train --predict` (mbrl's eval
predictions): every member's mean (and log-variance) of the normalized delta, and the next
states of the elites' mean (elites from the file's root attribute).
Tolerance: |torch - mbrl| <= 1e-5 (absolute; normalized outputs are O(1), next states O(8)),
log-variances 2e-5 (values near -10).

Run: /usr/bin/python3 tests/py_ensemble_torch.py --bin <build>/bin
Exit 0 pass, 1 fail, 77 skip (torch, numpy or h5py missing)."""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"SKIP: {e}")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from ensemble_model import ProbEnsemble  # noqa: E402


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stderr}")
        sys.exit(1)
    return r


def check_case(args, tmp, data, name, flags, members, probabilistic):
    train = os.path.join(args.bin, "mbrl_train")
    ckpt, inp, pred = (os.path.join(tmp, f"{name}{s}.h5") for s in ("", "_in", "_pred"))
    run([train, "--data", data, "--out", ckpt, "--steps", "60", "--batch", "32", "--device", "cpu",
         "--seed", "3"] + flags)
    with h5py.File(ckpt, "r") as f:
        # fixed-length string attributes: h5py reads them as bytes
        assert f.attrs["format"] == b"mbrl.dyn_ensemble", f.attrs["format"]
        assert int(f.attrs["format_version"]) == 2
        assert f.attrs["env_id"].decode() == "Pendulum-v1"
        assert int(f.attrs["members"]) == members
        assert bool(f.attrs["probabilistic"]) == probabilistic
        hidden = [int(h) for h in f.attrs["hidden"]]
        elites = [int(k) for k in f.attrs["elites"]]
        state = {}
        f["model"].visititems(lambda n, o: state.__setitem__(n, o[()])
                              if isinstance(o, h5py.Dataset) else None)
        stats = {k: f["normalizer"][k][()] for k in f["normalizer"].keys()}
    model = ProbEnsemble(3, 1, members=members, hidden=tuple(hidden), probabilistic=probabilistic)
    # mbrl/dyn_ensemble.h: load_state_dict({k.replace('/', '.'): torch.tensor(v)}), strict
    model.load_state_dict({k.replace("/", "."): torch.tensor(v) for k, v in state.items()})
    model.set_statistics(stats)
    model.eval()
    nbt = int(model.members[members - 1].network[1].num_batches_tracked)
    if nbt != 60:
        print(f"FAIL: {name}: num_batches_tracked is {nbt}, expected 60 (one per training step)")
        return False

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
        mb_mean = f["member_mean"][()]
        mb_lv = f["member_logvar"][()] if probabilistic else None
        mb_next = f["next_observations"][()]
    o, a = torch.from_numpy(obs), torch.from_numpy(act)
    with torch.no_grad():
        t_mean, t_lv = model(model.normalized_input(o, a))
        t_next = model.predict_next(o, a, elites=elites).numpy()
    ok = True
    errs = [("member means", float(np.max(np.abs(t_mean.numpy() - mb_mean))), 1e-5),
            ("next states (elites' mean)", float(np.max(np.abs(t_next - mb_next))), 1e-5)]
    if probabilistic:
        errs.append(("member log-variances", float(np.max(np.abs(t_lv.numpy() - mb_lv))), 2e-5))
    for what, err, tol in errs:
        print(f"{name}: max |torch - mbrl| {what}: {err:.3g} (tol {tol:g}, ratio {err / tol:.3f})")
        ok = ok and err <= tol
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory holding mbrl_collect and mbrl_train")
    args = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "d.h5")
        run([os.path.join(args.bin, "mbrl_collect"), "--episodes", "6", "--max-steps", "50",
             "--seed", "7", "--out", data])
        ok = check_case(args, tmp, data, "prob", ["--ensemble", "3", "--probabilistic",
                                                  "--elites", "2"], 3, True)
        ok = check_case(args, tmp, data, "det", ["--ensemble", "2"], 2, False) and ok
    if not ok:
        print("FAIL: mbrl's ensemble predictions differ from the PyTorch model's")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
