"""PyTorch ResNet checkpoints (torchvision / timm layout) into our ResNets: every tensor in its place, or a clear error.
(The .pth reader itself: test_torch_pickle.py.)

The checkpoints are written here in torchvision's exact key layout and shapes (enumerated below from its
architecture, not from our code); where torch and torchvision are installed, a test compares logits with
torchvision's own forward pass.
"""
import os

import numpy as np
import pytest

from keras_cls.models import build, get_spec, resnet, torch_weights
from keras_cls.models.weights import WeightsMismatchError
from tests.conftest import images

SIZE = (64, 64, 3)
BN = ("weight", "bias", "running_mean", "running_var")


def torchvision_layout(block, repeats, num_classes=1000):
    """{key: shape} of torchvision.models.resnet's state_dict (v1.5), from its architecture."""
    expansion = 4 if block == "bottleneck" else 1
    out = {}

    def conv(key, o, i, k):
        out[f"{key}.weight"] = (o, i, k, k)

    def bn(key, c):
        out.update({f"{key}.{p}": (c,) for p in BN})
        out[f"{key}.num_batches_tracked"] = ()

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    inplanes = 64
    for stage, (n, width) in enumerate(zip(repeats, (64, 128, 256, 512)), 1):
        for b in range(n):
            p = f"layer{stage}.{b}"
            convs = [(width, inplanes, 3), (width, width, 3)] if block == "basic" else \
                [(width, inplanes, 1), (width, width, 3), (width * expansion, width, 1)]
            for i, (o, c, k) in enumerate(convs, 1):
                conv(f"{p}.conv{i}", o, c if i > 1 else inplanes, k)
                bn(f"{p}.bn{i}", o)
            if b == 0 and (stage > 1 or inplanes != width * expansion):
                conv(f"{p}.downsample.0", width * expansion, inplanes, 1)
                bn(f"{p}.downsample.1", width * expansion)
            inplanes = width * expansion
    out["fc.weight"], out["fc.bias"] = (num_classes, inplanes), (num_classes,)
    return out


def random_state(layout, seed=0):
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in layout.items():
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(100, np.int64)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            state[key] = (rng.normal(0, 1, shape) / np.sqrt(fan_in)).astype(np.float32)
    return state


def save(state, path):
    from safetensors.numpy import save_file

    save_file(state, str(path))
    return str(path)


def our_layer(key):
    """Where torchvision's module lands in our model (names are its paths with '.' -> '_')."""
    module = key.rsplit(".", 1)[0]
    module = module.replace("downsample.0", "downsample_conv").replace("downsample.1", "downsample_bn")
    return "predictions" if module == "fc" else module.replace(".", "_")


def assert_every_tensor_in_place(model, state):
    placed = 0
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        layer = model.get_layer(our_layer(key))
        param = key.rsplit(".", 1)[1]
        if type(layer).__name__ == "BatchNormalization":
            ours = layer.get_weights()[BN.index(param)]
        elif type(layer).__name__ == "Dense":
            ours = layer.get_weights()[0].T if param == "weight" else layer.get_weights()[1]
        else:
            ours = layer.get_weights()[0].transpose(3, 2, 0, 1)  # HWIO -> OIHW
        np.testing.assert_array_equal(ours, value, err_msg=key)
        placed += value.size
    assert placed == sum(w.size for l in model.layers if type(l).__name__ != "Normalization" for w in l.get_weights())


@pytest.mark.parametrize("name,block,repeats,prefix", [("resnet-18", "basic", (2, 2, 2, 2), ""),
                                                       ("resnet-50", "bottleneck", (3, 4, 6, 3), "module.")])
def test_torchvision_layout_lands_tensor_for_tensor(name, block, repeats, prefix, tmp_path):
    """Every tensor of torchvision's layout in its place; 'module.' (saved from DataParallel) is dropped."""
    state = random_state(torchvision_layout(block, repeats))
    path = save({prefix + k: v for k, v in state.items()}, tmp_path / "tv.safetensors")
    assert_every_tensor_in_place(build(name, weights=path, input_shape=SIZE), state)


