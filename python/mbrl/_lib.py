"""The ctypes layer over libmbrl.so: loading, the C structs Python touches, the function table
and the status -> exception mapping. Everything else in the package goes through here.

The library is found (first match wins):
  1. $MBRL_LIBRARY, a path to libmbrl.so (e.g. build/lib/libmbrl.so of a source build; the
     test suite uses it);
  2. libmbrl.so in the package folder(s) (where `pip install .` puts it).
It is loaded on first use, so `import mbrl` works (and `python -m mbrl.plot` draws) without it.

Structs: each mirror below names its C type (`_c_name_`). A mirror marked `_full_ = True` is
allocated by Python and must match the C struct exactly (sizeof and every field); the others
are read through pointers the library returns and mirror a prefix of the C struct.
python/tests/test_abi.py compiles a C program against include/mbrl that prints sizeof/offsetof
of every mirrored field and the enum values/constants below, and compares: a header change
that moves a field fails that test and names the field, instead of corrupting memory.

ctypes.CDLL releases the GIL for the duration of every call. The objects of this package are not
safe to use from two threads at once (each holds a lock around its calls), and HDF5 file access
is serialized by FILE_LOCK (Debian's HDF5 is not thread-safe).
"""

import ctypes
import os
import sys
import threading
from ctypes import (POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int64,
                    c_long, c_longlong, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p)

# ---------------------------------------------------------------- constants (checked by test_abi)

MAX_DIM = 16                # MBRL_MAX_DIM
ENV_MAX_STATE = 4           # MBRL_ENV_MAX_STATE
MLP_MAX_LAYERS = 8          # MBRL_MLP_MAX_LAYERS
A2C_MAX_HIDDEN = 6          # MBRL_A2C_MAX_HIDDEN
A2C_EP_WINDOW = 100         # MBRL_A2C_EP_WINDOW
ENV_ID_LEN = 64             # char env_id[64] in dataset, dynamics, plan_model, a2c_file_info

CONSTANTS = {
    "MBRL_MAX_DIM": MAX_DIM, "MBRL_ENV_MAX_STATE": ENV_MAX_STATE,
    "MBRL_MLP_MAX_LAYERS": MLP_MAX_LAYERS,
    "MBRL_A2C_MAX_HIDDEN": A2C_MAX_HIDDEN, "MBRL_A2C_EP_WINDOW": A2C_EP_WINDOW,
}

# status codes (mbrl/status.h)
OK, ERR_INVALID_ARG, ERR_IO, ERR_FORMAT, ERR_NOMEM, ERR_CUDA, ERR_UNSUPPORTED, ERR_NUMERIC = range(8)
# backends (mbrl/device.h)
BACKEND_AUTO, BACKEND_CPU, BACKEND_CUDA = 0, 1, 2
BACKENDS = {"auto": BACKEND_AUTO, "cpu": BACKEND_CPU, "cuda": BACKEND_CUDA}
# activations (mbrl/nn.h)
ACTS = {"none": 0, "relu": 1, "tanh": 2}
# optimizers (mbrl/mlp.h)
OPTIM_ADAM, OPTIM_RMSPROP = 1, 2
# plan models and planning costs (mbrl/planner.h)
PLAN_MODEL_LEARNED, PLAN_MODEL_ORACLE = 1, 2
PLAN_COSTS = {"reward": 0, "shaped": 1}
# A2C algorithms (mbrl/a2c.h)
A2C_ALGOS = {"a2c": 0, "reinforce": 1}

