"""mbrl.A2C: actor-critic training (stable-baselines3's A2C defaults) and REINFORCE over a batch
of C environments, for one policy or an ensemble of M acting together (mbrl/a2c.h,
mbrl/ensemble.h: seeds 000, 001 and 004).

    agent = mbrl.A2C("CartPole-v1", seed=0)
    summary = agent.learn(100_000)            # == mbrl_a2c --steps 100000 --seed 0
    actions = agent.act(obs)                  # (n,) greedy actions for obs (n, obs_dim)
    agent.save("policy.h5"); agent = mbrl.A2C.load("policy.h5")

learn() runs mbrl_a2c's loop (the same iterations, evaluations, evolution steps and log tags),
so a seed gives the program's numbers on the same backend."""

import ctypes
import math
import os
import threading
import time

import numpy as np

from . import _lib
from ._arrays import F32, addr, as_batch, positive_int, u64
from .env import env_spec

EVOLVE_STREAM = 1 << 35      # mbrl_a2c's evolution Philox stream: Philox(seed, 2^35)


class A2C(_lib.Handle):
    """A2C / REINFORCE agent(s) on a discrete-action env; see the module docstring. Arguments
    left None take the algorithm's defaults (mbrl_a2c_config_init: SB3's A2C, or seed 004's
    REINFORCE with n_steps 50 and ent_coef 0.01)."""

    def __init__(self, env_id="CartPole-v1", algo="a2c", models=1, seed=0, device="auto", *,
                 n_envs=None, n_steps=None, gamma=None, gae_lambda=None, vf_coef=None,
                 ent_coef=None, max_grad_norm=None, lr=None, rms_alpha=None, rms_eps=None,
                 hidden=None):
        spec = env_spec(env_id)
        if not spec.discrete:
            raise ValueError(f"{spec.id} has a continuous action space; A2C/REINFORCE here need "
                             "discrete actions")
        if algo not in _lib.A2C_ALGOS:
            raise ValueError(f"algo must be 'a2c' or 'reinforce', got {algo!r}")
        L = _lib.lib()
        cfg = _lib.A2cConfig()
        L.mbrl_a2c_config_init(ctypes.byref(cfg), _lib.A2C_ALGOS[algo])
        for k, v in (("n_envs", n_envs), ("n_steps", n_steps)):
            if v is not None:
                setattr(cfg, k, positive_int(v, k, 1, 65536 if k == "n_envs" else 100000))
        for k, v in (("gamma", gamma), ("gae_lambda", gae_lambda), ("vf_coef", vf_coef),
                     ("ent_coef", ent_coef), ("max_grad_norm", max_grad_norm), ("lr", lr),
                     ("rms_alpha", rms_alpha), ("rms_eps", rms_eps)):
            if v is not None:
                setattr(cfg, k, float(v))
        if hidden is not None:
            hidden = [positive_int(h, "hidden width", 1, 4096) for h in hidden]
            if not 1 <= len(hidden) <= _lib.A2C_MAX_HIDDEN:
                raise ValueError(f"hidden must list 1..{_lib.A2C_MAX_HIDDEN} widths")
            cfg.n_hidden = len(hidden)
            cfg.hidden[:len(hidden)] = hidden
        cfg.seed = u64(seed, "seed")
        _lib.check(L.mbrl_a2c_config_check(ctypes.byref(cfg)))
        M = positive_int(models, "models", 1, 1024)
        backend = _lib.backend_from_device(device)
        self._lock = threading.RLock()
        self._p = ctypes.c_void_p()
        _lib.check(L.mbrl_a2c_create(ctypes.byref(self._p), ctypes.byref(cfg), spec.id.encode(), M,
                                     backend))
        self.env_id, self.algo, self.spec = spec.id, algo, spec
        self._evo_rng = L.mbrl_philox_make(cfg.seed, EVOLVE_STREAM, 0)

    @property
    def _a(self):
        if not self._p:
            raise RuntimeError("the agent is closed")
        return ctypes.cast(self._p, ctypes.POINTER(_lib.A2c)).contents

    # ---- attributes
    @property
    def models(self):
        return self._a.M

    @property
    def config(self):
        c = self._a.cfg
        return {"algo": self.algo, "n_envs": c.n_envs, "n_steps": c.n_steps, "gamma": c.gamma,
                "gae_lambda": c.gae_lambda, "vf_coef": c.vf_coef, "ent_coef": c.ent_coef,
                "max_grad_norm": c.max_grad_norm, "lr": c.lr, "rms_alpha": c.rms_alpha,
                "rms_eps": c.rms_eps, "hidden": list(c.hidden[:c.n_hidden]), "seed": int(c.seed)}

    @property
    def device(self):
        return _lib.backend_name(self._a.backend)

    @property
    def env_steps(self):
        return int(self._a.env_steps)

    @property
    def iterations(self):
        return int(self._a.iterations)

    @property
    def episodes(self):
        return int(self._a.episodes_total)

    @property
    def contributions(self):
        """(M,) each model's accumulated contribution p_i(a)/sum_j p_j(a) since the last
        evolution (ensemble.h)."""
        a = self._a
        return np.array(a.contribution[:a.M], np.float64)

    # ---- training
    def iterate(self):
        """Collect one n_steps x n_envs fragment and make one update per model; returns the
        iteration's losses and episode statistics."""
        s = _lib.A2cStats()
        with self._lock:
            self._a
            _lib.check(_lib.lib().mbrl_a2c_iterate(self._p, ctypes.byref(s)))
        return {"policy_loss": s.losses.policy_loss, "value_loss": s.losses.value_loss,
                "entropy": s.losses.entropy, "loss": s.losses.loss, "grad_norm": s.grad_norm,
                "episodes": s.episodes, "ep_return_mean": s.ep_return_mean,
                "ep_len_mean": s.ep_len_mean}

    def evolve(self, frac=0.25, mutation_std=0.01, crossover=False):
        """One evolution step of the ensemble (ensemble.h): the lowest-contributing models are
        rebuilt from the best; returns the (M,) mask of rebuilt models. Draws from the agent's
        evolution stream Philox(seed, 2^35), as mbrl_a2c --evolve-every does."""
        L = _lib.lib()
        ec = _lib.EvolveConfig()
        L.mbrl_evolve_config_init(ctypes.byref(ec))
        ec.frac, ec.mutation_std, ec.crossover = float(frac), float(mutation_std), int(bool(crossover))
        rebuilt = np.zeros(self.models, np.int32)
        with self._lock:
            self._a
            _lib.check(L.mbrl_ensemble_evolve(self._p, ctypes.byref(ec), ctypes.byref(self._evo_rng),
                                              addr(rebuilt), None))
        return rebuilt.astype(bool)

    def learn(self, total_timesteps, eval_every=10000, eval_episodes=10, *, evolve_every=0,
              evolve_frac=0.25, mutation_std=0.01, crossover=False, stop_return=None,
              logdir=None, callback=None):
        """Train for total_timesteps env steps (rounded up to whole fragments) as mbrl_a2c
        --steps does: an evaluation (eval_episodes greedy episodes) every eval_every steps and
        at the end, an evolution step every evolve_every steps (ensembles), scalars to logdir.
        callback(agent, stats) after every iteration may return False to stop. Returns the
        summary mbrl_a2c --json prints (env_steps, evals [[steps, mean], ...], ...)."""
        total = positive_int(total_timesteps, "total_timesteps", 0, 10**10)
        eval_every = positive_int(eval_every, "eval_every", 0, 10**10)
        evolve_every = positive_int(evolve_every, "evolve_every", 0, 10**10)
        eval_episodes = positive_int(eval_episodes, "eval_episodes", 1, 10**6)
        if evolve_every and self.models < 2:
            raise ValueError("evolve_every needs an ensemble (models >= 2)")
        cfg = self._a.cfg
        per_iter = cfg.n_steps * cfg.n_envs
        iters = (total + per_iter - 1) // per_iter
        log = None
        if logdir is not None:
            from .log import Log
            log = Log(logdir)
        evals, best, final = [], -math.inf, math.nan
        next_eval = eval_every if eval_every > 0 else -1
        next_evolve = evolve_every if evolve_every > 0 else -1
        evolutions, stopped = 0, False
        t0 = time.monotonic()

        def evaluate():
            nonlocal best, final, stopped
            mean, _ = self.evaluate(eval_episodes)
            evals.append([self.env_steps, mean])
            final = mean
            best = max(best, mean)
            if log:
                log.scalar("eval/mean_reward", self.env_steps, mean)
            if stop_return is not None and mean >= stop_return:
                stopped = True

        try:
            for it in range(iters):
                if stopped:
                    break
                s = self.iterate()
                k = self.env_steps
                if log and (self.iterations % 100 == 0 or it == iters - 1):
                    el = time.monotonic() - t0
                    if not math.isnan(s["ep_return_mean"]):
                        log.scalar("rollout/ep_rew_mean", k, s["ep_return_mean"])
                        log.scalar("rollout/ep_len_mean", k, s["ep_len_mean"])
                    log.scalar("train/policy_loss", k, s["policy_loss"])
                    if self.algo == "a2c":
                        log.scalar("train/value_loss", k, s["value_loss"])
                    log.scalar("train/entropy_loss", k, -s["entropy"])
                    log.scalar("train/grad_norm", k, s["grad_norm"])
                    log.scalar("time/fps", k, k / el if el > 0 else 0.0)
                if next_evolve > 0 and k >= next_evolve:
                    while next_evolve <= k:
                        next_evolve += evolve_every
                    c = self.contributions
                    rebuilt = self.evolve(evolve_frac, mutation_std, crossover)
                    evolutions += 1
                    if log:
                        log.scalar("ensemble/contribution_max", k, c.max())
                        log.scalar("ensemble/contribution_min", k, c.min())
                        log.scalar("ensemble/rebuilt", k, int(rebuilt.sum()))
                if next_eval > 0 and k >= next_eval:
                    while next_eval <= k:
                        next_eval += eval_every
                    evaluate()
                if callback is not None and callback(self, s) is False:
                    break
            if not evals or evals[-1][0] != self.env_steps:
                evaluate()
        finally:
            if log:
                log.close()
        wall = time.monotonic() - t0
        return {"env": self.env_id, "algo": self.algo, "device": self.device,
                "seed": int(cfg.seed), "ensemble": self.models, "envs": cfg.n_envs,
                "n_steps": cfg.n_steps, "env_steps": self.env_steps,
                "iterations": self.iterations, "episodes": self.episodes, "wall_seconds": wall,
                "steps_per_second": self.env_steps / wall if wall > 0 else 0.0,
                "evolutions": evolutions, "stopped_early": stopped, "final_eval_mean": final,
                "best_eval_mean": best, "eval_episodes": eval_episodes, "evals": evals}

    # ---- acting
    def evaluate(self, episodes=10, deterministic=True):
        """Run fresh episodes with the ensemble's greedy (or sampled) actions; returns (mean
        return, (episodes,) returns). Training state is untouched."""
        episodes = positive_int(episodes, "episodes", 1, 10**6)
        rets = np.zeros(episodes, np.float64)
        mean = ctypes.c_double()
        with self._lock:
            self._a
            _lib.check(_lib.lib().mbrl_a2c_evaluate(self._p, episodes, int(bool(deterministic)),
                                                    addr(rets), ctypes.byref(mean)))
        return mean.value, rets

    def policy(self, obs):
        """The action distribution for obs (n, obs_dim): (agg (n, n_actions), the normalized sum
        over the models, and probs (M, n, n_actions) of each model)."""
        o, one = as_batch(obs, "obs", self.spec.obs_dim)
        n, A, M = o.shape[0], self.spec.n_actions, self.models
        agg = np.zeros((n, A), F32)
        probs = np.zeros((M, n, A), F32)
        cap = self._a.max_rows
        with self._lock:
            for s in range(0, n, cap):
                e = min(n, s + cap)
                pc = np.zeros((M, e - s, A), F32)
                _lib.check(_lib.lib().mbrl_a2c_policy(self._p, addr(o) + s * o.shape[1] * 4, e - s,
                                                      addr(pc), addr(agg) + s * A * 4))
                probs[:, s:e] = pc
        return (agg[0], probs[:, 0]) if one else (agg, probs)

    def act(self, obs, deterministic=True, rng=None):
        """Actions for obs (n, obs_dim) -> (n,) int (a single obs -> an int): the argmax of the
        ensemble's aggregated distribution, or a draw from it (rng: a numpy Generator)."""
        agg, _ = self.policy(obs)
        agg2 = agg.reshape(-1, agg.shape[-1])
        if deterministic:
            a = agg2.argmax(axis=1)
        else:
            rng = rng if rng is not None else np.random.default_rng()
            c = np.cumsum(agg2, axis=1)
            u = rng.random((agg2.shape[0], 1)) * c[:, -1:]
            a = np.minimum((u > c).sum(axis=1), agg2.shape[1] - 1)
        return int(a[0]) if agg.ndim == 1 else a.astype(np.int64)

    # ---- weight vectors (seed 000)
    @property
    def state_size(self):
        self._a
        return int(_lib.lib().mbrl_a2c_state_size(self._p))

    def get_state(self, i=0):
        """Model i's flat state vector (actor's state_dict then the critic's)."""
        i = positive_int(i, "model index", 0, self.models - 1)
        out = np.zeros(self.state_size, F32)
        with self._lock:
            _lib.check(_lib.lib().mbrl_a2c_get_state(self._p, i, addr(out)))
        return out

    def set_state(self, i, state):
        from ._arrays import as_f32
        i = positive_int(i, "model index", 0, self.models - 1)
        v = as_f32(state, "state", (self.state_size,))
        if not np.isfinite(v).all():
            raise ValueError("state holds NaN or Inf")
        with self._lock:
            _lib.check(_lib.lib().mbrl_a2c_set_state(self._p, i, addr(v)))

    # ---- files
    def save(self, path, overwrite=True):
        """Write every model (format mbrl.policy, PyTorch state_dict names) atomically."""
        p = _lib.encode(path, "path")
        if not overwrite and os.path.exists(path):
            raise FileExistsError(17, f"'{os.fspath(path)}' exists (pass overwrite=True to replace it)",
                                  os.fspath(path))
        with _lib.FILE_LOCK, self._lock:
            self._a
            _lib.check(_lib.lib().mbrl_a2c_save(self._p, p))

    @classmethod
    def load(cls, path, device="auto", seed=0, **config):
        """An agent with the env, algorithm, ensemble size and widths of a policy file (written
        by save() or mbrl_a2c --save) and its weights; optimizer states start fresh."""
        p = _lib.encode(path, "path")
        if not os.path.exists(path):
            raise FileNotFoundError(2, f"policy file '{os.fspath(path)}' does not exist", os.fspath(path))
        info = _lib.A2cFileInfo()
        with _lib.FILE_LOCK:
            _lib.check(_lib.lib().mbrl_a2c_file_info_read(p, ctypes.byref(info)))
        algo = {v: k for k, v in _lib.A2C_ALGOS.items()}[info.algo]
        config.setdefault("hidden", list(info.hidden[:info.n_hidden]))
        agent = cls(_lib.cstr(info.env_id), algo=algo, models=info.models, seed=seed, device=device,
                    **config)
        with _lib.FILE_LOCK, agent._lock:
            _lib.check(_lib.lib().mbrl_a2c_load(agent._p, p))
        return agent

    def close(self):
        """Release the agent (its methods then raise). Safe to call twice."""
        if getattr(self, "_p", None):
            with self._lock:
                _lib.lib().mbrl_a2c_free(self._p)
                self._p = ctypes.c_void_p()

    def __repr__(self):
        return f"A2C({self.env_id!r}, algo={self.algo!r}, models={self.models}, device={self.device!r})"
