"""Transition datasets (the files of mbrl_collect, DESIGN.md "Files") and random-policy
collection.

    ds = mbrl.collect("Pendulum-v1", episodes=20, seed=999)   # == mbrl_collect --seed 999
    ds.observations, ds.actions, ds.next_observations        # (N, obs) / (N, act) float32
    ds.rewards, ds.terminals, ds.timeouts                    # (N,) float32 / bool / bool
    ds.stats.state_mean ...                                  # population mean/std, float32
    ds.save("data/pendulum_random.h5"); mbrl.Dataset.load(...)

The field arrays are read-only views of the library's memory (no copy); they keep the dataset
alive. Build a changed dataset with Dataset.from_arrays.
"""

import ctypes
import os
from dataclasses import dataclass

import numpy as np

from . import __version__, _lib
from ._arrays import F32, as_f32, as_flags, check_finite, positive_int, u64
from .env import env_spec

FIELDS = ("observations", "actions", "next_observations", "rewards", "terminals", "timeouts")
STAT_NAMES = ("state_mean", "state_std", "action_mean", "action_std", "delta_state_mean",
              "delta_state_std")


@dataclass(frozen=True)
class DatasetStats:
    """Population mean/std (numpy's default, ddof 0) of the states, actions and state changes
    (next_observations - observations); normalize(x) = (x - mean) / (std + 1e-8)."""
    state_mean: np.ndarray
    state_std: np.ndarray
    action_mean: np.ndarray
    action_std: np.ndarray
    delta_state_mean: np.ndarray
    delta_state_std: np.ndarray

    @classmethod
    def _from_c(cls, s, O, A):
        w = {"state": O, "action": A, "delta_state": O}
        return cls(**{k: np.array(getattr(s, k)[:w[k.rsplit("_", 1)[0]]], F32) for k in STAT_NAMES})

    def _to_c(self):
        s = _lib.DatasetStats()
        for k in STAT_NAMES:
            v = np.asarray(getattr(self, k), F32)
            getattr(s, k)[:len(v)] = v.tolist()
        return s

    def as_dict(self):
        return {k: getattr(self, k) for k in STAT_NAMES}


class _View:
    """An __array_interface__ over library memory that keeps its owner alive."""

    def __init__(self, owner, ptr, shape, typestr, readonly):
        self._owner = owner
        self.__array_interface__ = {"data": (ptr, readonly), "shape": shape, "typestr": typestr,
                                    "version": 3}


def _c_array(owner, ptr, shape, dtype, readonly=True):
    if int(np.prod(shape)) == 0 or not ptr:
        return np.zeros(shape, dtype)
    return np.asarray(_View(owner, ptr, shape, np.dtype(dtype).str, readonly))


