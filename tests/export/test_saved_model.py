"""SavedModel export: TF Serving layout, both signatures, same outputs as Keras, weights once, atomic versions."""
import collections
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

import keras_cls
from keras_cls.data.contract import Preprocessing
from keras_cls.export import next_version, saved_model, write_models_config
from tests.export.conftest import CONTRACT, NAMES, jpeg, keras_scores


def test_saved_model_cli_shows_both_signatures(exported):
    path, _ = exported
    cli = shutil.which("saved_model_cli") or os.path.join(os.path.dirname(os.sys.executable), "saved_model_cli")
    text = subprocess.run([cli, "show", "--all", "--dir", path], capture_output=True, text=True, check=True).stdout
    blocks = dict(re.findall(r"signature_def\['(\w+)'\]:(.*?)(?=signature_def\[|\Z)", text, flags=re.S))
    assert {"serving_default", "serve_images", "serve_images_uint8"} <= set(blocks)
    for signature, dtype, shape in (("serving_default", "DT_STRING", r"\(-1\)"),
                                    ("serve_images", "DT_FLOAT", r"\(-1, -1, -1, 3\)"),
                                    ("serve_images_uint8", "DT_UINT8", r"\(-1, -1, -1, 3\)")):
        assert re.search(rf"inputs\['images'\].*?dtype: {dtype}\s+shape: {shape}", blocks[signature], re.S), signature
    for block in (blocks["serving_default"], blocks["serve_images"], blocks["serve_images_uint8"]):
        for output, dtype, shape in (("classes", "DT_INT64", r"\(-1, 2\)"), ("class_names", "DT_STRING", r"\(-1, 2\)"),
                                     ("probabilities", "DT_FLOAT", r"\(-1, 2\)"), ("scores", "DT_FLOAT", r"\(-1, 3\)")):
            assert re.search(rf"outputs\['{output}'\].*?dtype: {dtype}\s+shape: {shape}", block, re.S), output


def test_signatures_match_the_keras_model(model, exported):
    path, _ = exported
    loaded = tf.saved_model.load(path)
    images = [jpeg(1), jpeg(2, (90, 40))]
    out = loaded.signatures["serving_default"](images=tf.constant(images))
    for i, data in enumerate(images):
        expected = keras_scores(model, data)
        np.testing.assert_allclose(out["scores"].numpy()[i], expected, atol=1e-5, rtol=0)
        order = np.argsort(-expected)[:2]
        assert out["classes"].numpy()[i].tolist() == order.tolist()
        assert [n.decode() for n in out["class_names"].numpy()[i]] == [NAMES[j] for j in order]
        np.testing.assert_allclose(out["probabilities"].numpy()[i], expected[order], atol=1e-6)
    batch = np.random.default_rng(3).integers(0, 256, (2, 80, 80, 3)).astype("float32")
    direct = model(tf.cast(CONTRACT.apply(batch), tf.float32), training=False).numpy()
    got = loaded.signatures["serve_images"](images=tf.constant(batch))["scores"].numpy()
    np.testing.assert_allclose(got, direct, atol=1e-5, rtol=0)
    got = loaded.signatures["serve_images_uint8"](images=tf.constant(batch.astype("uint8")))["scores"].numpy()
    np.testing.assert_allclose(got, direct, atol=1e-5, rtol=0)


def test_tf_serving_session_answers_what_the_signature_does(model, exported):
    """keras_cls.export.session runs the version as TF Serving does (a TF1 session, Grappler's and oneDNN's
    rewrites): what bench_serving times there is what the signature and the Keras model compute."""
    from keras_cls.export.session import ServingSession

    path, _ = exported
    batch = np.random.default_rng(4).integers(0, 256, (3, 70, 90, 3)).astype("uint8")
    direct = model(tf.cast(CONTRACT.apply(batch), tf.float32), training=False).numpy()
    session = ServingSession(path, "serve_images_uint8", threads=1)
    out = session(batch)
    session.close()
    assert sorted(out) == ["class_names", "classes", "probabilities", "scores"]
    np.testing.assert_allclose(out["scores"], direct, atol=1e-5, rtol=0)
    assert out["classes"].tolist() == np.argsort(-direct, axis=1)[:, :2].tolist()


def test_each_weight_is_stored_once(model, exported):
    path, _ = exported
    variables = os.path.join(path, "variables")
    stored = sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))
    assert stored <= 1.1 * 4 * model.count_params()


def test_versions_and_models_config(model, exported):
    path, root = exported
    assert path.endswith(os.path.join("efficientnet-b0", "1"))
    assert next_version(os.path.join(root, "efficientnet-b0")) == 2
    with pytest.raises(ValueError, match="versions are never overwritten"):
        saved_model(model, root=str(root), version=1, class_names=NAMES)
    config = open(write_models_config(str(root))).read()
    assert 'name: "efficientnet-b0"' in config and f'base_path: "{os.path.join(root, "efficientnet-b0")}"' in config
    assert 'model_platform: "tensorflow"' in config


