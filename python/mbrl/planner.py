"""Sampling-based model-predictive control (mbrl/planner.h): random shooting over a learned
model or the env's true dynamics, on the CPU or CUDA backend.

    planner = mbrl.Planner(model, "Pendulum-v1", samples=1024, horizon=15, seed=S)
    for i in range(episodes):
        obs, _ = env.reset(seed=S + i)
        planner.reset(seed=S + i)
        while ...:
            action = planner.plan(obs)          # (act_dim,); (E, act_dim) for obs (E, obs_dim)

Seeds, as mbrl_mpc: the plan at control step t of an episode with reset seed s draws its action
sequences from Philox keyed by planner_seed(s, 0, t); so with reset(seed=S + i) at episode i
the actions equal `mbrl_mpc --seed S`'s step for step (python/tests/test_planner.py checks it
on the real gymnasium Pendulum-v1). A batched plan of E observations treats row e as the
episode with reset seed s + e (Gymnasium's vector-env seeding). reset() without a seed moves
on to the next block of episodes: s + E.
"""

import ctypes
import os
import threading

import numpy as np

from . import _lib
from ._arrays import F32, addr, positive_int, u64

_M64 = (1 << 64) - 1
_RESULT_DTYPE = np.dtype(_lib.PlanResult)


def planner_seed(seed, episode, step):
    """mbrl_planner_seed (planner.h): the Philox key of the plan at `step` of `episode` of a
    run seeded `seed` (splitmix64 mixing). Python ints in [0, 2^64)."""
    z = seed & _M64
    for v in (episode, step):
        z = (z + 0x9E3779B97F4A7C15 + v) & _M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        z ^= z >> 31
    return z


