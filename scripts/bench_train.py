"""Training images/s and MFU of the Trainer's step, with its data pipeline and with one in-graph batch, beside plain
keras.applications + model.fit of the same architecture, all in the same run (ratios printed; goal: the Trainer
>= 1.0x plain fit). Any variant, batches, precision and XLA, on whatever device TensorFlow sees.

With --deterministic_cost, the same settings are timed again in a child process with --deterministic (TensorFlow's
deterministic kernels and data order, which a process cannot turn off again), and the ratio is printed.

Example: python scripts/bench_train.py --models efficientnet-b0,resnet-50 --batches 32 --precision mixed_float16 --xla
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_list("models", ["efficientnet-b0"], "keras_cls variants")
flags.DEFINE_list("batches", ["32"], "global batch sizes")
flags.DEFINE_integer("image_size", 0, "pixels; 0: each model's resolution")
flags.DEFINE_string("precision", "float32", "float32, mixed_float16 or mixed_bfloat16")
flags.DEFINE_boolean("xla", False, "compile the steps with XLA (jit_compile)")
flags.DEFINE_integer("steps", 10, "timed steps per arm (after a warm-up epoch of the same length)")
flags.DEFINE_boolean("deterministic", False, "time with --deterministic (the whole process)")
flags.DEFINE_boolean("deterministic_cost", False, "also time every setting with --deterministic in a child process "
                     "and print the ratio")
flags.DEFINE_string("json", None, "write the rows as JSON here")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_cls.bench import hardware
    from keras_cls.bench.train_speed import Setting, measure

    peak = max(hardware.matmul_gflops().values())
    print(f"matmul peak {peak:.1f} GFLOP/s (MFU denominator)\n")
    print("| model | px | batch | precision | XLA | trainer + pipeline | trainer, in-graph data | plain fit | "
          "trainer / plain | pipeline share | MFU trainer | MFU plain |")
    print("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for name in FLAGS.models:
        for batch in map(int, FLAGS.batches):
            setting = Setting(model=name, batch=batch, image_size=FLAGS.image_size, precision=FLAGS.precision,
                              jit_compile=FLAGS.xla, steps=FLAGS.steps, deterministic=FLAGS.deterministic)
            r = measure(setting, peak)
            rows.append(r)
            print(f"| {name} | {r['image_size']} | {batch} | {FLAGS.precision} | {FLAGS.xla} | "
                  f"{r['trainer_pipeline_img_s']:.1f} | {r['trainer_synthetic_img_s']:.1f} | {r['plain_fit_img_s']:.1f}"
                  f" ({r['plain']}) | {r['trainer_vs_plain']:.2f}x | {100 * r['pipeline_share']:.0f}% | "
                  f"{100 * r['mfu_trainer']:.1f}% | {100 * r['mfu_plain']:.1f}% |", flush=True)
    if FLAGS.deterministic_cost and not FLAGS.deterministic:
        rows += _deterministic_cost(rows)
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "train", rows)


def _deterministic_cost(rows):
    """The same settings timed by this script with --deterministic in a child process; prints each ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rows.json")
        argv = [f"--models={','.join(FLAGS.models)}", f"--batches={','.join(FLAGS.batches)}",
                f"--image_size={FLAGS.image_size}", f"--precision={FLAGS.precision}", f"--xla={FLAGS.xla}",
                f"--steps={FLAGS.steps}", "--deterministic", f"--json={path}"]
        subprocess.run([sys.executable, os.path.abspath(__file__), *argv], check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            deterministic = json.load(f)["rows"]
    print("\n| model | batch | trainer + pipeline | with --deterministic | deterministic / default |")
    print("|---|---:|---:|---:|---:|")
    for default, det in zip(rows, deterministic):
        print(f"| {default['model']} | {default['batch']} | {default['trainer_pipeline_img_s']:.1f} img/s | "
              f"{det['trainer_pipeline_img_s']:.1f} img/s | "
              f"{det['trainer_pipeline_img_s'] / default['trainer_pipeline_img_s']:.2f}x |")
    return deterministic


if __name__ == "__main__":
    app.run(main)
