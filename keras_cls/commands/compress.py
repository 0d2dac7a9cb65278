"""Compress a trained model: TFLite post-training quantization, tfmot quantization-aware training and pruning,
each artifact evaluated through the LiteRT interpreter, with a size / accuracy / latency table (Markdown + JSON).

Example: keras-cls compress --model_path runs/demo/resnet-18/model.keras --methods int8,qat,prune
The data settings default to the run's own (its config.json beside the model); flags given here win, except that
the preprocessing contract (image size, evaluation crop, pixel limit) is the run's: a flag that contradicts it is an
error naming both values.
"""
import os

from absl import flags, logging

from keras_cls import configflags
from keras_cls.commands import fail, model_file, run_config_as_base, start_tensorflow
from keras_cls.compress.config import CompressConfig
from keras_cls.data.config import DataConfig

configflags.define(DataConfig, CompressConfig)
flags.DEFINE_string("model_path", None, "a trained .keras model (a run's model.keras)", required=True)
flags.DEFINE_string("out_dir", None, "where the .tflite files and table.md/json go (default: <run>/compressed)")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the progress
    FLAGS = flags.FLAGS
    run_config_as_base(FLAGS)
    try:
        # the flags first: a bad one is named at once
        config = configflags.config_from_flags(CompressConfig, "compress")
        data_config = configflags.config_from_flags(DataConfig, "data")
        model_file(FLAGS.model_path)
        start_tensorflow()
        from keras_cls.data import pipeline
        from keras_cls.export.trained import data_for, load_trained

        trained = load_trained(FLAGS.model_path)
        model, class_names = trained.model, trained.class_names
        data = pipeline.load(data_for(trained, data_config)[0], one_hot=True)
    except (ValueError, OSError) as e:
        fail("compress", e)
    out_dir = FLAGS.out_dir or os.path.join(os.path.dirname(FLAGS.model_path), "compressed")
    from keras_cls.compress import compress
    from keras_cls.compress.run import table

    print(f"compressing {model.name} with {', '.join(config.methods)} -> {out_dir}", flush=True)
    rows = compress(model, data, config, out_dir, class_names, log=lambda m: print(m, flush=True))
    print("\n" + table(rows))

