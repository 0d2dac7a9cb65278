"""Classify image files with an exported model and print the top-k classes with their names.

The model is a SavedModel folder (a version, or a model folder: its newest version), a .tflite file, or a TF Serving
address: http://host:port/<model> (REST) or grpc://host:port/<model>.
Example: keras-cls predict --model saved_models/efficientnet-b0 cat.jpg dog.png
"""
import os
import sys

from absl import flags, logging

from keras_cls.commands import fail, start_tensorflow
flags.DEFINE_string("model", None, "SavedModel folder, .tflite file, http://host:port/<model> or grpc://...",
                    required=True)
flags.DEFINE_integer("top_k", None, "print at most this many classes (default: all the model returns)")
flags.DEFINE_integer("timeout", 60, "seconds to wait for a server")


def _read(paths):
    """The files' bytes; files that are empty, not images at all or bombs (by their header) are all named before
    anything is sent."""
    from keras_cls.data.decode import EMPTY, NOT_IMAGE, REASONS, TOO_LARGE, problem

    if not paths:
        raise ValueError("give one or more image files after the flags")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ValueError(f"no such image file: {', '.join(missing)}")
    encoded, bad = [], []
    for path in paths:
        with open(path, "rb") as f:
            encoded.append(f.read())
        code = int(problem(encoded[-1]))
        if code in (EMPTY, NOT_IMAGE, TOO_LARGE):
            bad.append(f"{path}: {REASONS[code]}")
    if bad:
        raise ValueError("; ".join(bad))
    return encoded


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the answer
    paths = argv[1:]
    try:
        if flags.FLAGS.top_k is not None and flags.FLAGS.top_k < 1:
            raise ValueError(f"--top_k must be >= 1 (or omitted for all the model returns), got {flags.FLAGS.top_k}")
        encoded = _read(paths)  # before the model loads: a wrong file name should not wait for it
    except (ValueError, OSError) as e:
        fail("predict", e)
    start_tensorflow()
    import tensorflow as tf

    from keras_cls.export.client import ServingError, classify_each, open_classifier

    try:
        outputs, bad = classify_each(open_classifier(flags.FLAGS.model, timeout=flags.FLAGS.timeout), encoded)
    except (ValueError, OSError, ServingError, tf.errors.OpError) as e:
        fail("predict", e)
    k = flags.FLAGS.top_k or (outputs["classes"].shape[1] if len(outputs["index"]) else 0)
    for row, i in enumerate(outputs["index"]):
        print(paths[i])
        for rank, (name, p) in enumerate(zip(outputs["class_names"][row][:k], outputs["probabilities"][row][:k]), 1):
            print(f"  {rank}. {name:<20} {p:.4f}")
    for i, message in bad.items():  # e.g. an image whose data is damaged past its header
        print(f"keras-cls predict: error: {paths[i]}: {message}", file=sys.stderr)
    if bad:
        sys.exit(1)

