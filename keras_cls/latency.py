"""Inference timing that is fair on a shared, noisy machine: candidates run interleaved, medians reported."""
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    batch: int
    seconds: list

    @property
    def median_ms(self):
        return 1000 * statistics.median(self.seconds)

    @property
    def p90_ms(self):
        if len(self.seconds) < 2:  # quantiles need two points; one call is its own p90
            return 1000 * self.seconds[0]
        return 1000 * statistics.quantiles(self.seconds, n=10, method="inclusive")[-1]

    @property
    def quartiles_ms(self):
        """(first quartile, median, third quartile) in ms; one call is all three."""
        if len(self.seconds) < 2:
            return (1000 * self.seconds[0],) * 3
        return tuple(1000 * q for q in statistics.quantiles(self.seconds, n=4, method="inclusive"))

    @property
    def images_per_s(self):
        return self.batch / statistics.median(self.seconds)


def compiled_call(model):
    """The model as one graph function (`model(x, training=False)`), the way both candidates are timed."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def _wait(result):
    """Block until a result is computed: eager tensors (alone or in a dict) are read back; arrays are done."""
    for value in (result.values() if isinstance(result, dict) else [result]):
        if hasattr(value, "numpy"):
            value.numpy()


def interleaved(candidates, x, repeats=10, warmup=3):
    """Time each callable on `x` in turns, the order reversed every round (A B B A A B ...), so that drifts in
    machine load and any first-in-round effect hit all candidates alike."""
    for fn in candidates.values():
        for _ in range(warmup):
            _wait(fn(x))
    times = {name: [] for name in candidates}
    order = list(candidates.items())
    for round_ in range(repeats):
        for name, fn in (order if round_ % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            _wait(fn(x))
            times[name].append(time.perf_counter() - start)
    return {name: Timing(int(x.shape[0]), t) for name, t in times.items()}
