"""Timing helpers shared by the benchmarks: interleaved order, waiting on any result kind, percentiles."""
import numpy as np
import tensorflow as tf

from keras_cls.latency import Timing, interleaved


def test_interleaved_alternates_and_accepts_any_result_kind():
    calls = []

    def candidate(name, result):
        def fn(x):
            calls.append(name)
            return result(x)
        return fn

    candidates = {"tensor": candidate("tensor", tf.identity), "dict": candidate("dict", lambda x: {"y": x * 2}),
                  "array": candidate("array", lambda x: np.asarray(x) + 1)}
    timings = interleaved(candidates, tf.ones([4, 2]), repeats=3, warmup=1)
    timed = calls[3:]
    assert timed == ["tensor", "dict", "array", "array", "dict", "tensor", "tensor", "dict", "array"]
    assert all(t.batch == 4 and len(t.seconds) == 3 for t in timings.values())


def test_timing_percentiles():
    t = Timing(8, [0.1] * 9 + [1.0])
    assert abs(t.median_ms - 100) < 1e-9 and t.p90_ms > t.median_ms and abs(t.images_per_s - 80) < 1e-9
    q1, median, q3 = Timing(1, [0.1, 0.2, 0.3, 0.4, 0.5]).quartiles_ms  # the sweep's error bars and spread
    assert (round(q1, 9), round(median, 9), round(q3, 9)) == (200, 300, 400)
    assert Timing(1, [0.25]).quartiles_ms == (250, 250, 250)
