"""ResNet v1.5 (torchvision's): depth table (data) and one builder.

v1.5 puts the stride in the 3x3 convolution of the bottleneck, has no convolution biases and pads symmetrically
(explicit ZeroPadding2D then 'valid'), so trainable parameter counts equal torchvision's to the parameter and
layer names follow torchvision's state_dict keys with '.' written as '_' (layer1_0_conv1, layer1_0_bn1, ...).
"""
from dataclasses import dataclass
from typing import Tuple

from keras_cls.models import layers as blocks
from keras_cls.models.efficientnet import IMAGENET_MEAN, IMAGENET_STD

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
    family: str = "resnet"

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
    if x.shape[-1] != 3:
        return x
    return k.layers.Normalization(mean=list(IMAGENET_MEAN), variance=[s * s for s in IMAGENET_STD],
                                  name="normalization")(x)


def _stem(k, x):
    x = k.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = blocks.conv_bn_act(k, x, 64, 7, strides=2, padding="valid", name="", activation="relu",
                           bn_momentum=0.9, bn_epsilon=1e-5, kernel_init=blocks.RESNET_CONV_INIT,
                           conv_name="conv1", bn_name="bn1", act_name="relu")
    # Zero padding equals torchvision's -inf padding here: the input is a ReLU output, never negative.
    x = k.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    return k.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)


def build(k, spec, inputs, *, weights, drop_connect_rate, features_only):
    """Returns (last feature map, {C2..C5}); the head is added by the registry."""
    del weights, features_only  # validated by the registry; every ResNet stage output is a feature level
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
