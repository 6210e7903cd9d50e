"""The learned dynamics model of seed 003 (mbrl/dynamics.h): normalizer + MLP predicting the
normalized change of state, trained with Adam on the MSE of normalized deltas.

    model = mbrl.DynamicsModel.train(ds, steps=5000, batch_size=128, seed=0)
    next_obs = model.predict(obs, act)        # (B, obs) from (B, obs), (B, act)
    model.save("data/pendulum_model.h5")      # the checkpoint format of mbrl_train
    model = mbrl.DynamicsModel.load("data/pendulum_model.h5")

DynamicsModel.train does what `mbrl_train --steps S --batch B --seed SEED` does, call for call:
whole episodes are held out for validation (val_frac, Philox(seed ^ SPLIT_KEY)), the normalizer
statistics come from the training episodes, the weights from Philox(seed), the minibatch order
from Philox(seed ^ SAMPLER_KEY, epoch); so on the same backend it writes the same weights
(python/tests/test_dynamics.py checks it bit for bit).
"""

import ctypes
import json
import os
import sys
import threading
import time

import numpy as np

from . import __version__, _lib
from ._arrays import F32, addr, as_batch, positive_int, u64
from .dataset import Dataset, DatasetStats

SPLIT_KEY = 0x9E3779B97F4A7C15     # mbrl_train.c
SAMPLER_KEY = 0xD1B54A32D192ED03
LOG_EVERY = 10                     # train_model/loss every 10 steps, as mbrl_train
OPEN_LOOP_K = 15
_MASK64 = (1 << 64) - 1


def _subset(ds, idx):
    """mbrl_train's subset(): rows idx (ascending, whole episodes) of ds as a new Dataset; a
    row that ended its episode in ds (or was ds's last row) keeps ending one (timeout)."""
    idx = np.asarray(idx, np.int64)
    term = ds.terminals[idx]
    tout = ds.timeouts[idx].copy()
    nxt = np.append(idx[1:] != idx[:-1] + 1, False)
    last = (idx + 1 == len(ds)) | nxt
    tout |= last & ~term
    return Dataset.from_arrays(ds.env_id, ds.observations[idx], ds.actions[idx],
                               ds.next_observations[idx], ds.rewards[idx], term, tout,
                               seed=ds.seed)


