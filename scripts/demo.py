"""The main job on the embedded default. For now: the variant table from model_info, then one model built and run.

Later stages (digits training, compression, export, the comparison report) are added here as they land.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "efficientnet-b0", "the variant to build and run")
flags.DEFINE_integer("batch", 8, "images per batch")


def main(argv):
    del argv
    import numpy as np

    import keras_cls
    from keras_cls.bench.latency import compiled_call, interleaved
    from keras_cls.cli import variant_table

    print("keras_cls variants (counted analytically from the builders; GMACs at the default resolution)\n")
    print(variant_table(), "\n", flush=True)
    info = keras_cls.model_info(FLAGS.model)
    model = keras_cls.build(FLAGS.model)
    size = info["resolution"]
    x = np.random.default_rng(0).integers(0, 256, (FLAGS.batch, size, size, 3)).astype("float32")
    timing = interleaved({FLAGS.model: compiled_call(model)}, x, repeats=3)[FLAGS.model]
    probs = model.predict_on_batch(x)
    print(f"built {model.name}: {model.count_params():,} parameters ({info['gmacs']:.3f} GMACs at {size} px); "
          f"a batch of {FLAGS.batch} random RGB images -> {probs.shape} class probabilities (rows sum to "
          f"{probs.sum(axis=1).mean():.4f}); {timing.images_per_s:.1f} img/s, {timing.median_ms:.0f} ms per batch "
          "on this machine (untrained weights)")


if __name__ == "__main__":
    app.run(main)
