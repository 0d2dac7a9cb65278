"""One small classifier for the export tests, exported once: a SavedModel folder and a TFLite file."""
import numpy as np
import pytest
import tensorflow as tf

import keras_cls
from keras_cls.data.contract import Preprocessing
from keras_cls.export import saved_model, tflite
from tests.conftest import randomize

SIZE = (64, 64)
NAMES = ["cat", "dog", "fox"]


@pytest.fixture(scope="session")
def model():
    # Random BN statistics and biases spread the probabilities, so that comparisons see every weight.
    return randomize(keras_cls.build("efficientnet-b0", num_classes=3, input_shape=(*SIZE, 3)), seed=4)


@pytest.fixture(scope="session")
def exported(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    return saved_model(model, root=str(root), class_names=NAMES, top_k=2), root


@pytest.fixture(scope="session")
def tflite_file(model, tmp_path_factory):
    return tflite(model, str(tmp_path_factory.mktemp("tflite") / "b0.tflite"), class_names=NAMES, top_k=2)


def jpeg(seed, shape=(50, 70)):
    pixels = np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)
    return tf.io.encode_jpeg(pixels).numpy()


CONTRACT = Preprocessing(SIZE[0])  # the default an export of a model without a run applies (eval_crop 0.875)


def keras_scores(model, encoded):
    """What the Keras model says about an encoded image, decoded and preprocessed as evaluation does it."""
    pixels = CONTRACT.apply(tf.io.decode_image(encoded, channels=3))
    return model(tf.cast(pixels, tf.float32)[None], training=False).numpy()[0]
