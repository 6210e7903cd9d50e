"""Batched C environments stepped over numpy arrays (PufferLib's way): mbrl.make_env.

    env = mbrl.make_env("Pendulum-v1", num_envs=4096, seed=0)
    obs, info = env.reset()                       # (4096, 3) float32
    obs, rew, terminated, truncated, info = env.step(actions)   # actions (4096, 1)

Every array a step returns lives in the env and is written by the C library in place: nothing is
allocated or copied per step (make_env(..., copy=True) returns copies instead). Keep a copy of
an observation you want to store past the next step.

Semantics are the C envs' (mbrl/env.h), i.e. Gymnasium's vector envs with autoreset in the same
step (gymnasium.vector.AutoresetMode.SAME_STEP): env b is seeded seed + b at reset(seed=seed),
as Gymnasium's vector envs do; when an episode ends (terminated or truncated by the time limit)
the env resets itself in that same step, `obs` holds the new episode's first observation and
info["final_obs"][b] the episode's last one (info["_final_obs"] marks which envs ended).
The ids are whatever the C registry knows (mbrl.env_ids()).
"""

from dataclasses import dataclass
from typing import Tuple

import ctypes
import threading

import numpy as np

from . import _lib
from ._arrays import F32, addr, positive_int, random_seed, u64


@dataclass(frozen=True)
class EnvSpec:
    """What the C registry says about an environment (Gymnasium's spaces, float32 bounds)."""
    id: str
    obs_dim: int
    act_dim: int
    discrete: bool
    n_actions: int        # 0 for a continuous action
    act_low: Tuple[float, ...]
    act_high: Tuple[float, ...]
    obs_low: Tuple[float, ...]
    obs_high: Tuple[float, ...]
    max_steps: int        # the time limit (TimeLimit's max_episode_steps)
    obs_names: Tuple[str, ...] = ()   # short names of the observation values ("cos", "x_dot")


def env_ids():
    """The ids of every environment of the library's registry, in its order
    (['Pendulum-v1', 'CartPole-v1', ...])."""
    L = _lib.lib()
    ids, i = [], 0
    while True:
        p = L.mbrl_env_at(i)
        if not p:
            return ids
        ids.append(_lib.cstr(p.contents.id))
        i += 1


def _spec_ptr(env_id):
    L = _lib.lib()
    p = L.mbrl_env_find(_lib.encode(env_id, "env_id"))
    if not p:
        raise _lib.error(_lib.ERR_INVALID_ARG)
    return p


def env_spec(env_id):
    """The EnvSpec of env_id; ValueError (listing the known ids) when the library lacks it."""
    s = _spec_ptr(env_id).contents
    O, A = s.obs_dim, s.act_dim
    return EnvSpec(id=_lib.cstr(s.id), obs_dim=O, act_dim=A, discrete=bool(s.discrete),
                   n_actions=s.n_actions, act_low=tuple(s.act_low[:A]),
                   act_high=tuple(s.act_high[:A]), obs_low=tuple(s.obs_low[:O]),
                   obs_high=tuple(s.obs_high[:O]), max_steps=s.max_steps,
                   obs_names=tuple(_lib.cstr(s.obs_names[j]) or f"s{j}" for j in range(O)))


def spaces(spec):
    """(single observation space, single action space) as gymnasium spaces."""
    from gymnasium import spaces as S
    obs = S.Box(np.array(spec.obs_low, F32), np.array(spec.obs_high, F32), dtype=np.float32)
    if spec.discrete:
        act = S.Discrete(spec.n_actions)
    else:
        act = S.Box(np.array(spec.act_low, F32), np.array(spec.act_high, F32), dtype=np.float32)
    return obs, act


def make_env(env_id, num_envs=1, seed=None, copy=False):
    """num_envs batched C environments of env_id (see the module docstring). seed: the reset
    seed of the first reset() (env b gets seed + b); None draws one from the OS.
    copy=True returns fresh arrays from reset/step instead of the env's own buffers."""
    return VecEnv(env_id, num_envs=num_envs, seed=seed, copy=copy)


