"""mbrl.MLP: the library's Linear / BatchNorm1d / activation stacks (mbrl/mlp.h) with their
optimizer, trained from a gradient computed OUTSIDE (seed 002's pattern):

    net = mbrl.MLP([2, 64, 64, 2], activation="tanh", optimizer="adam", lr=1e-3, seed=0)
    y = net.forward(x)            # (B, 2) numpy, train mode (BatchNorm on batch statistics)
    dy = outside_code(y)          # dL/dy from numpy, PyTorch, a simulator...
    net.backward(dy)              # gradients of the parameters (overwritten, not accumulated)
    net.step()                    # one optimizer update

PyTorch semantics throughout (nn.Linear's W (out, in), BatchNorm1d, torch.optim.Adam/RMSprop,
orthogonal init); parameters live on the CPU or the GPU (device="cuda"), numpy arrays in and
out. Weight vectors: params (the state_dict order), state (params + BatchNorm buffers: seed
000's model_weights_as_vector)."""

import ctypes
import os
import threading

import numpy as np

from . import _lib
from ._arrays import F32, addr, as_f32, positive_int, u64


class MLP(_lib.Handle):
    """A multi-layer perceptron; see the module docstring.

    sizes: [in, hidden..., out] (2..9 entries); activation "relu" | "tanh" | "none" after every
    hidden layer (after BatchNorm1d when batchnorm=True); seed: the orthogonal init;
    init_gain: one gain per Linear layer (default 1); optimizer "adam" (lr, betas, eps) or
    "rmsprop" (lr, alpha, eps) or None; max_batch: the workspace's rows (grows on demand)."""

    def __init__(self, sizes, activation="relu", batchnorm=False, seed=0, device="auto", *,
                 optimizer="adam", lr=1e-3, betas=(0.9, 0.999), alpha=0.99, eps=1e-8,
                 init_gain=None, bn_momentum=0.1, bn_eps=1e-5, max_batch=1024):
        L = _lib.lib()
        sizes = [positive_int(s, "layer width", 1, 1 << 20) for s in sizes]
        if not 2 <= len(sizes) <= _lib.MLP_MAX_LAYERS + 1:
            raise ValueError(f"sizes must list 2..{_lib.MLP_MAX_LAYERS + 1} widths "
                             f"([in, hidden..., out]), got {len(sizes)}")
        if activation not in _lib.ACTS:
            raise ValueError(f"activation must be one of {sorted(_lib.ACTS)}, got {activation!r}")
        n_layers = len(sizes) - 1
        cfg = _lib.MlpConfig()
        L.mbrl_mlp_config_init(ctypes.byref(cfg), n_layers, (ctypes.c_int * len(sizes))(*sizes))
        cfg.batchnorm = int(bool(batchnorm))
        cfg.activation = _lib.ACTS[activation]
        cfg.bn_momentum, cfg.bn_eps = float(bn_momentum), float(bn_eps)
        if init_gain is not None:
            g = list(np.broadcast_to(np.asarray(init_gain, np.float64), (n_layers,)))
            cfg.init_gain[:n_layers] = [float(x) for x in g]
        cfg.seed = u64(seed, "seed")
        _lib.check(L.mbrl_mlp_config_check(ctypes.byref(cfg)))
        self._cfg = cfg
        self.sizes = sizes
        self.activation = activation
        self.batchnorm = bool(batchnorm)
        self._backend = _lib.backend_from_device(device)
        self._lock = threading.RLock()
        self._m = ctypes.c_void_p()
        self._opt = ctypes.c_void_p()
        self._bufs = {}
        self._last_B = 0
        self._make(positive_int(max_batch, "max_batch", 1, 1 << 24))
        self.optimizer = optimizer
        if optimizer is not None:
            if optimizer == "adam":
                b1, b2 = (float(b) for b in betas)
                oc = L.mbrl_optim_adam_config(float(lr), b1, b2)
            elif optimizer == "rmsprop":
                oc = L.mbrl_optim_rmsprop_config(float(lr), float(alpha), float(eps))
            else:
                raise ValueError(f"optimizer must be 'adam', 'rmsprop' or None, got {optimizer!r}")
            oc.eps = float(eps)
            if not (oc.lr > 0 and np.isfinite(oc.lr)):
                raise ValueError(f"lr must be > 0, got {lr}")
            _lib.check(L.mbrl_optim_create(ctypes.byref(self._opt), ctypes.byref(oc), self._m))

    # ---- the C objects
    def _make(self, max_batch, state=None):
        L = _lib.lib()
        m = ctypes.c_void_p()
        _lib.check(L.mbrl_mlp_create(ctypes.byref(m), ctypes.byref(self._cfg), self._backend, max_batch))
        if state is not None:
            st = L.mbrl_mlp_set_state(m, addr(state))
            if st != _lib.OK:
                L.mbrl_mlp_free(m)
                _lib.check(st)
        if self._m:
            L.mbrl_mlp_free(self._m)
        self._m = m
        self.max_batch = max_batch
        self._free_bufs()
        if self._backend == _lib.BACKEND_CUDA:   # device staging for numpy in/out
            for name, w in (("x", self.sizes[0]), ("y", self.sizes[-1]), ("dy", self.sizes[-1]),
                            ("dx", self.sizes[0])):
                p = ctypes.c_void_p()
                _lib.check(L.mbrl_backend_malloc(ctypes.byref(p), max_batch * w * 4, self._backend))
                self._bufs[name] = p.value
        self._last_B = 0

    def _free_bufs(self):
        L = _lib.lib()
        for p in self._bufs.values():
            L.mbrl_backend_free(p, self._backend)
        self._bufs = {}

    def _ensure_batch(self, B):
        if B > self.max_batch:
            self._make(max(B, 2 * self.max_batch), state=self.get_state())

    @property
    def _mlp(self):
        if not self._m:
            raise RuntimeError("the MLP is closed")
        return ctypes.cast(self._m, ctypes.POINTER(_lib.Mlp)).contents

    def _check(self):
        if not self._m:
            raise RuntimeError("the MLP is closed")

    @property
    def device(self):
        return _lib.backend_name(self._backend)

    @property
    def n_params(self):
        return int(self._mlp.n_params)

    # ---- forward / backward / step
    def forward(self, x, train=True):
        """y (B, out) = mlp(x (B, in)) as a new numpy array. train=True: BatchNorm uses the batch
        statistics (B >= 2) and updates its running ones; train=False: eval mode. backward()
        differentiates the last forward."""
        x = np.asarray(x)
        one = x.ndim == 1
        x = as_f32(x.reshape(1, -1) if one else x, "x", (None, self.sizes[0]))
        B = x.shape[0]
        if B < 1:
            raise ValueError("x has no rows")
        if train and self.batchnorm and B < 2:
            raise ValueError("a train-mode forward through BatchNorm needs at least 2 rows "
                             "(use train=False for one)")
        y = np.empty((B, self.sizes[-1]), F32)
        L = _lib.lib()
        with self._lock:
            self._check()
            self._ensure_batch(B)
            if self._bufs:
                _lib.check(L.mbrl_backend_upload(self._bufs["x"], addr(x), x.nbytes, self._backend))
                _lib.check(L.mbrl_mlp_forward(self._m, self._bufs["x"], B, self._bufs["y"], int(bool(train))))
                _lib.check(L.mbrl_backend_download(addr(y), self._bufs["y"], y.nbytes, self._backend))
            else:
                _lib.check(L.mbrl_mlp_forward(self._m, addr(x), B, addr(y), int(bool(train))))
            self._last_B = B
        return y[0] if one else y

    __call__ = forward

    def backward(self, grad_output):
        """From dL/dy (B, out) of the last forward (computed by the caller): set the parameter
        gradients (overwriting, not accumulating) and return dL/dx (B, in)."""
        with self._lock:
            self._check()
            B = self._last_B
            if B == 0:
                raise RuntimeError("backward() needs a forward() first")
            g = np.asarray(grad_output)
            if g.ndim == 1 and B == 1:
                g = g.reshape(1, -1)
            dy = as_f32(g, "grad_output", (B, self.sizes[-1]))
            if not np.isfinite(dy).all():
                raise ValueError("grad_output holds NaN or Inf")
            dx = np.empty((B, self.sizes[0]), F32)
            L = _lib.lib()
            if self._bufs:
                _lib.check(L.mbrl_backend_upload(self._bufs["dy"], addr(dy), dy.nbytes, self._backend))
                _lib.check(L.mbrl_mlp_backward(self._m, self._bufs["dy"], self._bufs["dx"]))
                _lib.check(L.mbrl_backend_download(addr(dx), self._bufs["dx"], dx.nbytes, self._backend))
            else:
                _lib.check(L.mbrl_mlp_backward(self._m, addr(dy), addr(dx)))
        return dx

    def step(self):
        """One optimizer update of the parameters from the gradients of the last backward."""
        if not self._opt:
            raise RuntimeError("this MLP has no optimizer (optimizer=None)")
        with self._lock:
            self._check()
            _lib.check(_lib.lib().mbrl_optim_step(self._opt, self._m))

    def clip_grad_norm(self, max_norm):
        """torch.nn.utils.clip_grad_norm_ on the gradients; returns the norm before clipping."""
        n = ctypes.c_float()
        with self._lock:
            self._check()
            _lib.check(_lib.lib().mbrl_mlp_clip_grad_norm(self._m, float(max_norm), ctypes.byref(n)))
        return n.value

    @property
    def lr(self):
        """The optimizer's learning rate; set it between steps for a schedule (as assigning
        param_group["lr"] in PyTorch)."""
        if not self._opt:
            return None
        return ctypes.cast(self._opt, ctypes.POINTER(_lib.Optim)).contents.cfg.lr

    @lr.setter
    def lr(self, value):
        value = float(value)
        if not (value > 0 and np.isfinite(value)):
            raise ValueError(f"lr must be > 0, got {value}")
        if not self._opt:
            raise RuntimeError("this MLP has no optimizer (optimizer=None)")
        with self._lock:
            ctypes.cast(self._opt, ctypes.POINTER(_lib.Optim)).contents.cfg.lr = value

    def reset_optimizer(self):
        """Zero the optimizer's moments and step count."""
        if self._opt:
            with self._lock:
                _lib.check(_lib.lib().mbrl_optim_reset(self._opt))

    # ---- weights
    def _get(self, fn, n):
        out = np.empty(n, F32)
        with self._lock:
            self._check()
            _lib.check(getattr(_lib.lib(), fn)(self._m, addr(out)))
        return out

    def _set(self, fn, v, n, what):
        v = as_f32(v, what, (n,))
        if not np.isfinite(v).all():
            raise ValueError(f"{what} holds NaN or Inf")
        with self._lock:
            self._check()
            _lib.check(getattr(_lib.lib(), fn)(self._m, addr(v)))

    def get_params(self):
        """All parameters as one vector (per Linear layer W (out, in) row-major, b, then
        BatchNorm's gamma and beta)."""
        return self._get("mbrl_mlp_get_params", self.n_params)

    def set_params(self, params):
        self._set("mbrl_mlp_set_params", params, self.n_params, "params")

    def get_grads(self):
        """The gradients of the last backward, in the layout of get_params()."""
        return self._get("mbrl_mlp_get_grads", self.n_params)

    def get_state(self):
        """The state_dict as one vector (params + BatchNorm running stats and counters)."""
        self._check()
        return self._get("mbrl_mlp_get_state", int(_lib.lib().mbrl_mlp_state_size(self._m)))

    def set_state(self, state):
        self._check()
        self._set("mbrl_mlp_set_state", state, int(_lib.lib().mbrl_mlp_state_size(self._m)), "state")

    def layer(self, i):
        """(W (out, in), b (out)) of Linear layer i as numpy copies."""
        if not 0 <= i < len(self.sizes) - 1:
            raise IndexError(f"layer {i} of {len(self.sizes) - 1}")
        m = self._mlp
        p = self.get_params()
        o, n = self.sizes[i + 1], self.sizes[i]
        w0, b0 = m.w_off[i], m.b_off[i]
        return p[w0:w0 + o * n].reshape(o, n).copy(), p[b0:b0 + o].copy()

    # ---- files
    def save(self, path):
        """Write the network to an HDF5 file (PyTorch state_dict names under /network),
        atomically."""
        p = _lib.encode(path, "path")
        with _lib.FILE_LOCK, self._lock:
            self._check()
            _lib.check(_lib.lib().mbrl_mlp_save(self._m, p))

    @classmethod
    def load(cls, path, device="auto", *, prefix="network", optimizer="adam", **optim_kwargs):
        """An MLP from a file written by save() (or any file with PyTorch state_dict names
        under `prefix`); the optimizer starts fresh."""
        p = _lib.encode(path, "path")
        if not os.path.exists(path):
            raise FileNotFoundError(2, f"network file '{os.fspath(path)}' does not exist", os.fspath(path))
        backend = _lib.backend_from_device(device)
        m = ctypes.c_void_p()
        with _lib.FILE_LOCK:
            _lib.check(_lib.lib().mbrl_mlp_load(p, _lib.encode(prefix, "prefix"), backend, 1024,
                                                ctypes.byref(m)))
        try:
            cfg = ctypes.cast(m, ctypes.POINTER(_lib.Mlp)).contents.cfg
            sizes = list(cfg.sizes[:cfg.n_layers + 1])
            act = {v: k for k, v in _lib.ACTS.items()}[cfg.activation]
            net = cls(sizes, activation=act, batchnorm=bool(cfg.batchnorm), device=device,
                      optimizer=optimizer, **optim_kwargs)
            state = np.empty(int(_lib.lib().mbrl_mlp_state_size(m)), F32)
            _lib.check(_lib.lib().mbrl_mlp_get_state(m, addr(state)))
            net.set_state(state)
        finally:
            _lib.lib().mbrl_mlp_free(m)
        return net

    def close(self):
        if getattr(self, "_lock", None) is None:
            return
        with self._lock:
            L = _lib.lib()
            self._free_bufs()
            if self._opt:
                L.mbrl_optim_free(self._opt)
                self._opt = ctypes.c_void_p()
            if self._m:
                L.mbrl_mlp_free(self._m)
                self._m = ctypes.c_void_p()

    def __repr__(self):
        return (f"MLP({self.sizes}, activation={self.activation!r}, batchnorm={self.batchnorm}, "
                f"device={self.device!r})")

