"""Training logs in the library's format (mbrl/log.h): <logdir>/metrics.csv (step,tag,value)
and a TensorBoard event file, the same files mbrl_train and mbrl_a2c write with --logdir, so
`python -m mbrl.plot --train LOGDIR` and TensorBoard read both."""

import ctypes

from . import _lib


class Log(_lib.Handle):
    """An open log directory; use as a context manager or call close()."""

    def __init__(self, logdir, run_name=None):
        self._p = ctypes.c_void_p()
        with _lib.FILE_LOCK:
            _lib.check(_lib.lib().mbrl_log_open(
                ctypes.byref(self._p), _lib.encode(logdir, "logdir"),
                None if run_name is None else _lib.encode(run_name, "run_name")))
        self.dir = _lib.cstr(_lib.lib().mbrl_log_dir(self._p))

    def scalar(self, tag, step, value):
        """Append one scalar (buffered; flush() pushes it to the files)."""
        if not self._p:
            raise ValueError("the log is closed")
        _lib.check(_lib.lib().mbrl_log_scalar(self._p, _lib.encode(tag, "tag"), int(step),
                                              float(value)))

    def flush(self):
        if self._p:
            _lib.check(_lib.lib().mbrl_log_flush(self._p))

    def close(self):
        """Flush and close (a failed write raises OSError). Safe to call twice."""
        if getattr(self, "_p", None):
            p, self._p = self._p, ctypes.c_void_p()
            _lib.check(_lib.lib().mbrl_log_close(p))
