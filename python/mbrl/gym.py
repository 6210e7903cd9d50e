"""Gymnasium wrappers over the C environments, registered as mbrl/<id> for every id of the C
registry when mbrl is imported with gymnasium installed:

    import gymnasium, mbrl
    env = gymnasium.make("mbrl/Pendulum-v1")                     # MbrlEnv (+ TimeLimit etc.)
    envs = gymnasium.make_vec("mbrl/Pendulum-v1", num_envs=64)   # MbrlVectorEnv
    gymnasium.make("mbrl:mbrl/CartPole-v1")                      # imports mbrl itself

MbrlEnv is one env with Gymnasium's single-env semantics: reset(seed=s) draws Gymnasium's start
state bit for bit (numpy's PCG64(SeedSequence(s)), the generator Gymnasium's own env uses, is
env.np_random here too: our C env draws from its state and hands it back), it never truncates by
itself (gymnasium.make's TimeLimit does, at the registered max_episode_steps) and it does not
reset by itself. MbrlVectorEnv is mbrl.make_env's VecEnv as a gymnasium.vector.VectorEnv
(autoreset SAME_STEP, env b seeded seed + b), returning copies unless copy=False.
"""

import ctypes

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from . import _lib
from ._arrays import F32, addr, random_seed
from .env import VecEnv, env_ids, env_spec, spaces

NAMESPACE = "mbrl"
_MASK64 = (1 << 64) - 1


class MbrlEnv(gymnasium.Env):
    """One C environment of `env_id` as a gymnasium.Env (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, env_id="Pendulum-v1", render_mode=None):
        if render_mode is not None:
            raise ValueError(f"mbrl envs do not render (render_mode={render_mode!r})")
        self.render_mode = None
        self.mbrl_spec = env_spec(env_id)
        self.observation_space, self.action_space = spaces(self.mbrl_spec)
        self._env = _lib.Env()
        _lib.check(_lib.lib().mbrl_env_init(ctypes.byref(self._env),
                                            self.mbrl_spec.id.encode(), 0, 0))
        self._obs = np.zeros(self.mbrl_spec.obs_dim, F32)
        self._act = np.zeros(self.mbrl_spec.act_dim, F32)
        self._reset_done = False

    # numpy's PCG64 state <-> the C generator of the env
    def _rng_to_c(self):
        st = self.np_random.bit_generator.state
        if st.get("bit_generator") != "PCG64":     # a user-set generator of another kind
            _lib.check(_lib.lib().mbrl_env_init(ctypes.byref(self._env), self.mbrl_spec.id.encode(),
                                                int(self.np_random.integers(0, 2**63)), 0))
            return
        r = self._env.rng
        s, inc = st["state"]["state"], st["state"]["inc"]
        r.state_hi, r.state_lo, r.inc_hi, r.inc_lo = s >> 64, s & _MASK64, inc >> 64, inc & _MASK64

    def _rng_from_c(self):
        bg = self.np_random.bit_generator
        st = bg.state
        if st.get("bit_generator") != "PCG64":
            return
        r = self._env.rng
        st["state"] = {"state": (r.state_hi << 64) | r.state_lo, "inc": (r.inc_hi << 64) | r.inc_lo}
        bg.state = st

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"reset options are not supported (got {options!r})")
        self._rng_to_c()
        _lib.lib().mbrl_env_reset(ctypes.byref(self._env), addr(self._obs))
        self._rng_from_c()
        self._reset_done = True
        return self._obs.copy(), {}

    def step(self, action):
        if not self._reset_done:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        spec = self.mbrl_spec
        a = np.asarray(action)
        if a.dtype.kind not in "fiub":
            raise TypeError(f"the action must be a number, got dtype {a.dtype}")
        if spec.discrete:
            if a.size != 1 or not (0 <= a.ravel()[0] < spec.n_actions) or a.ravel()[0] != int(a.ravel()[0]):
                raise ValueError(f"{spec.id} takes an action in [0, {spec.n_actions}), got {action!r}")
        elif a.size != spec.act_dim:
            raise ValueError(f"{spec.id} takes an action of shape ({spec.act_dim},), got shape {a.shape}")
        self._act[:] = a.ravel()
        r = ctypes.c_float()
        term = ctypes.c_int()
        trunc = ctypes.c_int()       # the C env's own time limit: left to gymnasium's TimeLimit
        _lib.lib().mbrl_env_step(ctypes.byref(self._env), addr(self._act), addr(self._obs),
                                 ctypes.byref(r), ctypes.byref(term), ctypes.byref(trunc))
        return self._obs.copy(), float(r.value), bool(term.value), False, {}

    def close(self):
        pass


class MbrlVectorEnv(VectorEnv):
    """mbrl.make_env's batched C envs as a gymnasium.vector.VectorEnv (SAME_STEP autoreset)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, env_id="Pendulum-v1", num_envs=1, copy=True, max_episode_steps=None,
                 render_mode=None):
        if render_mode is not None:
            raise ValueError(f"mbrl envs do not render (render_mode={render_mode!r})")
        self._venv = VecEnv(env_id, num_envs=num_envs, copy=copy)
        spec = self._venv.spec
        if max_episode_steps is not None and max_episode_steps != spec.max_steps:
            raise ValueError(f"the C {spec.id} envs end episodes at {spec.max_steps} steps; "
                             f"max_episode_steps={max_episode_steps} is not supported")
        self.num_envs = self._venv.num_envs
        self.render_mode = None
        self.single_observation_space, self.single_action_space = spaces(spec)
        self.observation_space = self._venv.observation_space
        self.action_space = self._venv.action_space

    def reset(self, *, seed=None, options=None):
        if isinstance(seed, (list, tuple)):
            raise ValueError("mbrl vector envs take one integer seed (env b gets seed + b)")
        if seed is None and not self._venv._live:
            seed = random_seed()
        return self._venv.reset(seed=seed, options=options)

    def step(self, actions):
        return self._venv.step(actions)

    def close_extras(self, **kwargs):
        self._venv.close()


def register_envs():
    """Register mbrl/<id> (env and vector env) for every id of the C registry that is not
    registered yet. Called by `import mbrl` when gymnasium is installed."""
    reg = gymnasium.envs.registration.registry
    for env_id in env_ids():
        name = f"{NAMESPACE}/{env_id}"
        if name in reg:
            continue
        gymnasium.register(id=name, entry_point="mbrl.gym:MbrlEnv",
                           vector_entry_point="mbrl.gym:MbrlVectorEnv",
                           max_episode_steps=env_spec(env_id).max_steps,
                           kwargs={"env_id": env_id})
