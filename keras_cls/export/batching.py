"""TF Serving's request batching for an exported model, from the model's measured throughput-vs-batch curve.

TF Serving started with `--enable_batching --batching_parameters_file=<file>` gathers concurrent requests into one
batch before running a signature. The file's values come from the curve measured on this machine:
- max_batch_size: the smallest batch whose throughput is within 10% of the best measured (a larger batch adds
  latency for little throughput);
- batch_timeout_micros: the batch-1 latency, so that a lone request waits at most about one inference for company;
- num_batch_threads: the CPU cores (TF Serving's advice for CPU serving: batches run one per core-thread);
- max_enqueued_batches: about one second of queued work at max_batch_size per thread; past it, requests are refused
  (UNAVAILABLE) rather than answered seconds late.
Requests are batched per signature and must share the image size (serving_default's encoded images always do).
"""
import os

BATCHES = (1, 2, 4, 8, 16, 32)
NEAR_BEST = 0.9


def throughput_curve(path, signature="serve_images_uint8", batches=BATCHES, repeats=5):
    """[(batch, p50 seconds per call)] of an exported version's signature, run as TF Serving runs it
    (keras_cls.export.session, TF Serving's default threads), on random images at its contract's size."""
    import numpy as np

    from keras_cls.export.saved_model import exported_contract
    from keras_cls.export.session import ServingSession
    from keras_cls.latency import interleaved

    size = exported_contract(path).image_size
    session = ServingSession(path, signature)
    curve = []
    for batch in batches:
        images = np.random.default_rng(batch).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
        timing = interleaved({signature: session}, images, repeats, warmup=1)
        curve.append((batch, timing[signature].median_ms / 1000))
    session.close()
    return curve


def parameters(curve, cores):
    """TF Serving's batching parameters (a dict) for a [(batch, seconds per call)] curve on `cores` CPU cores."""
    best = max(batch / seconds for batch, seconds in curve)
    batch, seconds = min((b, s) for b, s in curve if b / s >= NEAR_BEST * best)
    single = min(curve)[1]  # the smallest batch's latency
    threads = max(1, int(cores))
    return {"max_batch_size": batch, "batch_timeout_micros": max(1, round(single * 1e6)),
            "max_enqueued_batches": max(1, round(threads / seconds)), "num_batch_threads": threads}


def text(values, curve):
    """The parameters file (protobuf text format) with the curve it came from as comments."""
    lines = ["# TF Serving: --enable_batching --batching_parameters_file=<this file>",
             "# measured curve, batch: images/s = " + ", ".join(f"{b}: {b / s:.1f}" for b, s in curve)]
    return "\n".join(lines + [f"{key} {{ value: {value} }}" for key, value in values.items()]) + "\n"


def write_batching_parameters(path, root, cores=None, batches=BATCHES, repeats=5):
    """Measure the exported version at `path` and write root/batching_parameters.txt; returns the file's path."""
    from keras_cls import files

    curve = throughput_curve(path, batches=batches, repeats=repeats)
    values = parameters(curve, cores or os.cpu_count() or 1)
    return files.write_text(os.path.join(root, "batching_parameters.txt"), text(values, curve))
