"""A test-only model family: four stride-2 conv-BN-ReLU stages after a stride-2 stem, two rows. It lives outside
the package and is registered with `registry.registered(plainnet)`: the proof that a family is one module."""
import os
from dataclasses import dataclass
from typing import Tuple

from keras_cls.models import layers as blocks

FAMILY = "plainnet"
BLOCK_NAME = r"^(stage\d_\d)_"
WEIGHT_SOURCES = "None or a Keras weights file (.weights.h5)"
DEFAULT_RECIPE = "resnet"
STRIDES = (2, 2, 2, 2)


@dataclass(frozen=True)
class PlainSpec:
    name: str
    widths: Tuple[int, ...]
    resolution: int = 64
    dropout: float = 0.1
    drop_connect: float = 0.0
    family: str = FAMILY
    imagenet_weights: bool = False


SPECS = (PlainSpec("plainnet-s", (8, 16, 24, 32)), PlainSpec("plainnet-m", (16, 32, 48, 64)))


def scaled_stages(spec):
    return [{"repeats": 1, "strides": s, "filters_out": w} for s, w in zip(STRIDES, spec.widths)]


def feature_channels(spec):
    return {f"C{i + 2}": w for i, w in enumerate(spec.widths)}


def backbone(k, spec, inputs, *, weights, drop_connect_rate, features_only):
    del weights, drop_connect_rate, features_only
    x = k.layers.Rescaling(1.0 / 255.0, name="rescaling")(inputs)
    x = blocks.conv_bn_act(k, x, 8, 3, strides=2, name="stem_", activation="relu")
    features = {}
    for i, stage in enumerate(scaled_stages(spec)):
        x = blocks.conv_bn_act(k, x, stage["filters_out"], 3, strides=stage["strides"], name=f"stage{i + 1}_0_",
                               activation="relu")
        features[f"C{i + 2}"] = x
    return x, features


def check_weights(spec, weights):
    if weights == "imagenet":
        raise ValueError(f"no ImageNet weights for {spec.name}; allowed: {WEIGHT_SOURCES}")
    return False


def fetch_weights(spec, weights, *, full_head):
    return None  # no named sources


def load_weights(model, spec, weights, *, full_head, features_only):
    from keras_cls.models import weights as weight_files

    return weight_files.load(model, os.fspath(weights), weight_files.absent_head(model))


def init_untrained(model, spec):
    """Nothing to set."""
