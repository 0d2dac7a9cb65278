"""ResNet v1.5 (torchvision's): depth table (data) and one builder.

v1.5 puts the stride in the 3x3 convolution of the bottleneck, has no convolution biases and pads symmetrically
(explicit ZeroPadding2D then 'valid'), so trainable parameter counts equal torchvision's to the parameter and
layer names follow torchvision's state_dict keys with '.' written as '_' (layer1_0_conv1, layer1_0_bn1, ...).
"""
import os
import re
from dataclasses import dataclass
from typing import Tuple

from keras_cls.models import layers as blocks

FAMILY = "resnet"
WEIGHT_SOURCES = ("None, 'imagenet' (= 'torchvision'), 'torchvision', 'timm:<resnetNN.tag>' (e.g. "
                  "'timm:resnet50.a1_in1k'), a PyTorch checkpoint (.safetensors / .pth / .bin) or a Keras weights file")
DEFAULT_RECIPE = "resnet"
# torchvision's ImageNet weights (V1 for ResNet-18/34, V2 for 50/101/152) as timm republishes them on the hub.
TORCHVISION = {"resnet-18": "resnet18.tv_in1k", "resnet-34": "resnet34.tv_in1k", "resnet-50": "resnet50.tv2_in1k",
               "resnet-101": "resnet101.tv2_in1k", "resnet-152": "resnet152.tv2_in1k"}
_TIMM_NAME = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")  # a hub repository below timm/, nothing else
WIDTHS = (64, 128, 256, 512)
BLOCK_NAME = r"^(layer\d_\d+)_"  # a block's layers: layer<stage>_<index>_...
STRIDES = (1, 2, 2, 2)


@dataclass(frozen=True)
class ResNetSpec:
    name: str
    block: str                  # "basic" or "bottleneck"
    repeats: Tuple[int, ...]
    resolution: int = 224
    dropout: float = 0.0
    drop_connect: float = 0.0
    family: str = FAMILY

    @property
    def expansion(self):
        return 4 if self.block == "bottleneck" else 1

    @property
    def imagenet_weights(self):
        """weights="imagenet" is torchvision's checkpoint, published for every depth."""
        return True


SPECS = (
    ResNetSpec("resnet-18", "basic", (2, 2, 2, 2)),
    ResNetSpec("resnet-34", "basic", (3, 4, 6, 3)),
    ResNetSpec("resnet-50", "bottleneck", (3, 4, 6, 3)),
    ResNetSpec("resnet-101", "bottleneck", (3, 4, 23, 3)),
    ResNetSpec("resnet-152", "bottleneck", (3, 8, 36, 3)),
)


def scaled_stages(spec):
    return [{"block": spec.block, "repeats": r, "strides": s, "width": w, "filters_out": w * spec.expansion}
            for r, s, w in zip(spec.repeats, STRIDES, WIDTHS)]


def feature_channels(spec):
    return {f"C{i + 2}": w * spec.expansion for i, w in enumerate(WIDTHS)}


def preprocess(k, x):
    x = k.layers.Rescaling(1.0 / 255.0, name="rescaling")(x)
    return x if x.shape[-1] != 3 else blocks.imagenet_normalization(k, x)


def _stem(k, x):
    x = k.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = blocks.conv_bn_act(k, x, 64, 7, strides=2, padding="valid", name="", activation="relu",
                           bn_momentum=0.9, bn_epsilon=1e-5, kernel_init=blocks.RESNET_CONV_INIT,
                           conv_name="conv1", bn_name="bn1", act_name="relu")
    # Zero padding equals torchvision's -inf padding here: the input is a ReLU output, never negative.
    x = k.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    return k.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)


def backbone(k, spec, inputs, *, weights, drop_connect_rate, features_only):
    """Returns (last feature map, {C2..C5}); the builder adds the head."""
    del weights, features_only  # validated by the builder; every ResNet stage output is a feature level
    block = blocks.bottleneck if spec.block == "bottleneck" else blocks.basic
    x = _stem(k, preprocess(k, inputs))
    total, index, features = sum(spec.repeats), 0, {}
    for i, stage in enumerate(scaled_stages(spec)):
        for j in range(stage["repeats"]):
            x = block(k, x, width=stage["width"], strides=stage["strides"] if j == 0 else 1,
                      drop_rate=drop_connect_rate * index / total, name=f"layer{i + 1}_{j}")
            index += 1
        features[f"C{i + 2}"] = x
    return x, features


