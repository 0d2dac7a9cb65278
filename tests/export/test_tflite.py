"""TFLite float32 export: the serve_images contract, outputs within 1e-4 of Keras, written whole or not at all."""
import os

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_cls.export import TFLiteModel, tflite
from keras_cls.files import write_bytes
from tests.export.conftest import CONTRACT, NAMES, jpeg, keras_scores

import ai_edge_litert as lite  # noqa: E402  (keras_cls[serving]; `make test` installs it)


def test_signature_has_the_serving_contract(tflite_file):
    runner = TFLiteModel(tflite_file).runner
    assert runner.get_input_details()["images"]["dtype"] == np.float32
    assert sorted(runner.get_output_details()) == ["class_names", "classes", "probabilities", "scores"]


def test_outputs_match_the_keras_model(model, tflite_file):
    lite_model = TFLiteModel(tflite_file)
    batch = np.random.default_rng(5).uniform(0, 255, (3, 90, 70, 3)).astype("float32")  # any size: resized inside
    expected = model(tf.cast(CONTRACT.apply(batch), tf.float32), training=False).numpy()
    out = lite_model(batch)
    np.testing.assert_allclose(out["scores"], expected, atol=1e-4, rtol=0)
    assert out["classes"].tolist() == np.argsort(-expected, axis=1)[:, :2].tolist()
    assert [[n.decode() for n in row] for row in out["class_names"]] == [[NAMES[i] for i in row]
                                                                         for row in out["classes"]]
    images = [jpeg(6), jpeg(7, (30, 120))]
    by_bytes = lite_model.classify_bytes(images)
    for i, data in enumerate(images):
        np.testing.assert_allclose(by_bytes["scores"][i], keras_scores(model, data), atol=1e-4, rtol=0)


def test_bad_input_is_a_clear_error(tflite_file):
    lite_model = TFLiteModel(tflite_file)
    for bad, message in ((np.zeros((0, 64, 64, 3)), "empty batch"), (np.zeros((64, 64, 3)), r"\(batch, height"),
                         (np.zeros((1, 64, 64, 1)), r"\(batch, height"), (np.zeros((1, 0, 64, 3)), r"\(batch, height")):
        with pytest.raises(ValueError, match=message):
            lite_model(bad)
    with pytest.raises(tf.errors.InvalidArgumentError):
        lite_model.classify_bytes([b"not an image"])
    with pytest.raises(ValueError, match="no images"):
        lite_model.classify_bytes([])


def test_other_tflite_files_are_refused(tmp_path):
    inputs = keras.Input((4,), name="features")
    other = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    path = tmp_path / "other.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(other).convert())
    with pytest.raises(ValueError, match="not a keras_cls TFLite classifier"):
        TFLiteModel(str(path))


def test_a_failed_write_keeps_the_previous_file(model, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="must end with .tflite"):
        tflite(model, str(tmp_path / "model.lite"))
    target = tmp_path / "b0.tflite"
    write_bytes(str(target), b"version 1")
    with pytest.raises(TypeError):
        write_bytes(str(target), "half written: str is not bytes")  # refused before writing
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("rename refused (injected)")))
    with pytest.raises(OSError, match="injected"):
        write_bytes(str(target), b"version 2")  # fails after the write, before the rename
    assert target.read_bytes() == b"version 1" and os.listdir(tmp_path) == ["b0.tflite"]
