"""The jobs of the `keras-cls` command, one module each, with the same flags as the repository's scripts.

A job's module defines its absl flags when it is imported, so `run` imports only the one asked for.
"""
import importlib
import os
import sys

# name: what `keras-cls --help` says of it
JOBS = {
    "train": "train a model (flags from TrainConfig and DataConfig); a killed run resumes with the same command",
    "prepare": "an image folder to sharded TFRecords with a manifest (one pass, parallel, resumable)",
    "evaluate": "top-1, top-5, per-class accuracy and confusion matrix of a .keras model on a data set",
    "export": "a trained model to a TF Serving SavedModel version (+ models.config) and optionally TFLite",
    "predict": "classify image files with a SavedModel, a .tflite file or a TF Serving address",
    "compress": "post-training quantization, quantization-aware training and pruning, with a table",
    "tune": "search EfficientNet and ResNet settings with Keras Tuner",
    "compare": "EfficientNet vs ResNet on your data and this machine: train, export, measure, report",
    "demo": "the comparison on the embedded digits (what `make demo` runs)",
}


def fail(job, error):
    """One line naming the job and the problem, exit status 1 (never a traceback for a user's mistake)."""
    sys.exit(f"keras-cls {job}: error: {error}")


def model_file(path):
    """`path` (--model_path), checked before TensorFlow starts: a missing file is named at once."""
    if not os.path.isfile(path):
        raise ValueError(f"--model_path: no model file at {path}")
    return path


def run_config_as_base(flag_values):
    """--config defaults to the run's config.json beside --model_path: flags not given take the run's values."""
    run_config = os.path.join(os.path.dirname(flag_values.model_path), "config.json")
    if flag_values.config is None and os.path.isfile(run_config):
        flag_values.config = run_config


def start_tensorflow():
    """Import TensorFlow with its C++ start-up lines held back and its Python warnings (retracing notices) off.
    A job calls it once its flags are checked, so that a bad flag is answered at once rather than after
    TensorFlow's ~5 s start, and before anything that imports keras."""
    from keras_cls.quiet import native_logs_held

    with native_logs_held():
        import tensorflow as tf
    tf.get_logger().setLevel("ERROR")


def run(job, argv):
    """Run `job` with the command-line arguments `argv` (flags, then any positional arguments)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from absl import app

    from keras_cls.quiet import native_logs_held

    with native_logs_held():  # the start-up lines of jobs whose configs import TensorFlow (compress, prepare)
        module = importlib.import_module(f"keras_cls.commands.{job}")
    app.run(module.main, argv=[f"keras-cls {job}", *argv])
