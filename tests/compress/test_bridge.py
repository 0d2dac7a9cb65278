"""The Keras 3 <-> tf_keras bridge: same outputs both ways, recipe settings kept, foreign models refused."""
import keras
import numpy as np
import pytest

from keras_cls.compress import NotKerasClsModel, build_args, to_keras, to_tf_keras
from tests.compress.conftest import SIZE, small

import tf_keras  # noqa: E402  (the [compress] extra)


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-b0", "efficientnet-lite0", "resnet-18"])
def test_round_trip_keeps_outputs(name, batch):
    model = small(name)
    for layer in model.layers:  # what the fast recipe does after building
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    twin = to_tf_keras(model)
    assert isinstance(twin, tf_keras.Model) and twin.name == model.name
    expected = model(batch, training=False).numpy()
    assert expected.max() - expected.min() > 0.05  # a spread distribution: the comparison sees the weights
    np.testing.assert_allclose(twin(batch, training=False).numpy(), expected, atol=1e-5, rtol=0)
    assert {layer.momentum for layer in twin.layers if isinstance(layer, tf_keras.layers.BatchNormalization)} == {0.9}
    back = to_keras(twin)
    assert isinstance(back, keras.Model)
    np.testing.assert_allclose(back(batch, training=False).numpy(), expected, atol=1e-5, rtol=0)


def test_build_args_read_from_the_model():
    model = small("resnet-18")
    assert build_args(model) == {"input_shape": (SIZE, SIZE, 3), "num_classes": 10,
                                 "classifier_activation": "softmax", "dropout_rate": 0.0}
    headless = keras.Model(model.input, model.get_layer("avg_pool").output, name="resnet-18")
    assert build_args(headless) == {"input_shape": (SIZE, SIZE, 3), "include_top": False, "pooling": "avg"}


def test_foreign_models_are_refused():
    inputs = keras.Input((SIZE, SIZE, 3))
    plain = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(inputs)), name="mine")
    with pytest.raises(NotKerasClsModel, match="'mine' was not built by keras_cls.build"):
        to_tf_keras(plain)
    model = small("resnet-18")
    extra = keras.Model(model.input, keras.layers.Dense(10, name="extra")(model.output), name="resnet-18")
    with pytest.raises(NotKerasClsModel, match="does not have the layers keras_cls.build makes"):
        to_tf_keras(extra)
