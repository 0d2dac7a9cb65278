"""The graph a SavedModel serves computes what the Keras model computes (keras_cls/export/inference_graph.py);
B0's squeeze-excite and swish are covered by the export tests' shallow B0."""
import collections

import numpy as np
import pytest

import keras_cls
from keras_cls.export.inference_graph import inference_graph
from tests.conftest import randomize


@pytest.mark.parametrize("name", ["resnet-18", "efficientnet-lite0"])  # ReLU and residual Adds; ReLU6, no SE
def test_rewritten_model_computes_the_same(name):
    model = randomize(keras_cls.build(name, num_classes=10, input_shape=(32, 32, 3)), seed=5)
    rewritten = inference_graph(model)
    layers = collections.Counter(type(layer).__name__ for layer in rewritten.layers)
    original = collections.Counter(type(layer).__name__ for layer in model.layers)
    assert layers["BatchNormalization"] == 0 and original["BatchNormalization"] > 0
    convolutions = [layer for layer in rewritten.layers if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D")]
    assert len(convolutions) == original["BatchNormalization"] and all(layer.use_bias for layer in convolutions)
    # padding='same' where it adds what the explicit pad did: ResNet's stride-1 3x3 convolutions, Lite's stride 2;
    # ResNet's symmetric stride-2 pads are not 'same' padding and stay
    assert (original["ZeroPadding2D"], layers["ZeroPadding2D"]) == {"resnet-18": (18, 5),
                                                                    "efficientnet-lite0": (5, 0)}[name]
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    expected = model(x, training=False).numpy()
    assert expected.max() - expected.min() > 0.05  # scores that tell the weights apart
    np.testing.assert_allclose(rewritten(x).numpy(), expected, atol=1e-5, rtol=0)


def test_models_it_cannot_rewrite_pass_through():
    import tf_keras

    twin = keras_cls.build("resnet-18", num_classes=3, input_shape=(32, 32, 3), keras_module=tf_keras)
    assert inference_graph(twin) is twin


def test_onnx_runtime_computes_the_same():
    """bench_serving's ONNX Runtime rows run the same model (onnxruntime and tf2onnx: the [bench] extra)."""
    from keras_cls.bench import onnx

    model = randomize(keras_cls.build("efficientnet-lite0", num_classes=10, input_shape=(32, 32, 3)), seed=6)
    x = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(onnx.session(model, 32)(x), model(x, training=False).numpy(), atol=1e-5, rtol=0)


def test_lite_exports_and_serves_what_keras_computes(tmp_path):
    """EfficientNet-Lite0 (ReLU6, no squeeze-excite) through the SavedModel export: its served graph folded, its
    scores the Keras model's."""
    import tensorflow as tf

    from keras_cls.data.contract import Preprocessing
    from keras_cls.export import saved_model

    model = randomize(keras_cls.build("efficientnet-lite0", num_classes=3, input_shape=(32, 32, 3)), seed=7)
    loaded = tf.saved_model.load(saved_model(model, root=str(tmp_path), class_names=["a", "b", "c"]))
    images = np.random.default_rng(2).integers(0, 256, (2, 50, 40, 3)).astype("uint8")
    expected = model(tf.cast(Preprocessing(32).apply(images), tf.float32), training=False).numpy()
    got = loaded.signatures["serve_images_uint8"](images=tf.constant(images))["scores"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    graph = loaded.signatures["serve_images_uint8"].graph.as_graph_def()
    ops = collections.Counter(n.op for n in list(graph.node) + [n for f in graph.library.function for n in f.node_def])
    assert ops["Rsqrt"] == 0 and ops["Relu6"] > 0 and ops["Conv2D"] + ops["DepthwiseConv2dNative"] == ops["BiasAdd"] - 1