def test_failure_while_writing_leaves_no_partial_version(tmp_path, monkeypatch):
    model = keras_cls.build("resnet-18", num_classes=3, input_shape=(32, 32, 3))  # any model: a quick export
    first = saved_model(model, root=str(tmp_path), class_names=NAMES)
    before = sorted(os.listdir(first))
    real_save = tf.saved_model.save

    def save_then_fail(obj, export_dir, signatures=None):
        real_save(obj, export_dir, signatures=signatures)
        os.remove(os.path.join(export_dir, "saved_model.pb"))
        raise OSError("disk full (injected)")

    monkeypatch.setattr(tf.saved_model, "save", save_then_fail)
    (tmp_path / "resnet-18" / ".tmp-999999999-0123abcd-2").mkdir()  # what a killed export left behind
    with pytest.raises(OSError, match="injected"):
        saved_model(model, root=str(tmp_path), class_names=NAMES)
    # no "2", no temporary folder left: neither this one's nor the killed export's
    assert sorted(os.listdir(tmp_path / "resnet-18")) == ["1"]
    assert sorted(os.listdir(first)) == before
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")  # version 1 still serves
    got = tf.saved_model.load(first).signatures["serve_images"](images=tf.constant(x))["scores"].numpy()
    direct = model(tf.cast(Preprocessing(32).apply(x), tf.float32), training=False).numpy()  # default contract
    np.testing.assert_allclose(got, direct, atol=1e-5, rtol=0)


def test_bad_input_to_the_signatures(exported):
    serve = tf.saved_model.load(exported[0]).signatures["serving_default"]
    for bad in (b"not an image at all", b""):
        with pytest.raises(tf.errors.InvalidArgumentError):
            serve(images=tf.constant([bad]))
    tiny = tf.io.encode_png(np.full((1, 1, 3), 200, np.uint8)).numpy()
    huge = tf.io.encode_jpeg(np.zeros((6000, 6000, 3), np.uint8)).numpy()
    out = serve(images=tf.constant([tiny, huge]))
    assert out["scores"].shape == (2, 3) and np.isfinite(out["scores"].numpy()).all()
    empty = serve(images=tf.constant([], dtype=tf.string))
    assert empty["scores"].shape == (0, 3) and empty["class_names"].shape == (0, 2)


def test_export_argument_errors(model, tmp_path):
    with pytest.raises(ValueError, match="2 class names for a model with 3 outputs"):
        saved_model(model, root=str(tmp_path), class_names=["a", "b"])
    with pytest.raises(ValueError, match="must be letters, digits"):
        saved_model(model, root=str(tmp_path), name="../escape")


def _ops(function):
    """Op type -> count in a concrete function's graph and every function it calls."""
    graph = function.graph.as_graph_def()
    nodes = list(graph.node) + [node for f in graph.library.function for node in f.node_def]
    return collections.Counter(node.op for node in nodes)


def test_the_served_graph_is_the_inference_graph(model, exported):
    """What serving speed rests on (keras_cls/export/inference_graph.py), so that a change cannot lose it silently:
    BatchNormalization folded into the convolutions (no rsqrt of variances left; every convolution has its bias),
    swish without tf.nn.silu's custom gradient (no IdentityN), squeeze-excite's 1x1 convolutions as matrix products,
    the stride-2 layers' explicit pads as padding='same' (no Pad); the Keras model's outputs unchanged
    (test_signatures_match_the_keras_model)."""
    path, _ = exported
    ops = _ops(tf.saved_model.load(path).signatures["serve_images"])
    layers = collections.Counter(type(layer).__name__ for layer in model.layers)
    squeeze_excites = layers["Multiply"]  # each: two 1x1 convolutions of one pixel
    convolutions = layers["Conv2D"] + layers["DepthwiseConv2D"] - 2 * squeeze_excites
    assert layers["ZeroPadding2D"] == 5 and ops["Pad"] == 0, ops
    assert ops["Rsqrt"] == ops["FusedBatchNormV3"] == ops["IdentityN"] == 0, ops
    assert ops["Conv2D"] + ops["DepthwiseConv2dNative"] == convolutions == layers["BatchNormalization"], ops
    assert ops["MatMul"] == 2 * squeeze_excites + 1, ops  # and the classifier
    assert ops["BiasAdd"] == convolutions + ops["MatMul"], ops


def test_batching_parameters_come_from_the_curve():
    from keras_cls.export import batching

    # (batch, seconds per call): throughput 100, 180, 250, 260, 262 images/s on 2 cores
    curve = [(1, 0.010), (2, 2 / 180), (4, 4 / 250), (8, 8 / 260), (16, 16 / 262)]
    values = batching.parameters(curve, cores=2)
    assert values == {"max_batch_size": 4, "batch_timeout_micros": 10000, "max_enqueued_batches": 125,
                      "num_batch_threads": 2}  # 4: the first within 10% of 262; 125 batches of 16 ms: 1 s a thread
    text = batching.text(values, curve)
    assert "max_batch_size { value: 4 }\n" in text and "1: 100.0, 2: 180.0" in text
