"""A trained model + data -> the chosen compression methods -> TFLite artifacts and a size / accuracy / latency table.

Every artifact is a TFLite file with the serving contract (keras_cls.export.lite), evaluated through the LiteRT
interpreter on the test split (the validation split where there is no test split); the float32 TFLite file is
the reference each row's accuracy and speed are compared with.
"""
import dataclasses
import gzip
import os
import time

import numpy as np

from keras_cls import files
from keras_cls.compress import ptq

def first_images(dataset, limit):
    """The first `limit` images of a dataset of (images, labels) batches, as one array."""
    batches, count = [], 0
    for images, _ in dataset:
        batches.append(images.numpy())
        count += len(batches[-1])
        if count >= limit:
            break
    return np.concatenate(batches)[:limit]


def _steps(data, config):
    """Steps per fine-tuning epoch: as configured, or one pass over the training split."""
    return config.steps_per_epoch or int(np.ceil(data.sizes["train"] / int(next(iter(data.train))[0].shape[0])))


def fine_tune(model, data, config, callbacks=()):
    """A few epochs of tf_keras training on the training split (what tfmot's wrappers need to settle)."""
    import tf_keras

    steps = _steps(data, config)
    model.compile(optimizer=tf_keras.optimizers.Adam(config.learning_rate),
                  loss=tf_keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    # The optimizer's, loss's and metrics' variables made before fit traces its step (tf.function traces a step
    # that creates variables twice: ~2 s of a ResNet-18 fine-tuning).
    images, labels = next(iter(data.train))
    model.optimizer.build(model.trainable_variables)
    scores = model(images[:1], training=False)
    model.compiled_loss.build(scores)
    model.compiled_metrics.build(scores, labels[:1])
    # The same command, the same fine-tuning: dropout from the seed, the batches from (data seed, epoch) alone (not
    # Data.train: a reshuffled stream whose order hangs on how often the process has read it before).
    tf_keras.utils.set_random_seed(config.seed)
    model.fit(data.train_from(0, steps), steps_per_epoch=steps, epochs=config.fine_tune_epochs, verbose=0,
              callbacks=list(callbacks))


def top1(lite_model, raw):
    """Top-1 accuracy of a TFLiteModel over decoded (image, label) pairs (Data.raw), one image at a time: the
    file applies the preprocessing contract itself, as it will in production."""
    right = seen = 0
    for image, label in raw:
        right += int(lite_model(image.numpy()[None])["classes"][0, 0] == int(label))
        seen += 1
    return right / seen


def _artifacts(model, data, config, class_names, log):
    """{method: (tflite bytes, sparsity report or None)} for the configured methods."""
    from keras_cls.compress import bridge

    result = {}
    calibration = first_images(data.validation if data.validation is not None else data.train,
                               config.calibration_images)
    for method in ("float32",) + tuple(m for m in config.methods if m != "float32"):
        log(f"  {method}: converting")
        if method in ptq.METHODS:
            result[method] = (ptq.convert(model, method, calibration, class_names, config.top_k,
                                          per_channel=config.per_channel, preprocessing=data.contract), None)
        elif method == "qat":
            from keras_cls.compress import qat

            quantized = qat.quantize_aware(bridge.to_tf_keras(model))
            fine_tune(quantized, data, config)
            result[method] = (ptq.convert_quantized(quantized, class_names, config.top_k, data.contract), None)
        else:
            from keras_cls.compress import prune

            pruned = prune.prunable(bridge.to_tf_keras(model), config.sparsity,
                                    config.fine_tune_epochs * _steps(data, config), config.prune_depthwise)
            fine_tune(pruned, data, config, callbacks=prune.callbacks())
            stripped = prune.strip(pruned)
            result[method] = (ptq.convert(bridge.to_keras(stripped), "float32", None, class_names, config.top_k,
                                          sparse=True, preprocessing=data.contract),
                              prune.sparsity_report(stripped, config.prune_depthwise))
    return result


def compress(model, data, config, out_dir, class_names=None, log=print):
    """Run the methods, write <out_dir>/<method>.tflite, table.md and table.json; returns the table rows."""
    from keras_cls.latency import interleaved
    from keras_cls.export.lite import TFLiteModel

    os.makedirs(out_dir, exist_ok=True)
    started = time.perf_counter()
    artifacts = _artifacts(model, data, config, class_names, log)
    split = data.test if data.test is not None else data.validation
    raw = data.raw["test" if data.test is not None else "validation"]
    rows, runners = [], {}
    for method, (content, report) in artifacts.items():
        path = files.write_bytes(os.path.join(out_dir, f"{method}.tflite"), content)
        runners[method] = TFLiteModel(path, num_threads=config.threads)
        log(f"  {method}: evaluating")
        rows.append({"method": method, "file": path, "bytes": len(content),
                     "gzip_bytes": len(gzip.compress(content, compresslevel=9)),
                     "sparsity": report["sparsity"] if report else None, "top1": top1(runners[method], raw)})
    size = tuple(model.input_shape[1:3])
    x = first_images(split, 1).astype(np.float32).reshape(1, *size, 3)
    timings = interleaved(runners, x, repeats=config.latency_repeats, warmup=3)
    reference = rows[0]
    for row in rows:
        row["latency_ms"] = timings[row["method"]].median_ms
        row["speedup"] = timings["float32"].median_ms / row["latency_ms"]
        row["delta_top1_pt"] = 100 * (row["top1"] - reference["top1"])
        row["size_vs_float32"] = row["bytes"] / reference["bytes"]
        row["gzip_vs_float32"] = row["gzip_bytes"] / reference["gzip_bytes"]
    payload = {"model": model.name, "config": dataclasses.asdict(config), "seconds": time.perf_counter() - started,
               "rows": rows, "sparsity_layers": {m: r for m, (_, r) in artifacts.items() if r}}
    files.write_json(os.path.join(out_dir, "table.json"), payload)
    files.write_text(os.path.join(out_dir, "table.md"), table(rows) + "\n")
    return rows


def table(rows):
    lines = ["| method | size KB | vs float32 | gzip KB | vs float32 | sparsity | top-1 | Δ top-1 (pt) "
             "| latency ms | speed-up |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        sparsity = f"{100 * r['sparsity']:.1f}%" if r["sparsity"] is not None else ""
        lines.append(f"| {r['method']} | {r['bytes'] / 1024:.0f} | {r['size_vs_float32']:.2f} "
                     f"| {r['gzip_bytes'] / 1024:.0f} | {r['gzip_vs_float32']:.2f} | {sparsity} "
                     f"| {100 * r['top1']:.2f}% | {r['delta_top1_pt']:+.2f} | {r['latency_ms']:.2f} "
                     f"| {r['speedup']:.2f}x |")
    return "\n".join(lines)