def timm_name(spec, weights):
    """The timm checkpoint name a source means for this variant; refuses another architecture."""
    from keras_cls.models.weights import WeightsMismatchError

    name = TORCHVISION[spec.name] if weights in ("torchvision", "imagenet") else str(weights)[len("timm:"):]
    if not _TIMM_NAME.match(name):
        raise WeightsMismatchError(f"{weights!r} is not a timm checkpoint name: expected 'timm:<architecture>.<tag>' "
                                   f"of letters, digits, '_' and '-' (e.g. 'timm:{TORCHVISION[spec.name]}')")
    arch = name.split(".")[0]
    ours = spec.name.replace("-", "")
    if arch != ours:
        raise WeightsMismatchError(
            f"timm checkpoint {name!r} is a {arch!r}, not a {ours!r}: this {spec.name} loads timm names "
            f"'{ours}.<tag>' (e.g. {TORCHVISION[spec.name]!r}); variants with another stem, width or block "
            "(resnet50d, wide_resnet, resnext, ...) are other architectures")
    return name


def torch_module(layer_name):
    """Our layer name -> torchvision's module path: layer1_0_downsample_conv -> layer1.0.downsample.0."""
    layer_name = layer_name.replace("_downsample_conv", ".downsample.0").replace("_downsample_bn", ".downsample.1")
    return re.sub(r"^layer(\d)_(\d+)[_.]", r"layer\1.\2.", layer_name)


def describe(state):
    """What architecture a torchvision-layout state dict is, e.g. 'resnet-34 (basic blocks 3, 4, 6, 3)'."""
    blocks_per_stage, kinds = {}, set()
    for key in state:
        m = re.match(r"^layer(\d)\.(\d+)\.(conv\d)", key)
        if m:
            stage, index = int(m.group(1)), int(m.group(2))
            blocks_per_stage[stage] = max(blocks_per_stage.get(stage, 0), index + 1)
            kinds.add("bottleneck" if m.group(3) == "conv3" else "basic")
    if not blocks_per_stage:
        return f"not a torchvision-layout ResNet (first keys: {', '.join(list(state)[:3])})"
    kind = "bottleneck" if "bottleneck" in kinds else "basic"
    repeats = tuple(blocks_per_stage.get(i, 0) for i in range(1, 5))
    match = next((s.name for s in SPECS if s.block == kind and s.repeats == repeats), "an unknown ResNet")
    return f"{match} ({kind} blocks {', '.join(map(str, repeats))})"


def _hub(weights):
    return weights in ("imagenet", "torchvision") or weights.startswith("timm:")


def check_weights(spec, weights):
    """torchvision's and timm's checkpoints by name (the name checked against this depth), else a local PyTorch
    checkpoint or Keras weights file (see family.Family)."""
    if _hub(weights):
        timm_name(spec, weights)  # refuses another architecture before anything is built
    return _hub(weights)


def fetch_weights(spec, weights, *, full_head):
    """The local file a named source means (timm's safetensors from the hub, downloaded once); None for a file."""
    del full_head  # the checkpoint holds its classifier; loading decides whether it fits
    from keras_cls.models import torch_weights

    return torch_weights.hub_file(timm_name(spec, weights)) if _hub(weights) else None


def load_weights(model, spec, weights, *, full_head, features_only):
    """PyTorch checkpoints (hub names or files) converted tensor by tensor in torchvision's layout (torch_weights);
    Keras weights files by layer name."""
    del full_head, features_only  # the PyTorch loader keeps the checkpoint's head only where it fits
    from keras_cls.models import torch_weights
    from keras_cls.models import weights as weight_files

    layout = torch_weights.Layout(prefix=torch_module, head="fc", describe=describe)
    if _hub(weights):
        path = fetch_weights(spec, weights, full_head=True)
        return torch_weights.load(model, torch_weights.read_state(path), layout, f"timm/{timm_name(spec, weights)}")
    if torch_weights.is_checkpoint_file(weights):
        return torch_weights.load(model, torch_weights.read_state(weights), layout, os.path.basename(weights))
    return weight_files.load(model, os.fspath(weights), weight_files.absent_head(model))


def init_untrained(model, spec):
    """Nothing: an untrained ResNet's normalisation is fixed (ImageNet statistics) at build time."""
