"""Serving latency and throughput: Keras predict vs the SavedModel signature (called as `tf.saved_model.load` calls
it, and as TF Serving runs it) vs TFLite float32 vs ONNX Runtime (where the `[bench]` extra is installed), in one
run.

Each model is built with random weights at its own resolution (speed does not depend on the weights), exported
to a temporary SavedModel and TFLite file, and all runtimes are timed interleaved on the same image batch.
The SavedModel and TFLite rows include the exported contract (resize to the model's size and top-k); "keras
tf.function" is the Keras graph the SavedModel served before keras_cls/export/inference_graph.py; "TF Serving
session" runs the SavedModel as TF Serving does (keras_cls/export/session.py) on the process's TensorFlow threads.
Each row gives its p50 over TFLite float32's at the same batch, and its MFU: the model's float32 FLOPs per second
over the machine's peak (keras_cls/bench/hardware.py), measured at the start of the same run. `--tf_threads 1 --threads 1`
times every runtime on one thread; TensorFlow's threads are process-wide (every session of a process shares the
first one's pools, as every model of a TF Serving process does), so each setting is a run of its own, and
`--tf_threads 1 --threads 2` times TF Serving on one thread against TFLite on two. `--op_profile` adds where the TF
Serving session's batch-1 time goes, kernel by kernel (keras_cls/bench/op_profile.py).
Example: python scripts/bench_serving.py --models=efficientnet-b0 --batches=1
"""
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["efficientnet-b0", "resnet-50"], "keras_cls model names")
flags.DEFINE_list("batches", ["1", "32"], "batch sizes")
flags.DEFINE_integer("size", None, "input resolution (default: each model's own)")
flags.DEFINE_integer("repeats", 10, "timed calls per runtime at batch 1 (interleaved)")
flags.DEFINE_integer("batch_repeats", 4, "timed calls per runtime at larger batches")
flags.DEFINE_integer("threads", 2, "TFLite interpreter threads")
flags.DEFINE_integer("tf_threads", 0, "TensorFlow's intra- and inter-op threads for this process (TF Serving's "
                     "--tensorflow_intra_op_parallelism and --tensorflow_inter_op_parallelism); 0: TensorFlow's choice",
                     lower_bound=0)
flags.DEFINE_float("peak_seconds", 1.0, "seconds of each matmul/convolution timing behind the machine's peak",
                   lower_bound=0.0)
flags.DEFINE_boolean("op_profile", False, "also time the TF Serving session's serve_images at batch 1 kernel by "
                     "kernel and print the op types that take 95% of the time")
flags.DEFINE_string("json", None, "write the figures as flat JSON rows to this path")

SESSION = "TF Serving session serve_images"


