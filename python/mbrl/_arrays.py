"""numpy argument checks and conversions shared by the modules: every array handed to C goes
through here, so a wrong dtype or shape is converted or refused with a message, never a crash."""

import numpy as np

F32 = np.dtype(np.float32)


def addr(a):
    """Address of a numpy array's first element (as an int for a c_void_p argument)."""
    return a.__array_interface__["data"][0]


def as_f32(x, what, shape):
    """x as a C-contiguous float32 array of `shape` (a tuple whose None entries match any size).
    Numbers of another real dtype are converted; anything else raises TypeError/ValueError."""
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    if a.dtype != F32:
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{what} must hold real numbers, got dtype {a.dtype}")
        a = a.astype(F32)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    if len(a.shape) != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{what} must have shape {want}, got {a.shape}")
    return a


def as_batch(x, what, width):
    """x as float32 (N, width); a 1-D (width,) input becomes (1, width). Returns (array, was_1d)."""
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    if a.ndim == 1:
        return as_f32(a, what, (width,)).reshape(1, width), True
    return as_f32(a, what, (None, width)), False


def as_flags(x, what, n):
    """x as a uint8 0/1 array of length n (bools, or integers/floats that are 0 or 1)."""
    a = np.asarray(x)
    if a.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), got {a.shape}")
    if a.dtype == np.bool_:
        return np.ascontiguousarray(a).view(np.uint8)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{what} must be bool (or 0/1 numbers), got dtype {a.dtype}")
    bad = (a != 0) & (a != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what} must be 0 or 1, got {a[i]!r} at row {i}")
    return np.ascontiguousarray(a.astype(np.uint8))


def check_finite(a, what):
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{what} holds NaN or Inf (first at index {tuple(int(i) for i in bad)})")


def positive_int(x, what, lo=1, hi=2**31 - 1):
    import operator
    try:
        v = operator.index(x)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(x).__name__}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{what} must be in [{lo}, {hi}], got {v}")
    return v


def u64(x, what):
    """An integer seed as an unsigned 64-bit value (ValueError outside [0, 2^64))."""
    import operator
    try:
        v = operator.index(x)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(x).__name__}") from None
    if not 0 <= v < 1 << 64:
        raise ValueError(f"{what} must be in [0, 2^64), got {v}")
    return v


def random_seed():
    """A fresh 64-bit seed from the OS (what Gymnasium does for reset(seed=None))."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
