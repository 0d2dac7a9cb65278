"""The machine's side of a comparison: its float32 peak (the MFU denominator) and peak memory of a phase."""
import os
import platform
import time


def _best_gflops(fn, flop, seconds):
    fn()
    best, deadline = float("inf"), time.perf_counter() + seconds
    while best == float("inf") or time.perf_counter() < deadline:  # one timed call at least, however short `seconds`
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return flop / best / 1e9


def matmul_gflops(sizes=(1024, 2048), seconds=1.0):
    """Best float32 GFLOP/s, by kernel, on all threads: TensorFlow's matmul (4 chained in one graph call) and
    numpy's BLAS at several sizes, and TensorFlow's 3x3 convolution (what ResNet's layers run). The largest is the
    machine's peak, the MFU denominator, measured in the same run as the models it divides, so float32 work there
    cannot beat it (TFLite's XNNPACK and oneDNN's convolutions can beat a single matmul size)."""
    import tensorflow as tf

    found = {}
    for n in sizes:
        a = tf.random.uniform((n, n), dtype=tf.float32)
        b = tf.random.uniform((n, n), dtype=tf.float32) / n

        @tf.function
        def chain(x, b=b):
            for _ in range(4):
                x = tf.matmul(x, b)
            return x

        x, y = a.numpy(), b.numpy()
        found[f"tensorflow matmul {n}"] = _best_gflops(lambda: chain(a).numpy(), 4 * 2 * n**3, seconds)
        found[f"numpy matmul {n}"] = _best_gflops(lambda: x @ y, 2 * n**3, seconds)
    images = tf.random.uniform((8, 56, 56, 256))
    kernel = tf.random.uniform((3, 3, 256, 256)) / 2304
    conv = tf.function(lambda: tf.nn.conv2d(images, kernel, 1, "SAME"))
    found["tensorflow conv3x3 56x56x256"] = _best_gflops(lambda: conv().numpy(), 2 * 8 * 56 * 56 * 9 * 256 * 256,
                                                          seconds)
    return found


def peak(*measurements):
    """(GFLOP/s, which kernel and when) of the best of one or more matmul_gflops() results (at a run's start
    and end: the machine may be busier at one of them)."""
    best = max(((v, f"{kernel} ({when})") for when, found in measurements for kernel, v in found.items()))
    return best


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
