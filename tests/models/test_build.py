"""Options of build(): heads, pooling, feature pyramids, dynamic sizes, precision policies, saving, bad input."""
import keras
import numpy as np
import pytest

from keras_cls.models import build, flops, get_spec, list_models, model_info, registry
from tests.conftest import images
from tests.models.test_parity import APPS, check_counts


# The EfficientNets keras.applications has are built, counted and compared output for output in test_parity.py
# (one build each, at a small odd size: the counts are checked at any size); these are the others.
@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_models() if n not in APPS])
def test_every_variant_builds_with_exact_counts(name, reference):
    """The shared harness: each variant at its default resolution, counted from its layers and analytically."""
    model = build(name)
    check_counts(model, name, None, reference)
    assert model.input_shape == (None, reference[name]["resolution"], reference[name]["resolution"], 3)


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-b0", "resnet-18"])
def test_forward_pass_is_a_distribution(name):
    model = build(name, input_shape=(64, 64, 3), num_classes=7)
    probs = model(images((64, 64)), training=False).numpy()
    assert probs.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("pooling,shape", [(None, (None, 2, 2, 512)), ("avg", (None, 512)), ("max", (None, 512))])
def test_no_top_pooling(pooling, shape):
    model = build("resnet-18", include_top=False, pooling=pooling, input_shape=(64, 64, 3))
    assert model.output_shape == shape
    assert not any(l.name == "predictions" for l in model.layers)
    assert model.count_params() == flops.count("resnet-18", include_top=False).params


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-s", "resnet-50"])
def test_features_only_pyramid(name):
    model = build(name, include_top=False, features_only=True, input_shape=(128, 128, 3))
    channels = model_info(name)["feature_channels"]
    assert sorted(model.output) == ["C2", "C3", "C4", "C5"]
    for level, tensor in model.output.items():
        stride = 2 ** int(level[1])
        assert tuple(tensor.shape) == (None, 128 // stride, 128 // stride, channels[level])
    out = model(images((128, 128)), training=False)
    assert out["C5"].shape == (2, 4, 4, channels["C5"])


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-b0", "resnet-18"])
def test_dynamic_input_size(name):
    model = build(name, input_shape=(None, None, 3), num_classes=5)
    for size in ((64, 64), (97, 131)):
        assert model(images(size), training=False).shape == (2, 5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("kwargs", [{}, {"include_top": False, "pooling": "avg"},
                                    {"include_top": False, "features_only": True}])
def test_mixed_precision_keeps_float32_variables_and_outputs(policy, kwargs):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build("efficientnet-b0", input_shape=(64, 64, 3), **kwargs)
        assert {v.dtype for v in model.weights if "float" in v.dtype} == {"float32"}
        compute = {l.dtype_policy.compute_dtype for l in model.layers if type(l).__name__ == "Conv2D"}
        assert compute == {policy.split("_")[1]}
        out = model(images((64, 64)), training=False)
        for tensor in (out.values() if isinstance(out, dict) else [out]):
            assert tensor.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-b0", "resnet-18"])
def test_keras_file_round_trip_in_safe_mode(name, tmp_path):
    model = build(name, input_shape=(64, 64, 3), num_classes=4)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    x = images((64, 64))
    np.testing.assert_array_equal(loaded(x, training=False).numpy(), model(x, training=False).numpy())


def test_stochastic_depth_and_dropout_are_configurable():
    default = build("efficientnet-b0", input_shape=(64, 64, 3))
    drops = [l.rate for l in default.layers if l.name.endswith("_drop")]
    assert drops and max(drops) < 0.2 and default.get_layer("top_dropout").rate == 0.2
    off = build("efficientnet-b0", input_shape=(64, 64, 3), dropout_rate=0.0, drop_connect_rate=0.0)
    assert not any(type(l).__name__ == "Dropout" for l in off.layers)
    resnet = build("resnet-18", input_shape=(64, 64, 3), drop_connect_rate=0.1, dropout_rate=0.3)
    assert resnet.get_layer("top_dropout").rate == 0.3
    # stochastic depth grows linearly with the block's index (of 8): none on the first block, 0.1 x 7/8 on the last
    rates = {l.name: l.rate for l in resnet.layers if l.name.endswith("_drop")}
    blocks = [f"layer{i}_{j}_drop" for i in range(1, 5) for j in range(2)]
    assert list(rates) == blocks[1:] and rates == pytest.approx({b: 0.1 * k / 8 for k, b in enumerate(blocks) if k})
    assert all(resnet.get_layer(b).noise_shape == (None, 1, 1, 1) for b in rates)  # whole branches per example


def test_resnet_layer_names_follow_torchvision():
    model = build("resnet-50", input_shape=(64, 64, 3))
    names = {l.name for l in model.layers if l.weights}
    for expected in ("conv1", "bn1", "layer1_0_conv1", "layer1_0_downsample_conv", "layer3_5_bn3", "predictions"):
        assert expected in names
    assert "layer1_1_downsample_conv" not in names
    # v1.5: the stride sits in the 3x3 conv of the first block of a stage
    assert model.get_layer("layer2_0_conv2").strides == (2, 2) and model.get_layer("layer2_0_conv1").strides == (1, 1)


@pytest.mark.parametrize("kwargs,message", [
    ({"name": "efficientnet-b8"}, r"unknown model name 'efficientnet-b8'; did you mean efficientnet-b"),
    ({"input_shape": (31, 64, 3)}, r"too small.*at least 32 px"),
    ({"input_shape": (64, 64)}, r"\(height, width, channels\)"),
    ({"input_shape": (64, 64, 0)}, r"channels"),
    ({"num_classes": 0}, r"num_classes must be an integer >= 1"),
    ({"num_classes": True}, r"num_classes must be an integer >= 1"),
    ({"num_classes": 3.0}, r"num_classes must be an integer >= 1"),
    ({"include_top": False, "num_classes": 5}, r"include_top=False builds no classifier: num_classes"),
    ({"include_top": False, "classifier_activation": None}, r"include_top=False builds no classifier"),
    ({"features_only": True}, r"features_only=True .* include_top=False"),
    ({"include_top": False, "pooling": "mean"}, r"pooling must be one of"),
    ({"dropout_rate": 1.5}, r"dropout_rate must be in \[0, 1\)"),
    ({"weights": "/no/such/file.h5"}, r"neither a known source nor an existing file; allowed for efficientnet-b0: "
                                      r"None, 'imagenet'"),
    ({"weights": 3}, r"weights must be a string or path"),
    ({"weights": "torchvision"}, r"are PyTorch weights, which efficientnet-b0 does not load; allowed: None"),
    ({"name": "resnet-50", "weights": "timm:resnet50d.ra2_in1k"}, r"is a 'resnet50d', not a 'resnet50'"),
    ({"name": "resnet-50", "weights": "timm:resnet18.a1_in1k"}, r"is a 'resnet18', not a 'resnet50'"),
    ({"name": "resnet-50", "weights": "timm:resnet50.a1_in1k/../../x"}, r"is not a timm checkpoint name"),
    ({"name": "resnet-50", "weights": "timm:resnet50"}, r"is not a timm checkpoint name"),
    ({"name": "resnet-50", "weights": "/no/such/file.safetensors"}, r"allowed for resnet-50: None, 'imagenet'"),
    ({"name": "efficientnetv2-xl", "weights": "imagenet"}, r"no ImageNet weights are published"),
])
def test_bad_input_is_a_clear_value_error(kwargs, message):
    kwargs = {"name": "efficientnet-b0", **kwargs}
    with pytest.raises(ValueError, match=message):
        build(kwargs.pop("name"), **kwargs)


def test_numpy_integers_are_class_counts():
    assert build("resnet-18", num_classes=np.int64(3), input_shape=(32, 32, 3)).output_shape == (None, 3)


def test_weights_need_three_channels(tmp_path):
    path = tmp_path / "w.weights.h5"
    build("efficientnet-b0", input_shape=(64, 64, 3)).save_weights(path)
    with pytest.raises(ValueError, match=r"has 1 channels; allowed: 3 \(RGB\), as the weights need"):
        build("efficientnet-b0", input_shape=(64, 64, 1), weights=str(path))
    assert build("resnet-18", input_shape=(64, 64, 1), num_classes=3).output_shape == (None, 3)


def test_a_family_is_one_module(tmp_path):
    """A family outside the package (tests/models/plainnet.py), registered by one call, gets what the others have:
    names, building, counts, feature maps, fine-tuning units, the tf_keras twin, weight files and its recipe."""
    from keras_cls.compress.bridge import to_tf_keras
    from keras_cls.models.building import backbone_units
    from keras_cls.train import recipes
    from tests.models import plainnet

    with pytest.raises(ValueError, match="not a spec row of a registered family"):
        build(plainnet.SPECS[0])
    with registry.registered(plainnet):
        assert list_models("plainnet") == ["plainnet-s", "plainnet-m"]
        model = build("PlainNet_S", num_classes=3)
        info = model_info("plainnet-s")  # counted analytically with the 1000-class head
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert info["trainable_params"] == trainable - 3 * 33 + 1000 * 33 == flops.count("plainnet-s").trainable
        assert info["feature_channels"] == {"C2": 8, "C3": 16, "C4": 24, "C5": 32}
        features = build(plainnet.SPECS[1], include_top=False, features_only=True)
        assert {k: tuple(v.shape[1:]) for k, v in features.output.items()} == {
            "C2": (16, 16, 16), "C3": (8, 8, 32), "C4": (4, 4, 48), "C5": (2, 2, 64)}
        assert [unit for unit, _ in backbone_units(model)] == ["stem", "stage1_0", "stage2_0", "stage3_0", "stage4_0"]
        x = images((64, 64))
        np.testing.assert_allclose(to_tf_keras(model)(x, training=False), model(x, training=False), atol=1e-5)
        model.save_weights(tmp_path / "plain.weights.h5")
        loaded = build("plainnet-s", num_classes=3, weights=tmp_path / "plain.weights.h5")
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)))
        with pytest.raises(ValueError, match="no ImageNet weights for plainnet-s; allowed: None or a Keras weights"):
            build("plainnet-s", weights="imagenet")
        default = registry.family_module(get_spec("plainnet-m")).DEFAULT_RECIPE
        assert recipes.resolve("auto", default).optimizer == "sgd"
    with pytest.raises(ValueError, match="unknown model name 'plainnet-s'"):
        get_spec("plainnet-s")
