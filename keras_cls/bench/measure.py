"""Everything measured about one model for the comparison: counts, file sizes per format, latency per runtime and
batch, training throughput, peak memory, MFU, and (given data and a run) top-1 and time to a target accuracy.

MFU (model FLOP utilisation) = GMACs x 2 x images/s / the float32 matmul peak measured in the same run; training
counts 3 forward passes' worth (forward + backward), the usual convention.
"""
import os
import time
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from keras_cls import files
from keras_cls.bench.hardware import PeakMemory

RUNTIMES = ("tf", "saved_model", "tflite_float32", "tflite_int8")
FORMATS = ("keras", "tflite_float32", "tflite_float16", "tflite_int8")
REFERENCE_CALIBRATION = 8
RUNTIME_NAMES = {"tf": "TF graph", "saved_model": "SavedModel signature", "tflite_float32": "TFLite float32",
                 "tflite_int8": "TFLite int8"}


def _check(condition, message):
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class MeasureConfig:
    runtimes: Tuple[str, ...] = RUNTIMES  # tf, saved_model, tflite_float32, tflite_int8
    formats: Tuple[str, ...] = FORMATS    # model file formats whose sizes are measured
    batches: Tuple[int, ...] = (1, 16)    # latency batch sizes
    repeats: int = 10                 # timed calls per runtime at batch 1 (interleaved)
    batch_repeats: int = 4            # at larger batches
    train_batch: int = 16             # batch of the timed training steps
    train_steps: int = 3              # timed training steps after one untimed (tracing) step
    threads: int = 2                  # TFLite interpreter threads
    calibration_images: int = 64      # int8 calibration images from the data (random-weight references: <= 8
    #                                   random images; an int8 file's size and speed do not depend on them)
    target_accuracy: float = 0.95     # validation accuracy for time-to-target
    peak_seconds: float = 1.0         # seconds per kernel when measuring the machine's float32 peak (start and end)

    def __post_init__(self):
        for kind, given, allowed in (("runtime", self.runtimes, RUNTIMES), ("format", self.formats, FORMATS)):
            unknown = [v for v in given if v not in allowed]
            _check(not unknown, f"unknown {kind}(s) {unknown}; choose from {', '.join(allowed)}")
        _check(self.batches and all(b >= 1 for b in self.batches), f"batches must be >= 1, got {self.batches}")
        _check(min(self.repeats, self.batch_repeats, self.train_batch, self.train_steps, self.threads,
                   self.calibration_images) >= 1, "repeats, train_batch, train_steps, threads and "
                                                  "calibration_images must be >= 1")
        _check(0 < self.target_accuracy <= 1, f"target_accuracy must be in (0, 1], got {self.target_accuracy}")
        _check(self.peak_seconds > 0, f"peak_seconds must be > 0, got {self.peak_seconds}")