class DynamicsModel(_lib.Handle):
    """A dynamics model in the library (any backend); see the module docstring."""

    def __init__(self):
        raise TypeError("make a DynamicsModel with DynamicsModel.train(...) or .load(path)")

    @classmethod
    def _wrap(cls, ptr):
        self = object.__new__(cls)
        self._p = ptr
        self._lock = threading.Lock()
        self.history = None
        self.metrics = {}
        return self

    @property
    def _d(self):
        if not self._p:
            raise RuntimeError("the model is closed")
        return ctypes.cast(self._p, ctypes.POINTER(_lib.Dynamics)).contents

    # ---- construction
    @classmethod
    def train(cls, dataset, steps=5000, batch_size=128, seed=0, device="auto", *,
              hidden=(64, 64), batchnorm=True, lr=0.01, betas=(0.99, 0.999), val_frac=0.1,
              eval_every=500, logdir=None, verbose=False):
        """Train the seed's model on `dataset` (a Dataset or a path to one) as mbrl_train does
        (module docstring). Returns the model; model.history holds every step's minibatch
        loss and the validation losses, model.metrics the final figures mbrl_train prints
        (train/val loss, 1- and 15-step open-loop RMSE per state dimension)."""
        if not isinstance(dataset, Dataset):
            dataset = Dataset.load(dataset)
        steps = positive_int(steps, "steps", 1, 10**8)
        batch = positive_int(batch_size, "batch_size", 2, 65536)
        seed = u64(seed, "seed")
        hidden = [positive_int(h, "hidden width", 1, 4096) for h in hidden]
        if not 1 <= len(hidden) <= _lib.MLP_MAX_LAYERS - 1:
            raise ValueError(f"hidden must list 1..{_lib.MLP_MAX_LAYERS - 1} widths, got {len(hidden)}")
        if not 0.0 <= float(val_frac) <= 0.9:
            raise ValueError(f"val_frac must be in [0, 0.9], got {val_frac}")
        lr = float(lr)
        if not lr > 0 or not np.isfinite(lr):
            raise ValueError(f"lr must be > 0, got {lr}")
        b1, b2 = (float(b) for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        eval_every = positive_int(eval_every, "eval_every")
        backend = _lib.backend_from_device(device)
        L = _lib.lib()

        split = _lib.DatasetSplit()
        _lib.check(L.mbrl_dataset_split_episodes(dataset._ref(), float(val_frac),
                                                 seed ^ SPLIT_KEY, ctypes.byref(split)))
        try:
            tr_idx = np.ctypeslib.as_array((ctypes.c_size_t * split.n_train).from_address(split.train)).copy() \
                if split.n_train else np.zeros(0, np.int64)
            va_idx = np.ctypeslib.as_array((ctypes.c_size_t * split.n_val).from_address(split.val)).copy() \
                if split.n_val else np.zeros(0, np.int64)
        finally:
            L.mbrl_dataset_split_free(ctypes.byref(split))
        train = _subset(dataset, tr_idx)
        val = _subset(dataset, va_idx) if len(va_idx) else None
        if batch > len(train):
            raise ValueError(f"batch_size {batch} is larger than the training split ({len(train)} "
                             f"rows of {len(dataset)}; val_frac {val_frac} holds out "
                             f"{len(va_idx)}); use batch_size <= {len(train)} or a larger dataset")
        stats = train._ds.stats
        hid = (ctypes.c_int * len(hidden))(*hidden)
        p = ctypes.c_void_p()
        _lib.check(L.mbrl_dynamics_create(ctypes.byref(p), dataset.env_id.encode(), dataset.obs_dim,
                                          dataset.act_dim, ctypes.byref(stats), len(hidden), hid,
                                          int(bool(batchnorm)), backend, max(batch, 2048), seed))
        self = cls._wrap(p)
        config = {"created_by": f"mbrl-python {__version__}", "optimizer": "adam", "lr": lr,
                  "betas": [b1, b2], "eps": 1e-08, "batch": batch, "steps": steps, "seed": seed,
                  "val_frac": float(val_frac), "hidden": hidden, "batchnorm": bool(batchnorm),
                  "loss": "mse_normalized_delta", "device": _lib.backend_name(backend),
                  "train_rows": len(train), "val_rows": 0 if val is None else len(val),
                  "dropped_rows": 0}
        txt = json.dumps(config)
        if len(txt) < 2048:
            _lib.check(L.mbrl_dynamics_set_config(self._p, txt.encode()))
        oc = L.mbrl_optim_adam_config(lr, b1, b2)
        tr = ctypes.c_void_p()
        _lib.check(L.mbrl_dynamics_trainer_create(ctypes.byref(tr), self._p, train._ref(),
                                                  ctypes.byref(oc), batch, seed ^ SAMPLER_KEY))
        log = None
        try:
            if logdir is not None:
                from .log import Log
                log = Log(logdir)
            losses = np.zeros(steps, F32)
            val_losses = []
            done, t0, chunk = 0, time.monotonic(), LOG_EVERY * 10
            while done < steps:
                n = min(steps - done, chunk)
                next_eval = (done // eval_every + 1) * eval_every
                if next_eval > done and next_eval - done < n:
                    n = next_eval - done
                st = L.mbrl_dynamics_trainer_run(tr, n, addr(losses) + 4 * done)
                if st != _lib.OK:
                    raise _lib.error(st, prefix=f"training step {done}..{done + n} (lr {lr})")
                if log:
                    for s in range(done + (-done) % LOG_EVERY, done + n, LOG_EVERY):
                        log.scalar("train_model/loss", s, losses[s])
                done += n
                if done % eval_every == 0 or done == steps:
                    if val is not None:
                        vl = self._eval_mse(val)
                        val_losses.append((done, vl))
                        if log:
                            log.scalar("val/loss", done, vl)
                            log.flush()
                    if verbose:
                        print(f"train step {done}/{steps}  loss {losses[done - 1]:.6f}"
                              + (f"  val {val_losses[-1][1]:.6f}" if val is not None else "")
                              + f"  {done / max(time.monotonic() - t0, 1e-9):.0f} steps/s",
                              file=sys.stderr)
            train_s = time.monotonic() - t0
        finally:
            L.mbrl_dynamics_trainer_free(tr)
            if log:
                log.close()
        self.history = {"loss": losses, "val_loss": np.array(val_losses, np.float64).reshape(-1, 2)}
        m = {"train_loss": self._eval_mse(train), "steps_per_second": steps / max(train_s, 1e-9)}
        if val is not None:
            m.update(self.evaluate(val))
        self.metrics = m
        return self

    @classmethod
    def load(cls, path, device="auto", max_batch=2048):
        """Read a checkpoint written by mbrl_train, mbrl_mpc --iterations or save(); damaged,
        foreign or mismatched files raise OSError (mbrl.FileError) naming the fault."""
        p_path = _lib.encode(path, "path")
        if not os.path.exists(path):
            raise FileNotFoundError(2, f"model file '{os.fspath(path)}' does not exist", os.fspath(path))
        backend = _lib.backend_from_device(device)
        max_batch = positive_int(max_batch, "max_batch", 2)
        p = ctypes.c_void_p()
        with _lib.FILE_LOCK:
            _lib.check(_lib.lib().mbrl_dynamics_load(p_path, backend, max_batch, ctypes.byref(p)))
        return cls._wrap(p)

    def save(self, path, overwrite=True):
        """Write the checkpoint (DESIGN.md's layout; loads into the seed's PyTorch Model with
        load_state_dict) atomically. overwrite=False refuses an existing path."""
        p = _lib.encode(path, "path")
        if not overwrite and os.path.exists(path):
            raise FileExistsError(17, f"'{os.fspath(path)}' exists (pass overwrite=True to replace it)",
                                  os.fspath(path))
        with _lib.FILE_LOCK, self._lock:
            self._d
            _lib.check(_lib.lib().mbrl_dynamics_save(self._p, p))

    # ---- use
    def predict(self, obs, act):
        """Next observations (B, obs_dim) = obs + unnormalize(mlp(normalize(obs, act))), eval
        mode, from obs (B, obs_dim) and act (B, act_dim); 1-D inputs give a 1-D result."""
        d = self._d
        o, one = as_batch(obs, "obs", d.obs_dim)
        a, one_a = as_batch(act, "act", d.act_dim)
        if o.shape[0] != a.shape[0]:
            raise ValueError(f"obs has {o.shape[0]} rows but act has {a.shape[0]}")
        out = np.empty_like(o)
        if o.shape[0] > _lib.INT_MAX:
            raise ValueError("at most 2^31-1 rows per call")
        with self._lock:
            self._d
            _lib.check(_lib.lib().mbrl_dynamics_predict_next(self._p, addr(o), addr(a), o.shape[0],
                                                             addr(out)))
        return out[0] if (one and one_a) else out

    def _eval_mse(self, ds):
        v = ctypes.c_double()
        with self._lock:
            self._d
            _lib.check(_lib.lib().mbrl_dynamics_eval_mse(self._p, ds._ref(), ctypes.byref(v)))
        return v.value

    def evaluate(self, dataset, k=OPEN_LOOP_K):
        """mbrl_train --eval's figures on a dataset: 'loss' (normalized MSE), 'rmse_1' and
        'rmse_<k>' (open-loop RMSE per state dimension, raw units; None when no episode has k
        rows)."""
        if not isinstance(dataset, Dataset):
            dataset = Dataset.load(dataset)
        if dataset.env_id != self.env_id or dataset.obs_dim != self.obs_dim:
            raise ValueError(f"the dataset holds {dataset.env_id} data; the model is for {self.env_id}")
        L = _lib.lib()
        out = {"loss": self._eval_mse(dataset)}
        for kk in sorted({1, positive_int(k, "k")}):
            if L.mbrl_dynamics_open_loop_starts(dataset._ref(), kk) == 0:
                out[f"rmse_{kk}"] = None
                continue
            r = np.zeros(_lib.MAX_DIM)
            with self._lock:
                self._d
                _lib.check(L.mbrl_dynamics_open_loop_rmse(self._p, dataset._ref(), kk, addr(r)))
            out[f"rmse_{kk}"] = r[:self.obs_dim].copy()
        return out

    # ---- what it is
    @property
    def env_id(self):
        return _lib.cstr(self._d.env_id)

    @property
    def obs_dim(self):
        return self._d.obs_dim

    @property
    def act_dim(self):
        return self._d.act_dim

    @property
    def stats(self):
        d = self._d
        return DatasetStats._from_c(d.stats, d.obs_dim, d.act_dim)

    @property
    def device(self):
        return _lib.backend_name(self._d.mlp.contents.backend)

    @property
    def config(self):
        """The training configuration stored in the checkpoint (a dict)."""
        try:
            return json.loads(_lib.cstr(self._d.config_json) or "{}")
        except ValueError:
            return {}

    def __repr__(self):
        return f"DynamicsModel({self.env_id!r}, device={self.device!r})"

    def close(self):
        """Release the model (its methods then raise). Safe to call twice."""
        if getattr(self, "_p", None):
            with self._lock:
                _lib.lib().mbrl_dynamics_free(self._p)
                self._p = None