ENUMS = {
    "MBRL_OK": OK, "MBRL_ERR_INVALID_ARG": ERR_INVALID_ARG, "MBRL_ERR_IO": ERR_IO,
    "MBRL_ERR_FORMAT": ERR_FORMAT, "MBRL_ERR_NOMEM": ERR_NOMEM, "MBRL_ERR_CUDA": ERR_CUDA,
    "MBRL_ERR_UNSUPPORTED": ERR_UNSUPPORTED, "MBRL_ERR_NUMERIC": ERR_NUMERIC,
    "MBRL_BACKEND_AUTO": BACKEND_AUTO, "MBRL_BACKEND_CPU": BACKEND_CPU,
    "MBRL_BACKEND_CUDA": BACKEND_CUDA,
    "MBRL_ACT_NONE": 0, "MBRL_ACT_RELU": 1, "MBRL_ACT_TANH": 2,
    "MBRL_OPTIM_ADAM": OPTIM_ADAM, "MBRL_OPTIM_RMSPROP": OPTIM_RMSPROP,
    "MBRL_PLAN_MODEL_LEARNED": PLAN_MODEL_LEARNED, "MBRL_PLAN_MODEL_ORACLE": PLAN_MODEL_ORACLE,
    "MBRL_PLAN_COST_REWARD": PLAN_COSTS["reward"], "MBRL_PLAN_COST_SHAPED": PLAN_COSTS["shaped"],
    "MBRL_A2C_ALGO_A2C": 0, "MBRL_A2C_ALGO_REINFORCE": 1,
}

# ---------------------------------------------------------------- struct mirrors

_DIM = c_float * MAX_DIM


class EnvSpec(Structure):          # read through const mbrl_env_spec * (the data fields)
    _c_name_ = "mbrl_env_spec"
    _full_ = False
    _fields_ = [("id", c_char_p), ("kind", c_int), ("obs_dim", c_int), ("act_dim", c_int),
                ("discrete", c_int), ("n_actions", c_int), ("act_low", _DIM), ("act_high", _DIM),
                ("obs_low", _DIM), ("obs_high", _DIM), ("max_steps", c_int), ("state_dim", c_int),
                ("reset_draws", c_int), ("obs_names", c_char_p * MAX_DIM),
                ("shaped_cost_doc", c_char_p)]


class Pcg64(Structure):
    _c_name_ = "mbrl_nprandom_pcg64"
    _full_ = True
    _fields_ = [("state_hi", c_uint64), ("state_lo", c_uint64), ("inc_hi", c_uint64),
                ("inc_lo", c_uint64)]


class Env(Structure):              # one environment, allocated by Python
    _c_name_ = "mbrl_env"
    _full_ = True
    _fields_ = [("spec", POINTER(EnvSpec)), ("state", c_double * ENV_MAX_STATE), ("t", c_int),
                ("steps_beyond_terminated", c_int), ("rng", Pcg64)]


class EnvBatch(Structure):         # B environments (SoA), allocated by Python
    _c_name_ = "mbrl_env_batch"
    _full_ = True
    _fields_ = [("spec", POINTER(EnvSpec)), ("B", c_int), ("s", c_void_p * ENV_MAX_STATE), ("t", c_void_p),
                ("steps_beyond_terminated", c_void_p), ("rng", POINTER(Pcg64))]


class DatasetStats(Structure):
    _c_name_ = "mbrl_dataset_stats"
    _full_ = True
    _fields_ = [("state_mean", _DIM), ("state_std", _DIM), ("action_mean", _DIM),
                ("action_std", _DIM), ("delta_state_mean", _DIM), ("delta_state_std", _DIM)]


class Dataset(Structure):
    _c_name_ = "mbrl_dataset"
    _full_ = True
    _fields_ = [("env_id", c_char * ENV_ID_LEN), ("obs_dim", c_int), ("act_dim", c_int),
                ("n", c_size_t), ("capacity", c_size_t), ("observations", c_void_p),
                ("actions", c_void_p), ("next_observations", c_void_p), ("rewards", c_void_p),
                ("terminals", c_void_p), ("timeouts", c_void_p), ("stats", DatasetStats),
                ("seed", c_uint64), ("episodes", c_int)]


class DatasetSplit(Structure):
    _c_name_ = "mbrl_dataset_split"
    _full_ = True
    _fields_ = [("train", c_void_p), ("val", c_void_p), ("n_train", c_size_t), ("n_val", c_size_t),
                ("train_episodes", c_size_t), ("val_episodes", c_size_t)]


