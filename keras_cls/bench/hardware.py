"""The machine's side of a comparison: its float32 matmul peak (the MFU denominator) and peak memory of a phase."""
import os
import platform
import time


def _best_gflops(fn, flop, seconds):
    fn()
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return flop / best / 1e9


def matmul_gflops(n=2048, seconds=2.0):
    """Best float32 GFLOP/s of n x n matmuls on all threads, by TensorFlow's kernels (4 chained in one graph call)
    and by numpy's BLAS; the larger is the machine's peak, the MFU denominator, measured in the same run as the
    models it divides (TFLite's XNNPACK can beat TensorFlow's own matmul, so TensorFlow alone would understate it)."""
    import tensorflow as tf

    a = tf.random.uniform((n, n), dtype=tf.float32)
    b = tf.random.uniform((n, n), dtype=tf.float32) / n

    @tf.function
    def chain(x):
        for _ in range(4):
            x = tf.matmul(x, b)
        return x

    x, y = a.numpy(), b.numpy()
    return {"tensorflow": _best_gflops(lambda: chain(a).numpy(), 4 * 2 * n**3, seconds),
            "numpy": _best_gflops(lambda: x @ y, 2 * n**3, seconds)}


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


class PeakMemory:
    """`with PeakMemory() as peak: ...` then `peak.mb`: the most resident memory the process gained during the
    block (peak RSS minus RSS at entry), in MiB. Linux resets the peak on writing 5 to /proc/self/clear_refs;
    where that is not allowed, `mb` is None rather than a stale figure."""

    def __init__(self):
        self.mb = None

    def __enter__(self):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._start = _status_kb("VmRSS")
        except OSError:
            self._start = None
        return self

    def __exit__(self, *exc):
        if self._start is not None:
            self.mb = max(0, _status_kb("VmHWM") - self._start) / 1024
        return False


def machine():
    """What the figures were measured on."""
    import keras
    import tensorflow as tf

    return {"cpu": _cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
            "gpus": len(tf.config.list_physical_devices("GPU"))}


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    except OSError:
        return platform.processor() or "unknown"
