"""Small keras_cls models and the digits data at 32 px for the compression tests."""
import dataclasses

import numpy as np
import pytest

import keras_cls
from keras_cls.bench.digits import DIGITS_DATA
from tests.conftest import randomize

SIZE = 32


@pytest.fixture(scope="session")
def digits_data():
    from keras_cls.data import pipeline

    return pipeline.load(dataclasses.replace(DIGITS_DATA, batch_size=32), one_hot=True)


@pytest.fixture(scope="session")
def batch(digits_data):
    """A fixed batch of 64 test images, uint8 RGB 32x32, as float32."""
    images = np.concatenate([x.numpy() for x, _ in digits_data.test.take(2)])
    return images[:64].astype(np.float32)


def small(name):
    # Random BN statistics and biases: outputs that depend on every weight and differ between images.
    return randomize(keras_cls.build(name, num_classes=10, input_shape=(SIZE, SIZE, 3)), seed=3)


def agreement(a, b):
    """Fraction of images whose top-1 class is the same under two sets of scores."""
    return float(np.mean(np.argmax(a, -1) == np.argmax(b, -1)))
