"""The main job on the embedded default data: the variant table, then both families trained from scratch on
scikit-learn's digits (fast recipe) and compared with scikit-learn's SVC on the same split.

Later stages (compression, export, the full comparison report) are added here as they land.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["resnet-18", "efficientnet-b0"], "variants to train on digits")
flags.DEFINE_integer("epochs", 30, "epochs per model")
flags.DEFINE_string("run_root", "runs/demo", "where the training runs go")


def main(argv):
    del argv
    from keras_cls.bench import digits
    from keras_cls.cli import variant_table
    from keras_cls.data.sources import DIGITS_NOTE

    print("keras_cls variants (counted analytically from the builders; GMACs at the default resolution)\n")
    print(variant_table(), "\n", flush=True)
    print(f"data: {DIGITS_NOTE}", flush=True)
    rows = digits.run(FLAGS.models, FLAGS.run_root, FLAGS.epochs, progress=lambda m: print(m, flush=True))
    print("\n" + digits.table(rows))
    print(f"\nrun directories (model.keras, log.csv, confusion.png, metrics.json): {FLAGS.run_root}/<model>/")


if __name__ == "__main__":
    app.run(main)
