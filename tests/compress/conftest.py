"""Small keras_cls models and the digits data at 32 px for the compression tests."""
import dataclasses

import numpy as np
import pytest

import keras_cls
from keras_cls.bench.digits import DIGITS_DATA
from keras_cls.data.contract import Preprocessing
from tests.conftest import randomize, shallow_b0

SIZE = 32
# The digits batches are already preprocessed at 32 px: with eval_crop 1 the files' contract leaves them as they are.
CONTRACT = Preprocessing.of_data(DIGITS_DATA)


@pytest.fixture(scope="session")
def digits_data():
    from keras_cls.data import pipeline

    return pipeline.load(dataclasses.replace(DIGITS_DATA, batch_size=32), one_hot=True)


@pytest.fixture(scope="session")
def batch(digits_data):
    """A fixed batch of 64 test images, uint8 RGB 32x32, as float32."""
    images = np.concatenate([x.numpy() for x, _ in digits_data.test.take(2)])
    return images[:64].astype(np.float32)


@pytest.fixture(name="shallow_b0")
def shallow_b0_while_testing():
    """B0's name, built shallow while the test runs (tests/conftest.py: shallow_b0)."""
    with shallow_b0() as name:
        yield name


def small(name, seed=3):
    """A random-weight model whose every weight is seeded (kernels too: agreement figures repeat from run to run),
    with random BN statistics and biases: outputs that depend on every weight and differ between images."""
    import keras

    keras.utils.set_random_seed(seed)
    return randomize(keras_cls.build(name, num_classes=10, input_shape=(SIZE, SIZE, 3)), seed=seed)


# TFLite's int8 softmax answers in steps of 1/256: scores of a random-weight model that differ by less are ties.
INT8_STEP = 1 / 256
# A random-weight model rates its best classes within a few hundredths of each other on many images (0.454 vs 0.442
# seen), less than int8's own error on such large logits: where the file picks one of those, it tracks the model.
INT8_NEAR = 0.05


def agreement(got, expected, step=0.0, near=0.0):
    """Fraction of images on which the file tracks the model: the model's top-1 class also scores top in `got`
    within `step` (the output's resolution; a tie quantization made is no disagreement), or the file's top-1 is a
    class the model scores within `near` of its best."""
    top = np.take_along_axis(got, np.argmax(expected, -1)[:, None], -1)[:, 0]
    theirs = np.take_along_axis(expected, np.argmax(got, -1)[:, None], -1)[:, 0]
    return float(np.mean((top >= got.max(-1) - step - 1e-7) | (theirs >= expected.max(-1) - near - 1e-7)))
