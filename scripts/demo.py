"""The main job on the embedded default data: the variant table, then both families trained from scratch on
scikit-learn's digits (fast recipe), compared with scikit-learn's SVC on the same split, and exported for serving
(a SavedModel version under saved_models/<model>/ and a float32 TFLite file in the run folder).

Later stages (compression, export, the full comparison report) are added here as they land.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["resnet-18", "efficientnet-b0"], "variants to train on digits")
flags.DEFINE_integer("epochs", 30, "epochs per model")
flags.DEFINE_string("run_root", "runs/demo", "where the training runs go")
flags.DEFINE_string("export_root", "saved_models", "TF Serving model root the trained models are exported to")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the progress
    from keras_cls.bench import digits
    from keras_cls.cli import variant_table
    from keras_cls.data.sources import DIGITS_NOTE

    print("keras_cls variants (counted analytically from the builders; GMACs at the default resolution)\n")
    print(variant_table(), "\n", flush=True)
    print(f"data: {DIGITS_NOTE}", flush=True)
    rows = digits.run(FLAGS.models, FLAGS.run_root, FLAGS.epochs, progress=lambda m: print(m, flush=True))
    print("\n" + digits.table(rows))
    print(f"\nrun directories (model.keras, log.csv, confusion.png, metrics.json): {FLAGS.run_root}/<model>/")
    export(FLAGS.models, FLAGS.run_root, FLAGS.export_root)


def export(models, run_root, export_root):
    from keras_cls.export.trained import export_trained

    print("\nexported for serving:")
    for name in models:
        run = os.path.join(run_root, name)
        paths = export_trained(os.path.join(run, "model.keras"), export_root,
                               tflite_path=os.path.join(run, "model.tflite"))
        print(f"  {name}: SavedModel {paths['saved_model']}, TFLite {paths['tflite']}")
    print(f"  TF Serving config: {paths['models_config']} (see README, 'Export for TF Serving')")
    print(f"  try: python scripts/predict.py --model={export_root}/{models[0]} <image files>")


if __name__ == "__main__":
    app.run(main)
