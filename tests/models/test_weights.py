"""Weight files: legacy .h5 by layer name, Keras 3 .weights.h5, the ImageNet download path, and mismatches."""
import re

import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

from keras_cls.models import build, weights
from tests.conftest import images, randomize

SIZE = (64, 64, 3)


def _legacy_h5(model, path):
    """Write `model`'s weights the way keras.applications' published files are written (legacy HDF5)."""
    import h5py

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return str(path)


def _same_outputs(a, b, size=SIZE[:2]):
    x = images(size)
    np.testing.assert_allclose(a(x, training=False).numpy(), b(x, training=False).numpy(), atol=1e-5, rtol=0)


def test_legacy_h5_loads_by_layer_name(tmp_path):
    source = randomize(keras.applications.EfficientNetB0(weights=None, input_shape=SIZE, classifier_activation=None))
    path = _legacy_h5(source, tmp_path / "b0.h5")
    ours = build("efficientnet-b0", input_shape=SIZE, weights=path, classifier_activation=None)
    _same_outputs(source, ours)


def test_tf_keras_h5_file_loads(tmp_path):
    import tf_keras

    twin = build("efficientnetv2-b0", input_shape=SIZE, keras_module=tf_keras, num_classes=3)
    twin.save_weights(str(tmp_path / "twin.h5"))
    ours = build("efficientnetv2-b0", input_shape=SIZE, weights=str(tmp_path / "twin.h5"), num_classes=3)
    _same_outputs(twin, ours)


def test_notop_file_and_top_file_into_a_model_without_top(tmp_path):
    full = randomize(build("efficientnet-b0", input_shape=SIZE, num_classes=5))
    top = str(tmp_path / "top.weights.h5")
    full.save_weights(top)
    headless = build("efficientnet-b0", input_shape=SIZE, include_top=False, pooling="avg", weights=top)
    np.testing.assert_array_equal(headless.get_layer("top_conv").get_weights()[0],
                                  full.get_layer("top_conv").get_weights()[0])
    notop = str(tmp_path / "notop.weights.h5")
    headless.save_weights(notop)
    pyramid = build("efficientnet-b0", input_shape=SIZE, include_top=False, features_only=True, weights=notop)
    assert np.array_equal(pyramid.get_layer("block7a_project_conv").get_weights()[0],
                          full.get_layer("block7a_project_conv").get_weights()[0])
    fine_tuned = build("efficientnet-b0", input_shape=SIZE, num_classes=7, weights=notop)  # a new head on top
    assert np.array_equal(fine_tuned.get_layer("top_conv").get_weights()[0], full.get_layer("top_conv").get_weights()[0])
    assert fine_tuned.get_layer("predictions").get_weights()[0].shape == (1280, 7)


@pytest.mark.parametrize("fmt", ["h5", "weights.h5"])
@pytest.mark.parametrize("saved,loaded", [("efficientnet-b1", "efficientnet-b0"), ("efficientnet-b0", "efficientnet-b1"),
                                          ("efficientnet-b0", "efficientnetv2-b0")])
def test_file_of_another_variant_names_the_layer(saved, loaded, fmt, tmp_path):
    source = build(saved, input_shape=SIZE)
    path = str(tmp_path / f"w.{fmt}")
    _legacy_h5(source, path) if fmt == "h5" else source.save_weights(path)
    with pytest.raises(weights.WeightsMismatchError, match=r"layer|layers") as e:
        build(loaded, input_shape=SIZE, weights=path)
    assert "'" in str(e.value) and ("another variant" in str(e.value))


def test_another_number_of_classes_gets_a_new_head(tmp_path):
    """A pretrained head is kept only when the class count matches; otherwise the backbone loads under a new head."""
    path = str(tmp_path / "w.weights.h5")
    source = randomize(build("resnet-18", input_shape=SIZE, num_classes=10))
    source.save_weights(path)
    same = build("resnet-18", input_shape=SIZE, num_classes=10, weights=path)
    _same_outputs(source, same)
    other = build("resnet-18", input_shape=SIZE, num_classes=3, weights=path)
    assert np.array_equal(other.get_layer("layer4_1_bn2").get_weights()[3], source.get_layer("layer4_1_bn2").get_weights()[3])
    kernel = other.get_layer("predictions").get_weights()[0]
    assert kernel.shape == (512, 3) and not np.allclose(kernel, source.get_layer("predictions").get_weights()[0][:, :3])


def test_not_a_weights_file(tmp_path):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"this is not hdf5")
    with pytest.raises(weights.WeightsMismatchError, match="not a readable HDF5 weights file"):
        build("resnet-18", input_shape=SIZE, weights=str(path))


