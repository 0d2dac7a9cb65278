"""Compress a trained model: TFLite post-training quantization, tfmot quantization-aware training and pruning,
each artifact evaluated through the LiteRT interpreter, with a size / accuracy / latency table (Markdown + JSON).

Example: keras-cls compress --model_path runs/demo/resnet-18/model.keras --methods int8,qat,prune
The data settings default to the run's own (its config.json beside the model); flags given here win.
"""
import os

from absl import flags, logging

from keras_cls import configflags
from keras_cls.commands import fail, model_file, start_tensorflow
from keras_cls.compress.config import CompressConfig
from keras_cls.data.config import DataConfig

configflags.define(DataConfig, CompressConfig)
flags.DEFINE_string("model_path", None, "a trained .keras model (a run's model.keras)", required=True)
flags.DEFINE_string("out_dir", None, "where the .tflite files and table.md/json go (default: <run>/compressed)")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the progress
    FLAGS = flags.FLAGS
    run_config = os.path.join(os.path.dirname(FLAGS.model_path), "config.json")
    if FLAGS.config is None and os.path.isfile(run_config):
        FLAGS.config = run_config
    try:
        config = configflags.config_from_flags(CompressConfig, "compress")  # the flags first: a bad one is named at once
        data_config = configflags.config_from_flags(DataConfig, "data")
        model_file(FLAGS.model_path)
        start_tensorflow()
        from keras_cls.data import pipeline
        from keras_cls.export.trained import load_trained

        model, class_names, _, _ = load_trained(FLAGS.model_path)
        data = pipeline.load(data_config.for_model(model.input_shape[1]), one_hot=True)
    except (ValueError, OSError) as e:
        fail("compress", e)
    out_dir = FLAGS.out_dir or os.path.join(os.path.dirname(FLAGS.model_path), "compressed")
    from keras_cls.compress import compress
    from keras_cls.compress.run import table

    print(f"compressing {model.name} with {', '.join(config.methods)} -> {out_dir}", flush=True)
    rows = compress(model, data, config, out_dir, class_names, log=lambda m: print(m, flush=True))
    print("\n" + table(rows))

