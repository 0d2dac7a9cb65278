"""Training images/s and MFU of the Trainer's step, with its data pipeline and with one in-graph batch, beside plain
keras.applications + model.fit of the same architecture, all in the same run (ratios printed; goal: the Trainer
>= 1.0x plain fit). Any variant, batches, precision and XLA, on whatever device TensorFlow sees.

Example: python scripts/bench_train.py --models efficientnet-b0,resnet-50 --batches 32 --precision mixed_float16 --xla
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_list("models", ["efficientnet-b0"], "keras_cls variants")
flags.DEFINE_list("batches", ["32"], "global batch sizes")
flags.DEFINE_integer("image_size", 0, "pixels; 0: each model's resolution")
flags.DEFINE_string("precision", "float32", "float32, mixed_float16 or mixed_bfloat16")
flags.DEFINE_boolean("xla", False, "compile the steps with XLA (jit_compile)")
flags.DEFINE_integer("steps", 10, "timed steps per arm (after a warm-up epoch of the same length)")
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
                              jit_compile=FLAGS.xla, steps=FLAGS.steps)
            r = measure(setting, peak)
            rows.append(r)
            print(f"| {name} | {r['image_size']} | {batch} | {FLAGS.precision} | {FLAGS.xla} | "
                  f"{r['trainer_pipeline_img_s']:.1f} | {r['trainer_synthetic_img_s']:.1f} | {r['plain_fit_img_s']:.1f}"
                  f" ({r['plain']}) | {r['trainer_vs_plain']:.2f}x | {100 * r['pipeline_share']:.0f}% | "
                  f"{100 * r['mfu_trainer']:.1f}% | {100 * r['mfu_plain']:.1f}% |", flush=True)
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "train", rows)


if __name__ == "__main__":
    app.run(main)
