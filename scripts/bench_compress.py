"""Compression on digits-trained models, measured against the goals of the compression issue, plus int8 vs float32
TFLite latency at the models' full resolution.

Trains resnet-18 and efficientnet-b0 on digits with the fast recipe (or reuses <run_root>/<model>/model.keras),
runs every method (and int8 with per-tensor scales), prints each table and checks:
int8 PTQ top-1 drop <= 0.5 pt and file <= 0.27x float32; QAT int8 drop <= 0.3 pt; 50% pruning drop <= 0.5 pt,
gzip <= 0.6x dense gzip, sparsity within 1 pt of the target. Digits models run at 32 px, where a call takes about
a millisecond; the latency section times random-weight models at 224 px, where the arithmetic dominates.
"""
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags, logging  # noqa: E402

from keras_cls.compress.config import METHODS  # noqa: E402  (standard library only)

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["resnet-18", "efficientnet-b0"], "variants trained on digits and compressed")
flags.DEFINE_integer("epochs", 30, "training epochs when a run has to be trained")
flags.DEFINE_integer("fine_tune_epochs", 3, "QAT and pruning fine-tuning epochs")
flags.DEFINE_string("run_root", "runs/bench_compress", "training runs (reused when model.keras exists)")
flags.DEFINE_list("methods", list(METHODS), "compression methods (float32, the reference, runs always)")
flags.DEFINE_list("latency_models", ["efficientnet-b0", "resnet-50"], "models timed at full resolution")
flags.DEFINE_integer("latency_size", 0, "pixels of the latency section (0: each model's full resolution)",
                     lower_bound=0)
flags.DEFINE_integer("repeats", 20, "timed calls per artifact")
flags.DEFINE_string("json", None, "write the figures as flat JSON rows to this path")

GOALS = [("int8", "delta_top1_pt", -0.5, "top-1 drop <= 0.5 pt"), ("int8", "size_vs_float32", 0.27, "file <= 0.27x"),
         ("qat", "delta_top1_pt", -0.3, "top-1 drop <= 0.3 pt"), ("prune", "delta_top1_pt", -0.5, "drop <= 0.5 pt"),
         ("prune", "gzip_vs_float32", 0.6, "gzip <= 0.6x dense")]


def _check(rows, target):
    by = {r["method"]: r for r in rows}
    lines = []
    for method, key, bound, text in GOALS:
        if method not in by:
            continue
        value = by[method][key]
        ok = value >= bound if key.startswith("delta") else value <= bound
        lines.append(f"  {method}: {text}: {value:.3f} -> {'met' if ok else 'NOT met'}")
    if "prune" in by:
        sparsity = by["prune"]["sparsity"]
        lines.append(f"  prune: sparsity {100 * sparsity:.2f}% vs target {100 * target:.0f}% -> "
                     f"{'met' if abs(sparsity - target) <= 0.01 else 'NOT met'}")
    return "\n".join(lines)


def digits_rows():
    from keras_cls.bench import digits
    from keras_cls.compress import CompressConfig, compress
    from keras_cls.compress.run import table
    from keras_cls.data import pipeline
    from keras_cls.export.trained import data_for, load_trained

    data = pipeline.load(digits.DIGITS_DATA, one_hot=True)
    try:
        config = CompressConfig(methods=FLAGS.methods, fine_tune_epochs=FLAGS.fine_tune_epochs,
                                latency_repeats=FLAGS.repeats)
    except ValueError as e:
        raise app.UsageError(str(e))
    rows = []
    for name in FLAGS.models:
        path = os.path.join(FLAGS.run_root, name, "model.keras")
        if not os.path.exists(path):
            print(f"training {name} on digits ({FLAGS.epochs} epochs) ...", flush=True)
            digits.train_one(name, FLAGS.run_root, FLAGS.epochs)
        trained = load_trained(path)
        data_for(trained, digits.DIGITS_DATA)  # the digits are evaluated under the run's own contract
        model, class_names = trained.model, trained.class_names
        out = os.path.join(FLAGS.run_root, name, "compressed")
        print(f"compressing {name} ...", flush=True)
        found = compress(model, data, config, out, class_names, log=lambda m: print(m, flush=True))
        per_tensor = compress(model, data, dataclasses.replace(config, methods=("int8",), per_channel=False),
                              out + "-per-tensor", class_names, log=lambda m: None)[1]
        per_tensor["method"] = "int8 (per-tensor)"
        print(f"\n{name} on digits (32 px, test split; latency at batch 1, {config.threads} threads)\n")
        print(table(found + [per_tensor]))
        print(_check(found, config.sparsity) + "\n", flush=True)
        rows += [{"name": name, **{k: v for k, v in r.items() if k != "file"}} for r in found + [per_tensor]]
    return rows


def latency_rows():
    import numpy as np

    import keras_cls
    from keras_cls.latency import interleaved
    from keras_cls.compress import ptq
    from keras_cls.export.lite import TFLiteModel
    from keras_cls.files import write_bytes

    rows = []
    print("| model | px | float32 ms | int8 ms | int8 speed-up |\n|---|---:|---:|---:|---:|")
    for name in FLAGS.latency_models:
        size = FLAGS.latency_size or keras_cls.model_info(name)["resolution"]
        model = keras_cls.build(name, input_shape=(size, size, 3))
        calibration = np.random.default_rng(0).uniform(0, 255, (8, size, size, 3)).astype("float32")
        runners = {m: TFLiteModel(write_bytes(f"{FLAGS.run_root}/{name}-{m}.tflite",
                                              ptq.convert(model, m, calibration)))
                   for m in ("float32", "int8")}
        t = interleaved(runners, calibration[:1], repeats=FLAGS.repeats, warmup=3)
        speedup = t["float32"].median_ms / t["int8"].median_ms
        print(f"| {name} | {size} | {t['float32'].median_ms:.1f} | {t['int8'].median_ms:.1f} | {speedup:.2f}x |",
              flush=True)
        rows.append({"name": f"{name} latency", "size": size, "float32_ms": t["float32"].median_ms,
                     "int8_ms": t["int8"].median_ms, "speedup": speedup})
    return rows


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    os.makedirs(FLAGS.run_root, exist_ok=True)
    rows = digits_rows()
    print(f"TFLite float32 vs int8 (PTQ) at {FLAGS.latency_size or 'full'} resolution, random weights, batch 1, "
          "2 threads\n")
    rows += latency_rows()
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "compress", rows)


if __name__ == "__main__":
    app.run(main)