def test_new_head_for_another_class_count_and_no_head(tmp_path):
    state = random_state(torchvision_layout("basic", (2, 2, 2, 2)))
    path = save(state, tmp_path / "tv.safetensors")
    model = build("resnet-18", weights=path, num_classes=10, input_shape=SIZE)
    assert model.output_shape == (None, 10)
    np.testing.assert_array_equal(model.get_layer("layer4_1_bn2").get_weights()[3], state["layer4.1.bn2.running_var"])
    headless = build("resnet-18", weights=path, include_top=False, pooling="avg", input_shape=SIZE)
    assert headless.output_shape == (None, 512)
    without_fc = save({k: v for k, v in state.items() if not k.startswith("fc.")}, tmp_path / "nofc.safetensors")
    assert build("resnet-18", weights=without_fc, num_classes=1000, input_shape=SIZE).output_shape == (None, 1000)


def test_another_depth_is_refused_by_name_and_nothing_is_half_loaded(tmp_path):
    path = save(random_state(torchvision_layout("basic", (3, 4, 6, 3))), tmp_path / "r34.safetensors")
    with pytest.raises(WeightsMismatchError, match=r"checkpoint is resnet-34 \(basic blocks 3, 4, 6, 3\), "
                                                   r"the model is resnet-50"):
        build("resnet-50", weights=path, input_shape=SIZE)
    target = build("resnet-18", input_shape=SIZE)
    before = [w.numpy().copy() for w in target.weights]
    with pytest.raises(WeightsMismatchError, match=r"resnet-34.*the model is resnet-18"):
        resnet.load_weights(target, get_spec("resnet-18"), path, full_head=True, features_only=False)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, target.weights))


def test_extra_tensors_are_listed(tmp_path):
    state = random_state(torchvision_layout("basic", (2, 2, 2, 2)))
    state["layer5.0.conv1.weight"] = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(WeightsMismatchError, match=r"1 tensor\(s\) have no place in resnet-18, first layer5.0.conv1"):
        build("resnet-18", weights=save(state, tmp_path / "x.safetensors"), input_shape=SIZE)


def test_files_that_are_not_checkpoints(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all")
    with pytest.raises(WeightsMismatchError, match="not a readable safetensors file"):
        build("resnet-18", weights=str(junk), input_shape=SIZE)
    pickle = tmp_path / "model.pth"
    pickle.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="model.pth: not a PyTorch checkpoint"):  # read without torch
        build("resnet-18", weights=str(pickle), input_shape=SIZE)


def _hub_cache(root, repo, path):
    """The Hugging Face hub client's cache layout, as a download leaves it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    (folder / "snapshots" / commit).mkdir(parents=True)
    os.replace(path, folder / "snapshots" / commit / "model.safetensors")


def test_hub_names_resolve_through_the_hub_client_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    state = random_state(torchvision_layout("basic", (2, 2, 2, 2)))
    _hub_cache(tmp_path / "hub", "timm/resnet18.tv_in1k", save(state, tmp_path / "m.safetensors"))
    for source in ("torchvision", "imagenet", "timm:resnet18.tv_in1k"):
        assert_every_tensor_in_place(build("resnet-18", weights=source, input_shape=SIZE), state)
    with pytest.raises(torch_weights.WeightsUnavailableError,
                       match=r"could not download timm/resnet18.a1_in1k/model.safetensors.*pass the file's path"):
        build("resnet-18", weights="timm:resnet18.a1_in1k", input_shape=SIZE)


def test_torchvision_is_the_default_imagenet_checkpoint():
    assert resnet.timm_name(get_spec("resnet-50"), "torchvision") == "resnet50.tv2_in1k"
    assert resnet.timm_name(get_spec("resnet-18"), "imagenet") == "resnet18.tv_in1k"


@pytest.mark.parametrize("name", ["resnet-18", "resnet-50"])
def test_logits_equal_torchvision_forward_pass(name, tmp_path):
    torch = pytest.importorskip("torch", reason="needs torch + torchvision to run torchvision's own forward pass")
    models = pytest.importorskip("torchvision.models", reason="needs torchvision (with torch) to run its forward pass")
    from keras_cls.models.efficientnet import IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(0)
    theirs = getattr(models, name.replace("-", ""))(weights=None).eval()
    for module in theirs.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.running_var, 0.5, 2.0)
            torch.nn.init.normal_(module.running_mean, 0, 0.1)
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.normal_(module.bias, 0, 0.1)
    path = save({k: v.numpy() for k, v in theirs.state_dict().items()}, tmp_path / "tv.safetensors")
    ours = build(name, weights=path, input_shape=SIZE, classifier_activation=None)
    x = images(SIZE[:2])
    normalized = (x / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(normalized.transpose(0, 3, 1, 2).astype(np.float32))).numpy()
    assert np.abs(np.asarray(ours(x, training=False)) - expected).max() <= 1e-4
