"""Evaluate a saved .keras model on a data set: top-1, top-5, per-class accuracy, confusion matrix (JSON + PNG).

Example: python scripts/evaluate.py --model_path runs/run/model.keras --source digits --image_size 32 --eval_crop 1
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from keras_cls import configflags  # noqa: E402
from keras_cls.data import pipeline  # noqa: E402

configflags.define(pipeline.DataConfig)
flags.DEFINE_string("model_path", None, "a .keras model file", required=True)
flags.DEFINE_string("split", "test", "test or validation")
flags.DEFINE_string("out_dir", None, "where evaluation.json and confusion.png go (default: beside the model)")


def main(argv):
    del argv
    import keras

    from keras_cls.evaluate import evaluate

    FLAGS = flags.FLAGS
    try:
        data = pipeline.load(configflags.build(pipeline.DataConfig, "data"))
        split = getattr(data, FLAGS.split, None)
        if split is None:
            raise ValueError(f"the data set has no {FLAGS.split!r} split")
        model = keras.models.load_model(FLAGS.model_path, compile=False)  # inference only
    except (ValueError, OSError) as e:
        sys.exit(f"evaluate.py: error: {e}")
    result = evaluate(model, split, data.class_names, out_dir=FLAGS.out_dir or os.path.dirname(FLAGS.model_path))
    print(json.dumps({k: v for k, v in result.items() if k not in ("confusion", "class_names")}, indent=1))


if __name__ == "__main__":
    app.run(main)