class MlpConfig(Structure):
    _c_name_ = "mbrl_mlp_config"
    _full_ = True
    _fields_ = [("n_layers", c_int), ("sizes", c_int * (MLP_MAX_LAYERS + 1)),
                ("batchnorm", c_int), ("activation", c_int), ("bn_momentum", c_float),
                ("bn_eps", c_float), ("init_gain", c_float * MLP_MAX_LAYERS), ("seed", c_uint64)]


class Mlp(Structure):              # read through mbrl_mlp *
    _c_name_ = "mbrl_mlp"
    _full_ = False
    _fields_ = [("cfg", MlpConfig), ("backend", c_int), ("max_batch", c_int),
                ("n_params", c_size_t), ("n_buffers", c_size_t),
                ("w_off", c_size_t * MLP_MAX_LAYERS), ("b_off", c_size_t * MLP_MAX_LAYERS)]


class OptimConfig(Structure):
    _c_name_ = "mbrl_optim_config"
    _full_ = True
    _fields_ = [("kind", c_int), ("lr", c_float), ("beta1", c_float), ("beta2", c_float),
                ("alpha", c_float), ("eps", c_float)]


class Optim(Structure):            # read through mbrl_optim *
    _c_name_ = "mbrl_optim"
    _full_ = False
    _fields_ = [("cfg", OptimConfig), ("backend", c_int), ("n", c_size_t), ("m", c_void_p),
                ("v", c_void_p), ("step", c_longlong)]


class Dynamics(Structure):         # read through mbrl_dynamics *
    _c_name_ = "mbrl_dynamics"
    _full_ = False
    _fields_ = [("env_id", c_char * ENV_ID_LEN), ("obs_dim", c_int), ("act_dim", c_int),
                ("stats", DatasetStats), ("mlp", POINTER(Mlp)), ("config_json", c_char * 2048)]


class PlanModel(Structure):        # read through mbrl_plan_model *
    _c_name_ = "mbrl_plan_model"
    _full_ = False
    _fields_ = [("kind", c_int), ("env_id", c_char * ENV_ID_LEN), ("obs_dim", c_int),
                ("act_dim", c_int), ("act_low", _DIM), ("act_high", _DIM), ("n_actions", c_int)]


class PlannerConfig(Structure):
    _c_name_ = "mbrl_planner_config"
    _full_ = True
    _fields_ = [("samples", c_int), ("horizon", c_int), ("gamma", c_float), ("max_envs", c_int),
                ("backend", c_int), ("score_next", c_int), ("cost", c_int),
                ("particles", c_int), ("propagation", c_int), ("no_sample", c_int),
                ("no_projection", c_int)]


class PlanResult(Structure):
    _c_name_ = "mbrl_plan_result"
    _full_ = True
    _fields_ = [("action", _DIM), ("best_return", c_float), ("pred_next", _DIM),
                ("best_index", c_int)]


class Philox(Structure):
    _c_name_ = "mbrl_philox"
    _full_ = True
    _fields_ = [("ctr", c_uint32 * 4), ("key", c_uint32 * 2), ("output", c_uint32 * 4),
                ("state", c_uint32)]


class A2cConfig(Structure):
    _c_name_ = "mbrl_a2c_config"
    _full_ = True
    _fields_ = [("algo", c_int), ("n_envs", c_int), ("n_steps", c_int), ("gamma", c_float),
                ("gae_lambda", c_float), ("vf_coef", c_float), ("ent_coef", c_float),
                ("max_grad_norm", c_float), ("lr", c_float), ("rms_alpha", c_float),
                ("rms_eps", c_float), ("n_hidden", c_int), ("hidden", c_int * A2C_MAX_HIDDEN),
                ("seed", c_uint64)]


class A2cLosses(Structure):
    _c_name_ = "mbrl_a2c_losses"
    _full_ = True
    _fields_ = [("policy_loss", c_double), ("value_loss", c_double), ("entropy", c_double),
                ("loss", c_double)]


