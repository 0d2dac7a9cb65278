"""Evaluate a saved .keras model on a data set: top-1, top-5, per-class accuracy, confusion matrix (JSON + PNG).

Example: keras-cls evaluate --model_path runs/run/model.keras --source digits --image_size 32 --eval_crop 1
"""
import json
import os

from absl import flags

from keras_cls import configflags
from keras_cls.commands import fail, model_file, start_tensorflow
from keras_cls.data.config import DataConfig

configflags.define(DataConfig)
flags.DEFINE_string("model_path", None, "a .keras model file", required=True)
flags.DEFINE_string("split", "test", "test or validation")
flags.DEFINE_string("out_dir", None, "where evaluation.json and confusion.png go (default: beside the model)")


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    try:
        data_config = configflags.config_from_flags(DataConfig, "data")  # the flags first: a bad one is named at once
        model_file(FLAGS.model_path)
        start_tensorflow()
        import keras

        from keras_cls.data import pipeline

        model = keras.models.load_model(FLAGS.model_path, compile=False)  # inference only
        data = pipeline.load(data_config.for_model(model.input_shape[1]))  # no --image_size: the model's own
        split = getattr(data, FLAGS.split, None)
        if split is None:
            raise ValueError(f"the data set has no {FLAGS.split!r} split")
    except (ValueError, OSError) as e:
        fail("evaluate", e)
    from keras_cls.evaluate import evaluate

    result = evaluate(model, split, data.class_names, out_dir=FLAGS.out_dir or os.path.dirname(FLAGS.model_path))
    print(json.dumps({k: v for k, v in result.items() if k not in ("confusion", "class_names")}, indent=1))

