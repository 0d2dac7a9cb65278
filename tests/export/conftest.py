"""One small classifier for the export tests, exported once per test run (shared by the pytest-xdist workers): its
weights, a SavedModel folder and a TFLite file."""
import fcntl
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_cls
from keras_cls.data.contract import Preprocessing
from keras_cls.export import saved_model, tflite
from tests.conftest import randomize, residual_layers, shallow_b0

SIZE = (64, 64)
NAMES = ["cat", "dog", "fox"]


def _shared(tmp_path_factory, name, make):
    """`make(path)` once for the whole run: the first worker to take the lock makes it, the others reuse it. The
    workers' temporary folders share a parent that is new for each run; without xdist there is one process."""
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"{name}.done").exists():
            make(root / name)
            (root / f"{name}.done").touch()
    return root / name


def _build():
    with shallow_b0():  # every kind of B0 layer, a third of the cost to export and convert
        return keras_cls.build("efficientnet-b0", num_classes=3, input_shape=(*SIZE, 3))


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    # Random BN statistics and biases spread the probabilities, so that comparisons see every weight.
    path = _shared(tmp_path_factory, "b0.weights.h5", lambda p: randomize(_build(), seed=4).save_weights(p))
    model = _build()
    model.load_weights(path)
    assert residual_layers(model) == (["block6b_add"], ["block6b_drop"])  # what every export must carry
    return model


@pytest.fixture(scope="session")
def exported(model, tmp_path_factory):
    root = _shared(tmp_path_factory, "saved_models",
                   lambda p: saved_model(model, root=str(p), class_names=NAMES, top_k=2))
    return str(root / "efficientnet-b0" / "1"), root


@pytest.fixture(scope="session")
def tflite_file(model, tmp_path_factory):
    return str(_shared(tmp_path_factory, "b0.tflite", lambda p: tflite(model, str(p), class_names=NAMES, top_k=2)))


def jpeg(seed, shape=(50, 70)):
    pixels = np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)
    return tf.io.encode_jpeg(pixels).numpy()


CONTRACT = Preprocessing(SIZE[0])  # the default an export of a model without a run applies (eval_crop 0.875)


def keras_scores(model, encoded):
    """What the Keras model says about an encoded image, decoded and preprocessed as evaluation does it."""
    pixels = CONTRACT.apply(tf.io.decode_image(encoded, channels=3))
    return model(tf.cast(pixels, tf.float32)[None], training=False).numpy()[0]