def _planner_seeds(base, E, step):
    """planner_seed(base + e, 0, step) for e < E as uint64 (E,)."""
    if E <= 8:
        return np.array([planner_seed((base + e) & _M64, 0, step) for e in range(E)], np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(base) + np.arange(E, dtype=np.uint64)
        for v in (0, step):
            z = z + np.uint64((0x9E3779B97F4A7C15 + v) & _M64)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z ^= z >> np.uint64(31)
    return z


class Planner(_lib.Handle):
    """Random-shooting MPC (see the module docstring).

    model: a DynamicsModel, "oracle" (the env's true dynamics, any registered env) or the path
    of a checkpoint. samples K and horizon H as mbrl_mpc's --samples/--horizon; gamma, warm_start,
    reward_on ("current" | "next") and cost ("reward" | "shaped": the env's dense planning cost,
    EnvSpec.shaped_cost_doc) as its --gamma, --warm-start, --reward-on, --cost; projection=False
    is its --no-projection (a learned model's predicted observations are by default mapped to the
    nearest ones the env can emit: unit cos/sin pairs for Pendulum and Acrobot). device:
    "auto" | "cpu" | "cuda". max_envs: the largest batch planned at once (grows on demand).
    A discrete env's actions come back as the action index in float (0.0, 1.0, ..)."""

    def __init__(self, model, env_id, samples=1024, horizon=15, seed=0, device="auto", *,
                 gamma=1.0, warm_start=False, reward_on="current", max_envs=1, cost="reward",
                 projection=True):
        from .dynamics import DynamicsModel
        L = _lib.lib()
        self._lock = threading.Lock()
        self._pm = ctypes.c_void_p()
        self._p = ctypes.c_void_p()
        env_b = _lib.encode(env_id, "env_id")
        if isinstance(model, DynamicsModel):
            with model._lock:
                model._d                     # raises if the model is closed
                _lib.check(L.mbrl_plan_model_from_dynamics(ctypes.byref(self._pm), model._p))
            self.model_name = "learned"
        elif isinstance(model, str) and model == "oracle":
            _lib.check(L.mbrl_plan_model_oracle(ctypes.byref(self._pm), env_b))
            self.model_name = "oracle"
        elif isinstance(model, (str, os.PathLike)):
            if not os.path.exists(model):
                raise FileNotFoundError(2, f"model file '{os.fspath(model)}' does not exist "
                                        "(give a DynamicsModel, a checkpoint path or 'oracle')",
                                        os.fspath(model))
            with _lib.FILE_LOCK:
                _lib.check(L.mbrl_plan_model_load(ctypes.byref(self._pm),
                                                  _lib.encode(model, "model"), env_b))
            self.model_name = os.fspath(model)
        else:
            raise TypeError(f"model must be a DynamicsModel, 'oracle' or a checkpoint path, got "
                            f"{type(model).__name__}")
        pm = ctypes.cast(self._pm, ctypes.POINTER(_lib.PlanModel)).contents
        self.env_id = _lib.cstr(pm.env_id)
        if self.env_id != env_id:
            raise ValueError(f"the model is a {self.env_id} model; the planner was asked for {env_id}")
        self.obs_dim, self.act_dim = pm.obs_dim, pm.act_dim
        self._shape1 = (self.obs_dim,)
        self.samples = positive_int(samples, "samples")
        self.horizon = positive_int(horizon, "horizon", 1, 100000)
        self.gamma = float(gamma)
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        if reward_on not in ("current", "next"):
            raise ValueError(f"reward_on must be 'current' or 'next', got {reward_on!r}")
        self.reward_on = reward_on
        if cost not in _lib.PLAN_COSTS:
            raise ValueError(f"cost must be 'reward' or 'shaped', got {cost!r}")
        self.cost = cost
        self.warm_start = bool(warm_start)
        self.projection = bool(projection)
        self.seed = u64(seed, "seed")
        self._backend_req = _lib.backend_from_device(device)
        self._max_envs = 0
        self._create(positive_int(max_envs, "max_envs", 1, 65536))
        self._base = self.seed     # reset seed of row 0 of the current episode(s)
        self._E = None             # rows planned in the current episode(s)
        self._last_E = 1
        self._step = 0

    def _create(self, max_envs):
        L = _lib.lib()
        cfg = _lib.PlannerConfig()
        L.mbrl_planner_config_init(ctypes.byref(cfg))
        cfg.samples, cfg.horizon, cfg.gamma = self.samples, self.horizon, self.gamma
        cfg.max_envs, cfg.backend = max_envs, self._backend_req
        cfg.score_next = 1 if self.reward_on == "next" else 0
        cfg.cost = _lib.PLAN_COSTS[self.cost]
        cfg.no_projection = 0 if self.projection else 1
        p = ctypes.c_void_p()
        _lib.check(L.mbrl_planner_create(ctypes.byref(p), self._pm, ctypes.byref(cfg)))
        if self._p:
            L.mbrl_planner_free(self._p)
        self._p = p
        self._max_envs = max_envs
        self._results = np.zeros(max_envs, _RESULT_DTYPE)
        self._seeds = np.zeros(max_envs, np.uint64)
        self._prior = np.zeros((max_envs, self.horizon, self.act_dim), F32)
        self._obs = np.zeros((max_envs, self.obs_dim), F32)
        self._obs0 = self._obs[0]
        self._action = self._results["action"]          # (max_envs, MAX_DIM) views
        self._action0 = self._action[0, :self.act_dim]
        self._seeds_c = (ctypes.c_uint64 * max_envs).from_buffer(self._seeds)
        self._plan_fn = _lib.raw_function("mbrl_planner_plan_prior", ctypes.c_int)
        vp = ctypes.c_void_p
        self._c_obs, self._c_seeds = vp(addr(self._obs)), vp(addr(self._seeds))
        self._c_prior, self._c_res = vp(addr(self._prior)), vp(self._results.ctypes.data)

    @property
    def device(self):
        if not self._p:
            return "closed"
        return _lib.backend_name(_lib.lib().mbrl_planner_backend(self._p))

    def reset(self, seed=None):
        """Start new episode(s): the next plan() is step 0 of the episode with reset seed
        `seed` (row e of a batch: seed + e). seed=None continues with the next block of
        episodes (seed of the last reset + the rows it planned)."""
        with self._lock:
            if seed is None:
                self._base = (self._base + self._last_E) & _M64
            else:
                self._base = u64(seed, "seed")
            self._E = None
            self._step = 0

    def plan(self, obs):
        """The first action of the best of `samples` random action sequences from obs
        (obs_dim,) -> (act_dim,), or from each row of obs (E, obs_dim) -> (E, act_dim)."""
        o = obs if type(obs) is np.ndarray else np.asarray(obs)
        if o.shape == self._shape1 and (o.dtype is F32 or o.dtype.kind in "fiub"):  # one obs
            with self._lock:                  # (the hot path: kept short, _run inlined)
                if self._E != 1:
                    self._start(1)
                self._obs0[:] = o              # (converts; cheaper than np.copyto)
                step = self._step
                self._seeds_c[0] = planner_seed(self._base, 0, step)
                warm = self.warm_start
                st = self._plan_fn(self._p, self._c_obs, self._c_seeds,
                                   self._c_prior if warm and step else None, 1, self._c_res)
                if st:
                    raise _lib.error(st, prefix=f"planning step {step}")
                if warm:
                    self._shift_best(1, step > 0)
                self._step = step + 1
                return self._action0.copy()
        O = self.obs_dim
        if o.ndim != 2 or o.shape[1] != O or o.shape[0] < 1:
            raise ValueError(f"obs must have shape ({O},) or (E, {O}), got {o.shape}")
        if o.dtype.kind not in "fiub":
            raise TypeError(f"obs must hold real numbers, got dtype {o.dtype}")
        E = o.shape[0]
        with self._lock:
            if self._E != E:
                self._start(E)
            self._obs[:E] = o
            self._seeds[:E] = _planner_seeds(self._base, E, self._step)
            self._run(E)
            return self._action[:E, :self.act_dim].copy()

    def _start(self, E):
        """The first plan of an episode fixes its batch E (growing the buffers if needed)."""
        if not self._p:
            raise RuntimeError("the planner is closed")
        if self._E is not None:
            raise ValueError(f"this episode plans for {self._E} environment(s), got obs with "
                             f"{E} rows; call reset() to change the batch")
        if E > self._max_envs:
            if E > 65536:
                raise ValueError(f"at most 65536 environments per plan, got {E}")
            self._create(E)
        self._E = self._last_E = E

    def _run(self, E):
        warm = self.warm_start and self._step > 0
        st = self._plan_fn(self._p, self._c_obs, self._c_seeds, self._c_prior if warm else None,
                           E, self._c_res)
        if st != _lib.OK:
            raise _lib.error(st, prefix=f"planning step {self._step}")
        if self.warm_start:
            self._shift_best(E, warm)
        self._step += 1

    def _shift_best(self, E, have_prior):
        L = _lib.lib()
        stride = self.horizon * self.act_dim * 4
        base, res = self._c_prior.value, self._c_res.value
        for e in range(E):
            pe = base + e * stride
            L.mbrl_planner_shift_best(self._p, res + e * _RESULT_DTYPE.itemsize, int(self._seeds[e]),
                                      pe if have_prior else None, pe)

    # ---- what the last plan found
    @property
    def last_predicted_return(self):
        """(E,) the predicted discounted return of the best sequence of the last plan."""
        return self._results["best_return"][:self._E or 0].copy()

    @property
    def last_predicted_next_obs(self):
        """(E, obs_dim) the model's prediction of the next observation under the chosen action."""
        return self._results["pred_next"][:self._E or 0, :self.obs_dim].copy()

    @property
    def last_best_index(self):
        return self._results["best_index"][:self._E or 0].copy()

    def last_costs(self):
        """(E, samples) the cost of every sequence of the last plan (a copy from the device on
        CUDA)."""
        E = self._E or 0
        out = np.zeros((E, self.samples), F32)
        if E and self._p:
            with self._lock:
                _lib.check(_lib.lib().mbrl_planner_last_costs(self._p, addr(out)))
        return out

    @property
    def step(self):
        """Plans made since the last reset (the control step of the next plan)."""
        return self._step

    def close(self):
        """Release the planner and its model copy (plan() then raises). Safe to call twice."""
        L = _lib.lib() if (getattr(self, "_p", None) or getattr(self, "_pm", None)) else None
        if L is None:
            return
        with self._lock:
            self._close(L)

    def _close(self, L):
        self._E = None                     # the next plan() goes through _start(), which raises
        if self._p:
            L.mbrl_planner_free(self._p)
            self._p = ctypes.c_void_p()
        if self._pm:
            L.mbrl_plan_model_free(self._pm)
            self._pm = ctypes.c_void_p()

    def __repr__(self):
        return (f"Planner({self.model_name!r}, {self.env_id!r}, samples={self.samples}, "
                f"horizon={self.horizon}, device={self.device!r})")
