"""ResNet v1.5 (torchvision's): depth table (data) and one builder.

v1.5 puts the stride in the 3x3 convolution of the bottleneck, has no convolution biases and pads symmetrically
(explicit ZeroPadding2D then 'valid'), so trainable parameter counts equal torchvision's to the parameter and
layer names follow torchvision's state_dict keys with '.' written as '_' (layer1_0_conv1, layer1_0_bn1, ...).
"""
import os
from dataclasses import dataclass
from typing import Tuple

from keras_cls.models import layers as blocks

FAMILY = "resnet"
WEIGHT_SOURCES = ("None, 'imagenet' (= 'torchvision'), 'torchvision', 'timm:<resnetNN.tag>' (e.g. "
                  "'timm:resnet50.a1_in1k'), a PyTorch checkpoint (.safetensors / .pth / .bin) or a Keras weights file")
DEFAULT_RECIPE = "resnet"
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


def check_weights(spec, weights):
    """torchvision's and timm's checkpoints by name (the name checked against this depth), else a local PyTorch
    checkpoint or Keras weights file (see family.Family)."""
    from keras_cls.models import torch_weights

    hub = weights in ("imagenet", "torchvision") or weights.startswith("timm:")
    if hub:
        torch_weights.timm_name(spec, weights)  # refuses another architecture before anything is built
    return hub


def load_weights(model, spec, weights, *, full_head, features_only):
    """PyTorch checkpoints converted tensor by tensor (torch_weights.py); Keras weights files by layer name."""
    del full_head, features_only  # the PyTorch loader keeps the checkpoint's head only where it fits
    from keras_cls.models import torch_weights
    from keras_cls.models import weights as weight_files

    if torch_weights.is_torch_source(weights) or weights == "imagenet":
        return torch_weights.load(model, spec, weights, SPECS)
    return weight_files.load(model, os.fspath(weights), weight_files.absent_head(model))


def init_untrained(model, spec):
    """Nothing: an untrained ResNet's normalisation is fixed (ImageNet statistics) at build time."""