class A2cStats(Structure):
    _c_name_ = "mbrl_a2c_stats"
    _full_ = True
    _fields_ = [("losses", A2cLosses), ("grad_norm", c_double), ("episodes", c_int),
                ("ep_return_mean", c_double), ("ep_len_mean", c_double)]


class A2c(Structure):              # read through mbrl_a2c * (prefix up to episodes_total)
    _c_name_ = "mbrl_a2c"
    _full_ = False
    _fields_ = [("cfg", A2cConfig), ("spec", POINTER(EnvSpec)), ("backend", c_int), ("M", c_int),
                ("A", c_int), ("O", c_int), ("max_rows", c_int), ("models", c_void_p),
                ("actors", c_void_p), ("critics", c_void_p), ("envs", EnvBatch), ("rng", Philox),
                ("env_steps", c_int64), ("iterations", c_int64), ("evaluations", c_int64),
                ("contribution", POINTER(c_double)), ("training_enabled", c_int),
                ("obs", c_void_p), ("next_obs", c_void_p), ("act_f", c_void_p),
                ("actions", c_void_p), ("rewards", c_void_p), ("terminated", c_void_p),
                ("truncated", c_void_p), ("term_row", c_void_p), ("n_term", c_int),
                ("out", c_void_p), ("out_v", c_void_p), ("probs", c_void_p), ("agg", c_void_p),
                ("term_vals", c_void_p), ("adv", c_void_p), ("ret", c_void_p),
                ("dlogits", c_void_p), ("dvalues", c_void_p), ("ep_ret", c_void_p),
                ("ep_len", c_void_p), ("win_ret", c_double * A2C_EP_WINDOW),
                ("win_len", c_int * A2C_EP_WINDOW), ("win_n", c_int), ("win_pos", c_int),
                ("episodes_total", c_int64)]


class A2cFileInfo(Structure):
    _c_name_ = "mbrl_a2c_file_info"
    _full_ = True
    _fields_ = [("env_id", c_char * ENV_ID_LEN), ("algo", c_int), ("models", c_int),
                ("n_hidden", c_int), ("hidden", c_int * A2C_MAX_HIDDEN)]


class EvolveConfig(Structure):
    _c_name_ = "mbrl_evolve_config"
    _full_ = True
    _fields_ = [("frac", c_double), ("mutation_std", c_float), ("crossover", c_int)]


STRUCTS = [EnvSpec, Pcg64, Env, EnvBatch, DatasetStats, Dataset, DatasetSplit, MlpConfig, Mlp,
           OptimConfig, Optim, Dynamics, PlanModel, PlannerConfig, PlanResult, Philox, A2cConfig,
           A2cLosses, A2cStats, A2c, A2cFileInfo, EvolveConfig]

# ---------------------------------------------------------------- the function table
# (name, restype, argtypes). Pointers to data are c_void_p (numpy addresses as ints); a
# function whose status must be checked returns c_int (see check()).

P = c_void_p
S = c_int                      # mbrl_status
_H = "mbrl/"                   # header of each group, for the reader

