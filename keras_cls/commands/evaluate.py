"""Evaluate a saved .keras model on a data set: top-1, top-5, per-class accuracy, confusion matrix (JSON + PNG).

Example: keras-cls evaluate --model_path runs/run/model.keras --split validation
The data settings default to the run's own (its config.json beside the model); flags given here win, except that
the preprocessing contract (image size, evaluation crop, pixel limit) is the run's: a flag that contradicts it is an
error naming both values. A model without a run config is evaluated under the data flags, as the contract it says
it assumed.
"""
import json
import os

from absl import flags

from keras_cls import configflags
from keras_cls.commands import fail, model_file, run_config_as_base, start_tensorflow
from keras_cls.data.config import DataConfig

configflags.define(DataConfig)
flags.DEFINE_string("model_path", None, "a .keras model file", required=True)
flags.DEFINE_string("split", "test", "test or validation")
flags.DEFINE_string("out_dir", None, "where evaluation.json and confusion.png go (default: beside the model)")


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    run_config_as_base(FLAGS)
    try:
        data_config = configflags.config_from_flags(DataConfig, "data")  # the flags first: a bad one is named at once
        model_file(FLAGS.model_path)
        start_tensorflow()
        from keras_cls.data import pipeline
        from keras_cls.export.trained import data_for, load_trained

        trained = load_trained(FLAGS.model_path)
        model = trained.model
        data = pipeline.load(data_for(trained, data_config)[0])
        split = getattr(data, FLAGS.split, None)
        if split is None:
            raise ValueError(f"the data set has no {FLAGS.split!r} split")
    except (ValueError, OSError) as e:
        fail("evaluate", e)
    from keras_cls.evaluate import evaluate

    result = evaluate(model, split, data.class_names, out_dir=FLAGS.out_dir or os.path.dirname(FLAGS.model_path))
    print(json.dumps({k: v for k, v in result.items() if k not in ("confusion", "class_names")}, indent=1))

