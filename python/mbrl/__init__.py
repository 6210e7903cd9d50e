"""mbrl: model-based reinforcement learning on a C and CUDA library, from Python.

numpy in, numpy out: batched C environments over shared numpy arrays (make_env), random-policy
datasets (collect, Dataset), the learned dynamics model (DynamicsModel), sampling-based MPC
(Planner), networks trained from an outside gradient (MLP) and actor-critic agents (A2C).
Gymnasium wrappers are registered as mbrl/<id> when gymnasium is installed
(gymnasium.make("mbrl/Pendulum-v1"), gymnasium.make_vec(..., num_envs=N)).

The C library (libmbrl.so) sits inside the package after `pip install .`; MBRL_LIBRARY=path
overrides it (see mbrl._lib). Errors from the library are raised as exceptions carrying its
message: ValueError for bad arguments, OSError for files (mbrl.Error is their common base).
"""

__version__ = "0.1.0"

from ._lib import (CudaError, Error, FileError, InvalidArgumentError, NumericError,  # noqa: F401
                   OutOfMemoryError, UnsupportedError)
from .env import EnvSpec, VecEnv, env_ids, env_spec, make_env  # noqa: F401
from .dataset import Dataset, DatasetStats, collect  # noqa: F401
from .dynamics import DynamicsModel  # noqa: F401
from .planner import Planner, planner_seed  # noqa: F401
from .nn import MLP  # noqa: F401
from .a2c import A2C  # noqa: F401
from .log import Log  # noqa: F401


def cuda_available():
    """True when the library has the CUDA backend compiled in and a GPU is present."""
    from . import _lib
    L = _lib.lib()
    return bool(L.mbrl_cuda_compiled()) and L.mbrl_cuda_device_count() > 0


def library_path():
    """The path of the libmbrl shared library in use (loads it)."""
    from . import _lib
    return _lib.lib().path


def _register_gymnasium():
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        return
    try:
        from .gym import register_envs
        register_envs()
    except ImportError:  # the library is not there yet: mbrl/<id> stays unregistered
        pass


_register_gymnasium()