FUNCTIONS = [
    # status.h, device.h
    ("mbrl_last_error", c_char_p, []),
    ("mbrl_clear_error", None, []),
    ("mbrl_cuda_compiled", c_int, []),
    ("mbrl_cuda_device_count", c_int, []),
    ("mbrl_backend_resolve", S, [c_int, P]),
    ("mbrl_cuda_device_name", c_char_p, []),
    ("mbrl_backend_malloc", S, [P, c_size_t, c_int]),
    ("mbrl_backend_free", None, [P, c_int]),
    ("mbrl_backend_upload", S, [P, P, c_size_t, c_int]),
    ("mbrl_backend_download", S, [P, P, c_size_t, c_int]),
    # env.h
    ("mbrl_env_find", POINTER(EnvSpec), [c_char_p]),
    ("mbrl_env_known_ids", c_char_p, []),
    ("mbrl_env_at", POINTER(EnvSpec), [c_int]),
    ("mbrl_env_init", S, [P, c_char_p, c_uint64, c_uint64]),
    ("mbrl_env_reset", None, [P, P]),
    ("mbrl_env_obs", None, [P, P]),
    ("mbrl_env_step", None, [P, P, P, P, P, P]),
    ("mbrl_env_batch_init", S, [P, c_char_p, c_int, c_uint64, c_uint64]),
    ("mbrl_env_batch_free", None, [P]),
    ("mbrl_env_batch_reset", None, [P, P]),
    ("mbrl_env_batch_step", None, [P, P, P, P, P, P, P]),
    # dataset.h, collect.h
    ("mbrl_dataset_init", S, [P, c_char_p, c_int, c_int]),
    ("mbrl_dataset_free", None, [P]),
    ("mbrl_dataset_reserve", S, [P, c_size_t]),
    ("mbrl_dataset_compute_stats", S, [P]),
    ("mbrl_dataset_count_episodes", c_size_t, [P]),
    ("mbrl_dataset_split_episodes", S, [P, c_double, c_uint64, P]),
    ("mbrl_dataset_split_free", None, [P]),
    ("mbrl_dataset_save", S, [P, c_char_p, c_char_p]),
    ("mbrl_dataset_load", S, [P, c_char_p]),
    ("mbrl_collect_random", S, [P, c_char_p, c_int, c_long, c_uint64, c_uint64, P, P]),
    # mlp.h
    ("mbrl_mlp_config_init", None, [P, c_int, P]),
    ("mbrl_mlp_config_check", S, [P]),
    ("mbrl_mlp_create", S, [P, P, c_int, c_int]),
    ("mbrl_mlp_free", None, [P]),
    ("mbrl_mlp_init_params", S, [P, c_uint64]),
    ("mbrl_mlp_forward", S, [P, P, c_int, P, c_int]),
    ("mbrl_mlp_backward", S, [P, P, P]),
    ("mbrl_mlp_clip_grad_norm", S, [P, c_float, P]),
    ("mbrl_mlp_state_size", c_size_t, [P]),
    ("mbrl_mlp_get_state", S, [P, P]),
    ("mbrl_mlp_set_state", S, [P, P]),
    ("mbrl_mlp_get_params", S, [P, P]),
    ("mbrl_mlp_set_params", S, [P, P]),
    ("mbrl_mlp_get_grads", S, [P, P]),
    ("mbrl_mlp_save", S, [P, c_char_p]),
    ("mbrl_mlp_load", S, [c_char_p, c_char_p, c_int, c_int, P]),
    ("mbrl_optim_adam_config", OptimConfig, [c_float, c_float, c_float]),
    ("mbrl_optim_rmsprop_config", OptimConfig, [c_float, c_float, c_float]),
    ("mbrl_optim_create", S, [P, P, P]),
    ("mbrl_optim_free", None, [P]),
    ("mbrl_optim_step", S, [P, P]),
    ("mbrl_optim_reset", S, [P]),
    # dynamics.h
    ("mbrl_dynamics_create", S, [P, c_char_p, c_int, c_int, P, c_int, P, c_int, c_int, c_int,
                                 c_uint64]),
    ("mbrl_dynamics_free", None, [P]),
    ("mbrl_dynamics_predict_next", S, [P, P, P, c_int, P]),
    ("mbrl_dynamics_set_config", S, [P, c_char_p]),
    ("mbrl_dynamics_save", S, [P, c_char_p]),
    ("mbrl_dynamics_load", S, [c_char_p, c_int, c_int, P]),
    ("mbrl_dynamics_trainer_create", S, [P, P, P, P, c_int, c_uint64]),
    ("mbrl_dynamics_trainer_run", S, [P, c_int, P]),
    ("mbrl_dynamics_trainer_free", None, [P]),
    ("mbrl_dynamics_eval_mse", S, [P, P, P]),
    ("mbrl_dynamics_open_loop_rmse", S, [P, P, c_int, P]),
    ("mbrl_dynamics_open_loop_starts", c_size_t, [P, c_int]),
    # planner.h
    ("mbrl_plan_model_oracle", S, [P, c_char_p]),
    ("mbrl_plan_model_from_dynamics", S, [P, P]),
    ("mbrl_plan_model_load", S, [P, c_char_p, c_char_p]),
    ("mbrl_plan_model_free", None, [P]),
    ("mbrl_planner_config_init", None, [P]),
    ("mbrl_planner_create", S, [P, P, P]),
    ("mbrl_planner_free", None, [P]),
    ("mbrl_planner_backend", c_int, [P]),
    ("mbrl_planner_plan", S, [P, P, P, c_int, P]),
    ("mbrl_planner_plan_prior", S, [P, P, P, P, c_int, P]),
    ("mbrl_planner_shift_best", None, [P, P, c_uint64, P, P]),
    ("mbrl_planner_last_costs", S, [P, P]),
    # a2c.h, ensemble.h
    ("mbrl_a2c_config_init", None, [P, c_int]),
    ("mbrl_a2c_config_check", S, [P]),
    ("mbrl_a2c_create", S, [P, P, c_char_p, c_int, c_int]),
    ("mbrl_a2c_free", None, [P]),
    ("mbrl_a2c_iterate", S, [P, P]),
    ("mbrl_a2c_evaluate", S, [P, c_int, c_int, P, P]),
    ("mbrl_a2c_policy", S, [P, P, c_int, P, P]),
    ("mbrl_a2c_state_size", c_size_t, [P]),
    ("mbrl_a2c_get_state", S, [P, c_int, P]),
    ("mbrl_a2c_set_state", S, [P, c_int, P]),
    ("mbrl_a2c_reset_optim", S, [P, c_int]),
    ("mbrl_a2c_save", S, [P, c_char_p]),
    ("mbrl_a2c_file_info_read", S, [c_char_p, P]),
    ("mbrl_a2c_load", S, [P, c_char_p]),
    ("mbrl_evolve_config_init", None, [P]),
    ("mbrl_ensemble_evolve", S, [P, P, P, P, P]),
    ("mbrl_philox_make", Philox, [c_uint64, c_uint64, c_uint64]),
    # log.h
    ("mbrl_log_open", S, [P, c_char_p, c_char_p]),
    ("mbrl_log_scalar", S, [P, c_char_p, c_int64, c_double]),
    ("mbrl_log_flush", S, [P]),
    ("mbrl_log_close", S, [P]),
    ("mbrl_log_dir", c_char_p, [P]),
]

