"""The same builder makes a tf_keras twin (what tfmot needs): same parameters, same outputs after copying."""
import numpy as np
import pytest

from keras_cls.models import build
from keras_cls.models.weights import set_layer_weights
from tests.conftest import images, randomize

import tf_keras  # noqa: E402  (the [dev] extra)


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-b0", "efficientnet-lite0", "resnet-18"])
def test_twin_has_same_params_and_outputs(name):
    import keras

    keras.utils.set_random_seed(0)
    ours = randomize(build(name, input_shape=(96, 96, 3), num_classes=10))
    twin = build(name, input_shape=(96, 96, 3), num_classes=10, keras_module=tf_keras)
    assert isinstance(twin, tf_keras.Model)
    assert twin.count_params() == ours.count_params()
    assert [l.name for l in twin.layers if l.weights] == [l.name for l in ours.layers if l.weights]
    for layer in ours.layers:
        if layer.weights:
            set_layer_weights(twin.get_layer(layer.name), layer.get_weights())
    x = images((96, 96))
    expected = ours(x, training=False).numpy()  # class probabilities, the models' output
    np.testing.assert_allclose(twin(x, training=False).numpy(), expected, atol=1e-5, rtol=0)
    assert expected.max() - expected.min() > 0.05  # not a flat distribution: the comparison means something
