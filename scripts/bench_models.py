"""Inference throughput of keras_cls models vs keras.applications, measured in the same run (ratios printed).

ResNet-50 is compared with keras.applications.ResNet50, which is v1 (stride in the 1x1 conv, 3.86 vs 4.09
GMACs): that row is not the same architecture and is flagged as such.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["efficientnet-b0", "efficientnetv2-b0", "resnet-50"], "keras_cls model names")
flags.DEFINE_list("batches", ["1", "16"], "batch sizes")
flags.DEFINE_integer("size", 224, "input resolution")
flags.DEFINE_integer("repeats", 10, "timed calls per model and batch (interleaved)")
flags.DEFINE_string("json", None, "write the figures as flat JSON rows to this path")

REFERENCE = {"efficientnet-b0": ("EfficientNetB0", True), "efficientnetv2-b0": ("EfficientNetV2B0", True),
             "resnet-50": ("ResNet50", False), "efficientnet-b3": ("EfficientNetB3", True),
             "resnet-101": ("ResNet101", False)}


def main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_cls
    from keras_cls.latency import compiled_call, interleaved

    shape = (FLAGS.size, FLAGS.size, 3)
    rows = []
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, {FLAGS.size} px, "
          f"median of {FLAGS.repeats} interleaved calls\n")
    print("| model | reference | same architecture | batch | ours img/s | reference img/s | ratio |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name in FLAGS.models:
        ref_name, same = REFERENCE[name]
        ours = compiled_call(keras_cls.build(name, input_shape=shape))
        theirs = compiled_call(getattr(keras.applications, ref_name)(weights=None, input_shape=shape))
        for batch in map(int, FLAGS.batches):
            x = tf.constant(np.random.default_rng(0).uniform(0, 255, (batch, *shape)).astype("float32"))
            t = interleaved({"ours": ours, "reference": theirs}, x, repeats=FLAGS.repeats)
            ratio = t["ours"].images_per_s / t["reference"].images_per_s
            rows.append({"name": name, "reference": ref_name, "same_architecture": same, "batch": batch,
                         "ours_img_s": round(t["ours"].images_per_s, 2),
                         "reference_img_s": round(t["reference"].images_per_s, 2), "ratio": round(ratio, 3)})
            print(f"| {name} | keras.applications.{ref_name} | {'yes' if same else 'no (v1)'} | {batch} "
                  f"| {t['ours'].images_per_s:.1f} | {t['reference'].images_per_s:.1f} | {ratio:.2f} |", flush=True)
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "models", rows)


if __name__ == "__main__":
    app.run(main)