# ---------------------------------------------------------------- errors


class Error(Exception):
    """Base of the errors raised from a failing library call; .status is the mbrl_status."""
    status = None


class InvalidArgumentError(Error, ValueError):
    """MBRL_ERR_INVALID_ARG: a value out of range or malformed."""


class FileError(Error, OSError):
    """MBRL_ERR_IO / MBRL_ERR_FORMAT: a file could not be read or written, or is damaged."""


class OutOfMemoryError(Error, MemoryError):
    """MBRL_ERR_NOMEM."""


class CudaError(Error, RuntimeError):
    """MBRL_ERR_CUDA: a CUDA, cuBLAS or cuRAND call failed."""


class UnsupportedError(Error, RuntimeError):
    """MBRL_ERR_UNSUPPORTED: asked for something this build or machine lacks (e.g. CUDA)."""


class NumericError(Error, FloatingPointError):
    """MBRL_ERR_NUMERIC: NaN or Inf where a finite number is needed."""


_ERRORS = {ERR_INVALID_ARG: InvalidArgumentError, ERR_IO: FileError, ERR_FORMAT: FileError,
           ERR_NOMEM: OutOfMemoryError, ERR_CUDA: CudaError, ERR_UNSUPPORTED: UnsupportedError,
           ERR_NUMERIC: NumericError}


def error(status, message=None, prefix=None):
    """The exception for a status, carrying the library's last error message."""
    if message is None:
        message = last_error()
    if prefix:
        message = f"{prefix}: {message}"
    cls = _ERRORS.get(status, Error)
    e = cls(message or f"mbrl call failed with status {status}")
    e.status = status
    return e