def images(n, size, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def tflite_files(model, config, out_dir, calibration=None, class_names=None, preprocessing=None):
    """{format: path} of the TFLite files the config needs (formats and runtimes), written to out_dir as
    model_<precision>.tflite. int8 calibrates on `calibration`, or when None (a random-weight reference, measured
    for speed and size only) on at most REFERENCE_CALIBRATION random images (each costs a float forward pass in the
    converter: 64 instead of 8 took ResNet-50's int8 conversion at 224 px from 9.6 to 18.5 s)."""
    from keras_cls.compress import ptq

    wanted = [m for m in ("float32", "float16", "int8")
              if f"tflite_{m}" in config.formats or f"tflite_{m}" in config.runtimes]
    if calibration is None:
        calibration = images(min(config.calibration_images, REFERENCE_CALIBRATION), model.input_shape[1])
    paths = {}
    for method in wanted:
        path = os.path.join(out_dir, f"model_{method}.tflite")
        paths[f"tflite_{method}"] = files.write_bytes(path, ptq.convert(model, method, calibration, class_names,
                                                                         preprocessing=preprocessing))
    return paths


def sizes_mb(model, config, lite_paths, workdir):
    """File size (MiB) per format; `keras` is the model saved without optimizer state."""
    result = {}
    if "keras" in config.formats:
        path = os.path.join(workdir, f"{model.name}.keras")
        with files.atomic_path(path) as tmp:
            model.save(tmp)
        result["keras"] = os.path.getsize(path) / 2**20
    for fmt in config.formats:
        if fmt != "keras":
            result[fmt] = os.path.getsize(lite_paths[fmt]) / 2**20
    return result


def runtimes(model, config, lite_paths, saved_model_path):
    """{runtime: callable(float32 batch)} for the configured runtimes."""
    import tensorflow as tf

    from keras_cls.latency import compiled_call
    from keras_cls.export.lite import TFLiteModel

    found = {}
    for runtime in config.runtimes:
        if runtime == "tf":
            call = compiled_call(model)
            found[runtime] = lambda x, call=call: call(tf.constant(x))
        elif runtime == "saved_model":
            signature = tf.saved_model.load(saved_model_path).signatures["serve_images"]
            found[runtime] = lambda x, signature=signature: signature(images=tf.constant(x))
        else:
            found[runtime] = TFLiteModel(lite_paths[runtime], num_threads=config.threads)
    return found


def latency_rows(name, candidates, config, size, gmacs, peak_gflops):
    """One row per runtime and batch: p50/p90 ms, images/s, MFU."""
    from keras_cls.latency import interleaved

    rows = []
    for batch in config.batches:
        repeats = config.repeats if batch == 1 else config.batch_repeats
        timings = interleaved(candidates, images(batch, size, seed=batch), repeats=repeats, warmup=2)
        for runtime, t in timings.items():
            # int8 work is not float32 work: its runtimes get the speed-up over float32 TFLite, not an MFU
            int8 = runtime == "tflite_int8"
            float32 = timings.get("tflite_float32")
            rows.append({"model": name, "runtime": runtime, "batch": batch, "p50_ms": t.median_ms,
                         "p90_ms": t.p90_ms, "img_s": t.images_per_s,
                         "mfu": None if int8 else gmacs * 2 * t.images_per_s / peak_gflops,
                         "vs_tflite_float32": t.images_per_s / float32.images_per_s if int8 and float32 else None})
    return rows


def inference_peak_mb(model, config):
    """Resident memory the first TF-graph call at the largest batch adds (tracing + activations)."""
    from keras_cls.latency import compiled_call

    call = compiled_call(model)
    with PeakMemory() as peak:
        np.asarray(call(images(max(config.batches), model.input_shape[1])))
    return peak.mb


def training(model, config, gmacs, peak_gflops):
    """Training images/s and peak memory of the same architecture, fresh weights (the model is not changed),
    SGD with momentum on random images at the model's resolution."""
    import keras

    from keras_cls.compress.bridge import build_args
    from keras_cls.models import build
    from keras_cls.train.trainer import build_state

    twin = build(model.name, **build_args(model))
    twin.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy")
    classes = twin.output_shape[-1]
    x = images(config.train_batch, model.input_shape[1], seed=7)
    y = np.eye(classes, dtype=np.float32)[np.arange(config.train_batch) % classes]
    build_state(twin, (x, y))  # one trace of the step, not two
    with PeakMemory() as peak:
        twin.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(config.train_steps):
            twin.train_on_batch(x, y)
        seconds = time.perf_counter() - start
    img_s = config.train_batch * config.train_steps / seconds
    return {"train_img_s": img_s, "train_mfu": gmacs * 6 * img_s / peak_gflops, "train_peak_mb": peak.mb}


def curve(run_dir):
    """The run's epochs from log.csv: epoch (1-based), cumulative seconds, accuracy, val_accuracy, loss, val_loss."""
    from keras_cls.train.callbacks import read_log

    rows, elapsed = [], 0.0
    for e in read_log(run_dir):
        elapsed += e.get("epoch_seconds", float("nan"))
        rows.append({"epoch": e["epoch"] + 1, "seconds": elapsed,
                     **{k: e[k] for k in ("accuracy", "val_accuracy", "loss", "val_loss") if k in e}})
    return rows


def time_to_target(epochs, target):
    """(epochs, seconds) until validation accuracy first reached `target`; (None, None) if it never did."""
    hit = next((e for e in epochs if e.get("val_accuracy", 0.0) >= target), None)
    return (hit["epoch"], hit["seconds"]) if hit else (None, None)


def top1(model, lite_paths, dataset, raw):
    """Top-1 of the Keras model on a dataset of (images, labels), and of each TFLite file on the same split as
    decoded images (`raw`, Data.raw), which it preprocesses itself by the contract it carries."""
    from keras_cls.compress.run import top1 as lite_top1
    from keras_cls.evaluate import predictions
    from keras_cls.export.lite import TFLiteModel

    probs, labels = predictions(model, dataset)
    result = {"top1": float(np.mean(probs.argmax(-1) == labels))}
    for fmt, path in lite_paths.items():
        result[f"top1_{fmt}"] = lite_top1(TFLiteModel(path), raw)
    return result
