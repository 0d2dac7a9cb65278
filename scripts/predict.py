"""Classify image files with an exported model and print the top-k classes with their names.

The model is a SavedModel folder (a version, or a model folder: its newest version), a .tflite file, or a TF Serving
address: http://host:port/<model> (REST) or grpc://host:port/<model>.
Example: python scripts/predict.py --model saved_models/efficientnet-b0 cat.jpg dog.png
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("model", None, "SavedModel folder, .tflite file, http://host:port/<model> or grpc://...",
                    required=True)
flags.DEFINE_integer("top_k", None, "print at most this many classes (default: all the model returns)")
flags.DEFINE_integer("timeout", 60, "seconds to wait for a server")


def _read(paths):
    """The files' bytes; a file that is empty or not an image at all is named before anything is sent."""
    from keras_cls.data.decode import EMPTY, NOT_IMAGE, REASONS, problem

    if not paths:
        raise ValueError("give one or more image files after the flags")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ValueError(f"no such image file: {', '.join(missing)}")
    encoded = []
    for path in paths:
        with open(path, "rb") as f:
            encoded.append(f.read())
        code = int(problem(encoded[-1]))
        if code in (EMPTY, NOT_IMAGE):
            raise ValueError(f"{path}: {REASONS[code]}")
    return encoded


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the answer
    import tensorflow as tf

    from keras_cls.export.client import ServingError, open_classifier

    paths = argv[1:]
    try:
        encoded = _read(paths)  # before the model loads: a wrong file name should not wait for it
        outputs = open_classifier(flags.FLAGS.model, timeout=flags.FLAGS.timeout).classify(encoded)
    except (ValueError, OSError, ServingError) as e:
        sys.exit(f"predict.py: error: {e}")
    except tf.errors.InvalidArgumentError as e:  # e.g. an image whose data is damaged past its header
        sys.exit(f"predict.py: error: an image could not be decoded: {e.message}")
    k = flags.FLAGS.top_k or outputs["classes"].shape[1]
    for i, path in enumerate(paths):
        print(path)
        for rank, (name, p) in enumerate(zip(outputs["class_names"][i][:k], outputs["probabilities"][i][:k]), 1):
            print(f"  {rank}. {name:<20} {p:.4f}")


if __name__ == "__main__":
    app.run(main)