class Dataset:
    """Transitions in the library's memory (mbrl/dataset.h); see the module docstring.
    Make one with Dataset.load, Dataset.from_arrays or mbrl.collect."""

    def __init__(self):
        raise TypeError("make a Dataset with Dataset.load(path), Dataset.from_arrays(...) or "
                        "mbrl.collect(...)")

    @classmethod
    def _new(cls):
        self = object.__new__(cls)
        self._ds = _lib.Dataset()
        self._live = False
        return self

    def _ref(self):
        return ctypes.byref(self._ds)

    # ---- construction
    @classmethod
    def load(cls, path):
        """Read and validate an mbrl.dataset file (written by mbrl_collect, mbrl_mpc
        --append-data or save). FileNotFoundError / OSError (mbrl.FileError) name the fault."""
        p = _lib.encode(path, "path")
        if not os.path.exists(path):
            raise FileNotFoundError(2, f"dataset file '{os.fspath(path)}' does not exist", os.fspath(path))
        self = cls._new()
        with _lib.FILE_LOCK:
            _lib.check(_lib.lib().mbrl_dataset_load(self._ref(), p))
        self._live = True
        return self

    @classmethod
    def from_arrays(cls, env_id, observations, actions, next_observations, rewards, terminals,
                    timeouts, seed=0):
        """A dataset of N >= 1 transitions of env_id (a known env; the widths must be its
        own): observations / next_observations (N, obs_dim), actions (N, act_dim), rewards (N),
        terminals and timeouts (N) bool or 0/1 (never both on a row; a row with either ends an
        episode). Values must be finite. Arrays are copied; statistics are computed."""
        spec = env_spec(env_id)
        O, A = spec.obs_dim, spec.act_dim
        obs = np.asarray(observations)
        if obs.ndim != 2:
            raise ValueError(f"observations must have shape (N, {O}), got {obs.shape}")
        N = obs.shape[0]
        if N < 1:
            raise ValueError("a dataset needs at least one transition")
        arrs = {"observations": as_f32(obs, "observations", (N, O)),
                "actions": as_f32(actions, "actions", (N, A)),
                "next_observations": as_f32(next_observations, "next_observations", (N, O)),
                "rewards": as_f32(rewards, "rewards", (N,))}
        for k, v in arrs.items():
            check_finite(v, k)
        term = as_flags(terminals, "terminals", N)
        tout = as_flags(timeouts, "timeouts", N)
        both = np.flatnonzero(term & tout)
        if both.size:
            raise ValueError(f"row {int(both[0])} has terminals and timeouts both set; an episode "
                             "ends either by termination or by the time limit")
        self = cls._new()
        L = _lib.lib()
        _lib.check(L.mbrl_dataset_init(self._ref(), spec.id.encode(), O, A))
        self._live = True
        _lib.check(L.mbrl_dataset_reserve(self._ref(), N))
        d = self._ds
        for k, v in arrs.items():
            np.copyto(_c_array(self, getattr(d, k), v.shape, F32, readonly=False), v)
        np.copyto(_c_array(self, d.terminals, (N,), np.uint8, readonly=False), term)
        np.copyto(_c_array(self, d.timeouts, (N,), np.uint8, readonly=False), tout)
        d.n = N
        d.seed = u64(seed, "seed")
        d.episodes = int(L.mbrl_dataset_count_episodes(self._ref()))
        _lib.check(L.mbrl_dataset_compute_stats(self._ref()))
        return self

    # ---- files
    def save(self, path, overwrite=True):
        """Write the dataset (DESIGN.md's layout, statistics recomputed) atomically: a failed
        write leaves nothing behind and an existing file untouched. overwrite=False refuses an
        existing path (FileExistsError)."""
        p = _lib.encode(path, "path")
        if not overwrite and os.path.exists(path):
            raise FileExistsError(17, f"'{os.fspath(path)}' exists (pass overwrite=True to replace it)",
                                  os.fspath(path))
        with _lib.FILE_LOCK:
            _lib.check(_lib.lib().mbrl_dataset_save(self._ref(), p,
                                                    f"mbrl-python {__version__}".encode()))

    # ---- contents
    def __len__(self):
        return int(self._ds.n)

    @property
    def env_id(self):
        return _lib.cstr(self._ds.env_id)

    @property
    def obs_dim(self):
        return self._ds.obs_dim

    @property
    def act_dim(self):
        return self._ds.act_dim

    @property
    def seed(self):
        return int(self._ds.seed)

    @property
    def episodes(self):
        return int(self._ds.episodes)

    @property
    def observations(self):
        return _c_array(self, self._ds.observations, (len(self), self.obs_dim), F32)

    @property
    def actions(self):
        return _c_array(self, self._ds.actions, (len(self), self.act_dim), F32)

    @property
    def next_observations(self):
        return _c_array(self, self._ds.next_observations, (len(self), self.obs_dim), F32)

    @property
    def rewards(self):
        return _c_array(self, self._ds.rewards, (len(self),), F32)

    @property
    def terminals(self):
        return _c_array(self, self._ds.terminals, (len(self),), np.bool_)

    @property
    def timeouts(self):
        return _c_array(self, self._ds.timeouts, (len(self),), np.bool_)

    @property
    def fields(self):
        """The six arrays by name (the file's datasets)."""
        return {k: getattr(self, k) for k in FIELDS}

    @property
    def stats(self):
        return DatasetStats._from_c(self._ds.stats, self.obs_dim, self.act_dim)

    def episode_bounds(self):
        """(start, end) row ranges of the episodes (a row with terminals|timeouts ends one)."""
        ends = np.flatnonzero(self.terminals | self.timeouts) + 1
        if len(self) and (len(ends) == 0 or ends[-1] != len(self)):
            ends = np.append(ends, len(self))
        starts = np.concatenate([[0], ends[:-1]])
        return list(zip(starts.tolist(), ends.tolist()))

    def __repr__(self):
        return (f"Dataset({self.env_id!r}, {len(self)} transitions, {self.episodes} episodes, "
                f"seed {self.seed})")

    def __del__(self):
        if getattr(self, "_live", False):
            _lib.lib().mbrl_dataset_free(self._ref())
            self._live = False


def collect(env_id, episodes=20, max_steps=None, seed=999):
    """A random-policy dataset: exactly the file `mbrl_collect --env ENV --episodes N
    [--max-steps T] --seed S` writes (episode i starts from Gymnasium's i-th reset after
    reset(seed=S); actions from Philox(S, 2^32 + i)). max_steps caps an episode (None: the
    env's time limit)."""
    spec = env_spec(env_id)
    episodes = positive_int(episodes, "episodes", 1, 10**6)
    ms = 0 if max_steps is None else positive_int(max_steps, "max_steps", 1, 10**6)
    seed = u64(seed, "seed")
    self = Dataset._new()
    L = _lib.lib()
    _lib.check(L.mbrl_dataset_init(self._ref(), spec.id.encode(), spec.obs_dim, spec.act_dim))
    self._live = True
    _lib.check(L.mbrl_collect_random(self._ref(), spec.id.encode(), episodes, ms, seed, 0, None, None))
    self._ds.seed = seed
    _lib.check(L.mbrl_dataset_compute_stats(self._ref()))
    return self