class VecEnv(_lib.Handle):
    """num_envs C environments of one id; see make_env. Attributes: spec (EnvSpec), num_envs,
    and the buffers the library writes: obs, next_obs, rewards, terminated, truncated."""

    def __init__(self, env_id, num_envs=1, seed=None, copy=False):
        self.spec = env_spec(env_id)
        self._spec_ptr = _spec_ptr(env_id)
        self.num_envs = B = positive_int(num_envs, "num_envs")
        self.copy = bool(copy)
        self._seed = None if seed is None else u64(seed, "seed")
        O, A = self.spec.obs_dim, self.spec.act_dim
        # the buffers shared with C (allocated once; the C library writes them in place; read
        # through the properties below, which cannot be rebound)
        self._obs = np.zeros((B, O), F32)
        self._next_obs = np.zeros((B, O), F32)
        self._rewards = np.zeros(B, F32)
        self._flags = np.zeros((2, B), np.uint8)       # terminated, truncated
        self._no_flags = bytes(2 * B)
        self._terminated = self._flags[0].view(np.bool_)
        self._truncated = self._flags[1].view(np.bool_)
        self._actions = np.zeros((B, A), F32)          # step(env.actions) copies nothing
        self._eb = _lib.EnvBatch()
        self._eb_ref = ctypes.byref(self._eb)
        vp = ctypes.c_void_p
        self._step_args = (self._eb_ref, vp(addr(self._actions)), vp(addr(self._obs)),
                           vp(addr(self._next_obs)), vp(addr(self._rewards)),
                           vp(addr(self._terminated)), vp(addr(self._truncated)))
        self._step_fn = _lib.raw_function("mbrl_env_batch_step", None)
        self._live = False
        self._closed = False
        self._lock = threading.Lock()
        self._obs_space = self._act_space = None

    # ---- the shared buffers
    @property
    def obs(self):
        """(num_envs, obs_dim) float32: the observations to act on (after autoreset)."""
        return self._obs

    @property
    def next_obs(self):
        """(num_envs, obs_dim) float32: what the last step produced (an ended episode's last)."""
        return self._next_obs

    @property
    def rewards(self):
        return self._rewards

    @property
    def terminated(self):
        return self._terminated

    @property
    def truncated(self):
        return self._truncated

    @property
    def actions(self):
        """(num_envs, act_dim) float32 the caller may fill; step(env.actions) copies nothing."""
        return self._actions

    # ---- gymnasium-style attributes
    @property
    def env_id(self):
        return self.spec.id

    @property
    def single_observation_space(self):
        if self._obs_space is None:
            self._obs_space, self._act_space = spaces(self.spec)
        return self._obs_space

    @property
    def single_action_space(self):
        self.single_observation_space
        return self._act_space

    @property
    def observation_space(self):
        from gymnasium.vector.utils import batch_space
        return batch_space(self.single_observation_space, self.num_envs)

    @property
    def action_space(self):
        from gymnasium.vector.utils import batch_space
        return batch_space(self.single_action_space, self.num_envs)

    # ---- reset / step
    def reset(self, seed=None, options=None):
        """Reset every env. seed: env b restarts from Gymnasium's reset(seed=seed + b); None
        continues each env's reset generator (the first reset uses make_env's seed, or one
        from the OS). Returns (obs (num_envs, obs_dim), {})."""
        if options:
            raise ValueError(f"reset options are not supported (got {options!r})")
        self._check_open()
        L = _lib.lib()
        with self._lock:
            if seed is not None or not self._live:
                if seed is not None:
                    s = u64(seed, "seed")
                elif self._seed is not None:
                    s = self._seed
                else:
                    s = random_seed()
                self._free_batch()
                _lib.check(L.mbrl_env_batch_init(self._eb_ref, self.spec.id.encode(),
                                                 self.num_envs, s, 0))
                self._live = True
            L.mbrl_env_batch_reset(self._eb_ref, addr(self._obs))
        return (self._obs.copy() if self.copy else self._obs), {}

    def step(self, actions):
        """Step every env with actions (num_envs, act_dim) (or (num_envs,) for act_dim 1; for
        a discrete env the action indices). Returns (obs, rewards, terminated, truncated,
        info) as Gymnasium's vector envs with SAME_STEP autoreset. Passing env.actions (after
        writing into it) skips the copy of the actions."""
        if actions is not self._actions:
            self._set_actions(actions)
        with self._lock:
            if not self._live:
                self._check_open()
                raise RuntimeError("call reset() before step()")
            self._step_fn(*self._step_args)
        info = {}
        te, tr = self._terminated, self._truncated
        if self._flags.tobytes() != self._no_flags:
            done = te | tr
            final = np.full(self.num_envs, None, dtype=object)
            for b in np.flatnonzero(done):
                final[b] = self._next_obs[b].copy()
            info = {"final_obs": final, "_final_obs": done,
                    "final_info": {}, "_final_info": done.copy()}
        if self.copy:
            return (self._obs.copy(), self._rewards.copy(), te.copy(), tr.copy(), info)
        return self._obs, self._rewards, te, tr, info

    def _set_actions(self, actions):
        B, A = self._actions.shape
        a = actions if isinstance(actions, np.ndarray) else np.asarray(actions)
        if a.dtype.kind not in "fiub":
            raise TypeError(f"actions must be numbers, got dtype {a.dtype}")
        if a.shape != (B, A):
            if A == 1 and a.shape == (B,):
                a = a.reshape(B, 1)
            else:
                raise ValueError(f"actions must have shape ({B}, {A})" + (f" or ({B},)" if A == 1 else "")
                                 + f" for {self.num_envs} {self.spec.id} envs, got {a.shape}")
        if self.spec.discrete:
            bad = (a < 0) | (a >= self.spec.n_actions) | (a != np.floor(a))
            if bad.any():
                raise ValueError(f"{self.spec.id} actions must be integers in [0, "
                                 f"{self.spec.n_actions}), got {a[bad].ravel()[0]!r}")
        self._actions[...] = a                       # (casts; cheaper than np.copyto)

    def _check_open(self):
        if self._closed:
            raise RuntimeError("the env is closed")

    def _free_batch(self):
        if self._live:
            _lib.lib().mbrl_env_batch_free(self._eb_ref)
            self._live = False

    def close(self):
        """Release the C envs (the numpy buffers stay readable). Safe to call twice."""
        if getattr(self, "_lock", None) is None:
            return
        with self._lock:
            self._free_batch()
            self._closed = True

    def __repr__(self):
        return f"VecEnv({self.spec.id!r}, num_envs={self.num_envs})"
