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

    # deterministic: parallel reads keep their order, so a seeded fine-tuning sees the same batches in every run
    return pipeline.load(dataclasses.replace(DIGITS_DATA, batch_size=32, deterministic=True), one_hot=True)


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


# Where the model's best class leads its second by less than a quantized file's own error, either answer is right:
# agreement is counted on the images where the lead is larger (MARGIN, by the file's kind), and enough of the 64
# must be such images for the figure to mean anything. Random-weight ResNet-18 leads by > 0.05 on ~48 of 64 images
# (its int8 file agreed on 0.98 of them, a broken file on ~0.1); the shallow B0's scores are closer (0.15 vs
# 0.1 for uniform: leads of 0.01-0.02), and so are its files' (int8: 0.0025 at most).
MARGIN = {"float32": 0.0, "float16": 0.002, "dynamic": 0.05, "int8": 0.05, "int8-b0": 0.01}


def agreement(got, expected, margin, least=32):
    """Fraction of the images on which the model's top-1 class leads by more than `margin` where the file's top-1
    is the same class; at least `least` of them must lead by that much (else the check would be vacuous)."""
    ranked = np.sort(expected, -1)
    decisive = ranked[:, -1] - ranked[:, -2] > margin
    assert decisive.sum() >= least, f"only {decisive.sum()} of {len(expected)} images lead by more than {margin}"
    return float(np.mean(np.argmax(got, -1)[decisive] == np.argmax(expected, -1)[decisive]))