def test_failed_load_leaves_nothing_half_set(tmp_path):
    source = randomize(build("efficientnet-b1", input_shape=SIZE, num_classes=10))
    path = str(tmp_path / "w.weights.h5")
    source.save_weights(path)
    target = build("efficientnet-b0", input_shape=SIZE, num_classes=3)
    before = [w.numpy().copy() for w in target.weights]
    with pytest.raises(weights.WeightsMismatchError):
        weights.load(target, path)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, target.weights))


@pytest.fixture
def online(monkeypatch, tmp_path):
    """The download host answers (get_file itself is faked in each test: nothing touches the network)."""
    monkeypatch.setattr(weights, "reachable", lambda url: True)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


def test_imagenet_path_downloads_checksummed_file_and_matches_keras_applications(tmp_path, monkeypatch, online):
    """weights='imagenet' asks keras.utils.get_file for keras.applications' URL and md5; the output equals
    keras.applications' own weights='imagenet' model given the same file (its variance fix included)."""
    source = randomize(keras.applications.EfficientNetB0(weights=None))
    path = _legacy_h5(source, tmp_path / "efficientnetb0.h5")
    calls = []

    def fake_get_file(fname, origin, cache_subdir, file_hash, cache_dir=None):
        calls.append((fname, origin, file_hash))
        return path

    from keras.src.utils import file_utils

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    ours = build("efficientnet-b0", weights="imagenet")
    theirs = keras.applications.EfficientNetB0(weights="imagenet")
    assert calls[0] == ("efficientnetb0.h5", "https://storage.googleapis.com/keras-applications/efficientnetb0.h5",
                        "902e53a9f72be733fc0bcb005b3ebbac")
    assert "rescaling_std" in [l.name for l in ours.layers]
    _same_outputs(theirs, ours, size=(224, 224))


def test_imagenet_backbone_under_a_new_head(tmp_path, monkeypatch, online):
    """weights='imagenet' with another class count loads keras.applications' file without top, then a new head."""
    source = randomize(keras.applications.EfficientNetB0(weights=None, include_top=False, input_shape=SIZE))
    path = _legacy_h5(source, tmp_path / "efficientnetb0_notop.h5")
    calls = []
    monkeypatch.setattr(keras.utils, "get_file", lambda fname, *a, **kw: calls.append(fname) or path)
    ours = build("efficientnet-b0", weights="imagenet", num_classes=4, input_shape=SIZE)
    assert calls == ["efficientnetb0_notop.h5"] and ours.output_shape == (None, 4)
    assert np.array_equal(ours.get_layer("top_bn").get_weights()[2], source.get_layer("top_bn").get_weights()[2])


def test_imagenet_file_for_v2_without_top(monkeypatch, tmp_path, online):
    calls = []
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **kw: calls.append((a, kw)) or "/tmp/x.h5")
    from keras_cls.models import get_spec

    assert weights.imagenet_file(get_spec("EfficientNetV2S"), include_top=False) == "/tmp/x.h5"
    (fname, origin), kwargs = calls[0]
    assert fname == "efficientnetv2-s_notop.h5"
    assert origin == "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-s_notop.h5"
    assert kwargs == {"cache_dir": str(tmp_path / "keras"), "cache_subdir": "models",
                      "file_hash": "af0682fb74e8c54910f2d4393339c070"}


def test_offline_every_named_source_fails_at_once_saying_what_to_get(tmp_path, monkeypatch):
    """No connection (every connect refused here, nothing touches the network): keras.applications' files, the
    hub's ResNet and Lite checkpoints each fail in one line naming the file and where it goes, within seconds, and
    a training run writes nothing before that."""
    import socket
    import time

    from huggingface_hub import constants

    from keras_cls.data import DataConfig
    from keras_cls.train import TrainConfig, Trainer

    def refused(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", refused)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the client would try; the connect check answers first
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    start = time.perf_counter()
    cases = [("efficientnet-b0", f"put it at {tmp_path / 'keras' / 'models' / 'efficientnetb0_notop.h5'}"),
             ("resnet-50", "could not download timm/resnet50.tv2_in1k/model.safetensors"),
             ("efficientnet-lite1", "could not download timm/tf_efficientnet_lite1.in1k/model.safetensors")]
    for name, needle in cases:
        with pytest.raises(weights.WeightsUnavailableError, match=re.escape(needle)):
            build(name, weights="imagenet", include_top=False)
    run_dir = tmp_path / "run"
    trainer = Trainer(TrainConfig(model="efficientnet-b0", weights="imagenet", epochs=1, run_dir=str(run_dir)),
                      DataConfig(source="digits", image_size=32))
    with pytest.raises(weights.WeightsUnavailableError, match="efficientnetb0_notop.h5"):
        trainer.run()
    assert time.perf_counter() - start < 15 and not run_dir.exists()