def check(status, prefix=None):
    """Raise the matching exception unless status is MBRL_OK."""
    if status != OK:
        raise error(status, prefix=prefix)


def last_error():
    msg = lib().mbrl_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


# ---------------------------------------------------------------- loading

LIB_NAME = {"darwin": "libmbrl.dylib", "win32": "mbrl.dll"}.get(sys.platform, "libmbrl.so")
FILE_LOCK = threading.RLock()
_lib = None
_load_lock = threading.Lock()


def library_path():
    """Where libmbrl is taken from (see the module docstring); raises ImportError if nowhere."""
    env = os.environ.get("MBRL_LIBRARY")
    if env:
        if not os.path.isfile(env):
            raise ImportError(f"MBRL_LIBRARY={env!r} is not a file; point it at libmbrl.so "
                              "(e.g. build/lib/libmbrl.so) or unset it")
        return env
    from . import __path__ as pkg_path  # every folder of the package (editable installs: 2)
    tried = []
    for d in pkg_path:
        cand = os.path.join(d, LIB_NAME)
        if os.path.isfile(cand):
            return cand
        tried.append(cand)
    raise ImportError(f"{LIB_NAME} not found (looked at {', '.join(tried)}): install the "
                      "package with `pip install .` from the mbrl checkout, or build it "
                      "(./scripts/build build) and set MBRL_LIBRARY=build/lib/" + LIB_NAME)


def lib():
    """The loaded library with every prototype of FUNCTIONS set (loaded once)."""
    global _lib
    if _lib is not None:
        return _lib
    with _load_lock:
        if _lib is None:
            path = library_path()
            try:
                handle = ctypes.CDLL(path)
            except OSError as e:
                raise ImportError(f"cannot load {path}: {e}") from e
            missing = []
            for name, res, args in FUNCTIONS:
                try:
                    f = getattr(handle, name)
                except AttributeError:
                    missing.append(name)
                    continue
                f.restype = res
                f.argtypes = args
            if missing:
                raise ImportError(f"{path} lacks {', '.join(missing)}: it is older than this "
                                  "Python package; rebuild it")
            handle.path = path
            _lib = handle
    return _lib


class Handle:
    """Base of the objects that own library memory: close() releases it (idempotent, and the
    object's methods raise afterwards), `with obj:` closes at the end, garbage collection closes
    what is left."""

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def raw_function(name, restype):
    """A fresh function object for `name` without argtypes, for hot paths that pass
    prebuilt ctypes arguments (c_void_p, byref) and skip the per-call conversions."""
    f = lib()[name]
    f.restype = restype
    return f


# ---------------------------------------------------------------- small helpers


def backend_from_device(device):
    """'auto' | 'cpu' | 'cuda' -> the resolved backend code (CPU or CUDA)."""
    if not isinstance(device, str) or device.lower() not in BACKENDS:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    out = c_int()
    check(lib().mbrl_backend_resolve(BACKENDS[device.lower()], ctypes.byref(out)))
    return out.value


def backend_name(code):
    return {BACKEND_CPU: "cpu", BACKEND_CUDA: "cuda"}.get(code, "auto")


def encode(s, what):
    """A str argument as bytes for a char * parameter (refusing NUL and non-str)."""
    if isinstance(s, os.PathLike):
        s = os.fspath(s)
    if isinstance(s, bytes):
        s = s.decode("utf-8")
    if not isinstance(s, str):
        raise TypeError(f"{what} must be a string, got {type(s).__name__}")
    if "\0" in s:
        raise ValueError(f"{what} contains a NUL character")
    return s.encode("utf-8")


def cstr(b):
    """A char[] field or char * result as str."""
    if isinstance(b, (bytes, bytearray)):
        return b.split(b"\0", 1)[0].decode("utf-8", "replace")
    return "" if b is None else str(b)


INT_MAX = 2**31 - 1