def runtimes(name, size, workdir):
    """{runtime: callable(batch)} for one model; Keras predict is the reference."""
    import tensorflow as tf

    import keras_cls
    from keras_cls.bench import onnx
    from keras_cls.export import TFLiteModel, saved_model, tflite
    from keras_cls.export.session import ServingSession
    from keras_cls.latency import compiled_call

    model = keras_cls.build(name, input_shape=(size, size, 3))
    path = saved_model(model, root=workdir)
    signature = tf.saved_model.load(path).signatures["serve_images"]
    lite = TFLiteModel(tflite(model, os.path.join(workdir, f"{name}.tflite")), num_threads=FLAGS.threads)
    call = compiled_call(model)
    found = {"keras predict": lambda x: model.predict(x, batch_size=len(x), verbose=0),
             "keras tf.function": lambda x: call(tf.constant(x)),
             "SavedModel serve_images": lambda x: signature(images=tf.constant(x)),
             f"TFLite float32 ({FLAGS.threads} threads)": lite}
    if not onnx.available():
        found[f"ONNX Runtime float32 ({FLAGS.threads} threads, model only)"] = onnx.session(model, size, FLAGS.threads)
    found[SESSION] = ServingSession(path, "serve_images", FLAGS.tf_threads)
    return found


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the answer
    del argv
    import numpy as np
    import tensorflow as tf

    if FLAGS.tf_threads:  # before TensorFlow runs its first op
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.tf_threads)
    import keras_cls
    from keras_cls.bench import hardware
    from keras_cls.latency import interleaved
    from keras_cls.models import flops

    from keras_cls.bench import onnx

    rows = []
    if onnx.available():
        print(onnx.available())
    peak_gflops, kernel = hardware.peak(("start", hardware.matmul_gflops(seconds=FLAGS.peak_seconds)))
    threads = f"{FLAGS.tf_threads} TensorFlow threads" if FLAGS.tf_threads else "TensorFlow's threads"
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs ({threads}), float32 peak {peak_gflops:.0f} GFLOP/s "
          f"({kernel}); "
          "median and p90 of interleaved calls; ratio = throughput / Keras predict's in the same run\n")
    print("| model | px | batch | runtime | p50 ms | p90 ms | img/s | ratio | p50 / TFLite's | MFU |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for name in FLAGS.models:
        size = FLAGS.size or keras_cls.model_info(name)["resolution"]
        gflop = 2 * flops.count(name, size).macs / 1e9
        with tempfile.TemporaryDirectory() as workdir:
            candidates = runtimes(name, size, workdir)
            for batch in map(int, FLAGS.batches):
                x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")
                repeats = FLAGS.repeats if batch == 1 else FLAGS.batch_repeats
                timings = interleaved(candidates, x, repeats=repeats, warmup=2)
                rows += _rows(name, size, batch, timings, gflop, peak_gflops)
            if FLAGS.op_profile:
                rows += _op_rows(name, size, candidates[SESSION])
            candidates[SESSION].close()
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "serving", rows)


def _rows(name, size, batch, timings, gflop, peak_gflops):
    """The rows of one model and batch, printed as they come."""
    reference = timings["keras predict"].images_per_s
    lite = timings[f"TFLite float32 ({FLAGS.threads} threads)"].median_ms
    rows = []
    for runtime, t in timings.items():
        rows.append({"name": name, "size": size, "batch": batch, "runtime": runtime, "tf_threads": FLAGS.tf_threads,
                     "p50_ms": round(t.median_ms, 2), "p90_ms": round(t.p90_ms, 2),
                     "img_s": round(t.images_per_s, 2), "ratio": round(t.images_per_s / reference, 3),
                     "vs_tflite_p50": round(t.median_ms / lite, 3),
                     "mfu": round(gflop * t.images_per_s / peak_gflops, 4), "peak_gflops": round(peak_gflops, 1)})
        print(f"| {name} | {size} | {batch} | {runtime} | {t.median_ms:.1f} | {t.p90_ms:.1f} | {t.images_per_s:.1f} "
              f"| {t.images_per_s / reference:.2f} | {t.median_ms / lite:.2f} | {100 * rows[-1]['mfu']:.1f}% |",
              flush=True)
    return rows


def _op_rows(name, size, session):
    """The op types that take 95% of the TF Serving session's kernel time at batch 1, printed as a table."""
    import numpy as np

    from keras_cls.bench.op_profile import op_times

    x = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype("float32")
    times = op_times(session, x, runs=FLAGS.repeats)
    total, shown, rows = sum(ms for _, ms, _ in times), 0.0, []
    print(f"\n{name}: {SESSION}, batch 1, kernel time by op type ({total:.1f} ms a call in all)\n\n"
          "| op type | ms a call | ops a call | share |\n|---|---:|---:|---:|")
    for op, ms, calls in times:
        if shown >= 0.95 * total:
            break
        shown += ms
        rows.append({"name": name, "size": size, "batch": 1, "tf_threads": FLAGS.tf_threads, "op": op,
                     "ms": round(ms, 3), "calls": calls, "share": round(ms / total, 4)})
        print(f"| {op} | {ms:.2f} | {calls} | {100 * ms / total:.1f}% |")
    print()
    return rows


if __name__ == "__main__":
    app.run(main)
