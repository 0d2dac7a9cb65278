"""Name -> (builder, spec row); `build`, `list_models`, `model_info`. Errors name what is allowed."""
import contextlib
import difflib
import json
import logging
import numbers
import os
import re
import sys

import numpy as np

from keras_cls.models import efficientnet, resnet
from keras_cls.models.family import check as check_family
from keras_cls.models import layers as blocks

FAMILIES = {name: check_family(name, module)
            for name, module in (("efficientnet", efficientnet), ("resnet", resnet))}
MIN_SIZE = 32
POOLINGS = (None, "avg", "max")
_REFERENCE = os.path.join(os.path.dirname(__file__), "reference.json")


def _canonical(name):
    return re.sub(r"[\s_\-]", "", str(name).lower())


def _register(specs):
    table = {}
    for spec in specs:
        key = _canonical(spec.name)
        if key in table:
            raise ValueError(f"duplicate model name {spec.name!r} (clashes with {table[key].name!r})")
        table[key] = spec
    return table


_SPECS = _register(efficientnet.SPECS + resnet.SPECS)


def list_models(family=None):
    """All variant names, optionally of one family ('efficientnet' or 'resnet')."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; allowed: {sorted(FAMILIES)}")
    return [s.name for s in _SPECS.values() if family in (None, s.family)]


def get_spec(name):
    """The spec row of a variant; names match case-insensitively, with '-', '_' or no separator."""
    spec = _SPECS.get(_canonical(name))
    if spec is None:
        names = list_models()
        by_key = {_canonical(n): n for n in names}
        near = [by_key[k] for k in difflib.get_close_matches(_canonical(name), by_key, n=3, cutoff=0.5)]
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ValueError(f"unknown model name {name!r}{hint} Allowed: {', '.join(names)}")
    return spec


def family_module(spec):
    return FAMILIES[spec.family]


def reference(name):
    """Published figures for a variant (models.json): parameter counts, GMACs, ImageNet top-1."""
    with open(_REFERENCE) as f:
        return json.load(f)["models"][get_spec(name).name]


HEAD_LAYERS = ("avg_pool", "max_pool", "top_dropout", "predictions")


def backbone_units(model):
    """The backbone of a built model as [(unit, [layers])] from input to top: 'stem', each block ('layer3_1',
    'block6c', ...), and 'top' (EfficientNet's last convolution). The head (pooling, dropout, classifier) is left
    out. Fine-tuning unfreezes and rates these units from the top."""
    pattern = re.compile(family_module(get_spec(model.name)).BLOCK_NAME)
    units = [("stem", [])]
    for layer in model.layers:
        if layer.name in HEAD_LAYERS or layer.name.endswith("_float32"):
            continue
        match = pattern.match(layer.name)
        unit = match.group(1) if match else "stem" if len(units) == 1 else "top"
        if unit != units[-1][0]:
            units.append((unit, []))
        units[-1][1].append(layer)
    return units


def _validate(spec, *, num_classes, input_shape, include_top, weights, pooling, features_only, dropout_rate,
              drop_connect_rate):
    if features_only and (include_top or pooling):
        raise ValueError("features_only=True returns the C2-C5 feature maps: pass include_top=False and pooling=None")
    if include_top and (not isinstance(num_classes, int) or num_classes < 1):
        raise ValueError(f"num_classes must be an integer >= 1 with include_top=True, got {num_classes!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    for label, rate in (("dropout_rate", dropout_rate), ("drop_connect_rate", drop_connect_rate)):
        if rate is not None and not 0 <= rate < 1:
            raise ValueError(f"{label} must be in [0, 1), got {rate!r}")
    check_weights(spec, weights)
    _check_shape(spec, input_shape, weights)


def _check_training_options(bn_momentum, sync_bn, zero_init_residual):
    if bn_momentum is not None and (isinstance(bn_momentum, bool) or not isinstance(bn_momentum, numbers.Real)
                                    or not 0 <= bn_momentum < 1):
        raise ValueError(f"bn_momentum must be a number in [0, 1) (or None for the variant's own), got "
                         f"{bn_momentum!r}")
    for label, flag in (("sync_bn", sync_bn), ("zero_init_residual", zero_init_residual)):
        if not isinstance(flag, bool):
            raise ValueError(f"{label} must be True or False, got {flag!r}")


WEIGHT_SOURCES = {
    "efficientnet": "None, 'imagenet' (keras.applications' files) or a Keras weights file (.h5 / .weights.h5)",
    "resnet": "None, 'imagenet' (= 'torchvision'), 'torchvision', 'timm:<resnetNN.tag>' (e.g. "
              "'timm:resnet50.a1_in1k'), a PyTorch checkpoint (.safetensors / .pth / .bin) or a Keras weights file",
}


def check_weights(spec, weights):
    """Refuse a weights source this variant cannot load (before anything is built or written)."""
    from keras_cls.models import torch_weights

    allowed = f"allowed for {spec.name}: {WEIGHT_SOURCES[spec.family]}"
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights must be a string or path, got {weights!r}; {allowed}")
    weights = os.fspath(weights)
    if weights == "imagenet" and not spec.imagenet_weights:
        raise ValueError(f"no ImageNet weights are published for {spec.name!r}; EfficientNet B0-B7 and "
                         "V2 B0-B3/S/M/L have them (keras.applications). Pass weights=None or a file path.")
    hub = weights in ("imagenet", "torchvision") or weights.startswith("timm:")
    if torch_weights.is_torch_source(weights) and spec.family != "resnet":
        raise ValueError(f"weights={weights!r} are PyTorch ResNet weights; {allowed}")
    if hub and spec.family == "resnet":
        torch_weights.timm_name(spec, weights)  # refuses another architecture before anything is built
    elif not hub and not os.path.isfile(weights):
        raise ValueError(f"weights {weights!r} is neither a known source nor an existing file; {allowed}")


def _check_shape(spec, input_shape, weights):
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    height, width, channels = input_shape
    for side in (height, width):
        if side is not None and side < MIN_SIZE:
            raise ValueError(f"input_shape {tuple(input_shape)} is too small: height and width must be at least "
                             f"{MIN_SIZE} px (or None); {spec.name} defaults to {spec.resolution}")
    if channels is None or channels < 1 or (weights is not None and channels != 3):
        allowed = "3 (RGB), as the weights need" if weights is not None else "at least 1 (RGB = 3)"
        raise ValueError(f"input_shape {tuple(input_shape)} has {channels} channels; allowed: {allowed}")


def _float32(k, x, name):
    """Outputs stay float32 under a mixed precision policy (ARCHITECTURE.md, decision 5)."""
    if k.mixed_precision.global_policy().compute_dtype == "float32":
        return x
    return k.layers.Activation("linear", dtype="float32", name=name + "_float32")(x)


def _head(k, x, features, *, num_classes, include_top, pooling, classifier_activation, dropout_rate,
          features_only):
    if features_only:
        return {level: _float32(k, t, level) for level, t in features.items()}
    if include_top:
        x = k.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = k.layers.Dropout(dropout_rate, name="top_dropout")(x)
        return k.layers.Dense(num_classes, activation=classifier_activation, kernel_initializer=blocks.DENSE_INIT,
                              dtype="float32", name="predictions")(x)
    if pooling == "avg":
        x = k.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = k.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return _float32(k, x, "features")


def _droppable(spec, include_top, features_only):
    """Head layers of a full model that this one lacks: a weights file may hold them."""
    head = [] if include_top else [("predictions", "Dense")]
    if features_only and spec.family == "efficientnet":
        head += [("top_conv", "Conv2D"), ("top_bn", "BatchNormalization")]
    return head


def _load_weights(model, spec, weights, include_top, num_classes, features_only):
    """Load a weights source into the model; the pretrained head only when the class count matches."""
    from keras_cls.models import torch_weights
    from keras_cls.models import weights as weight_files

    weights = os.fspath(weights)
    if spec.family == "resnet" and (torch_weights.is_torch_source(weights) or weights == "imagenet"):
        return torch_weights.load(model, spec, weights)
    path = weights
    if weights == "imagenet":
        path = weight_files.imagenet_file(spec, include_top and num_classes == 1000)
    return weight_files.load(model, path, _droppable(spec, include_top, features_only))


def _default_normalization(model):
    """Untrained EfficientNet V1 models start with ImageNet statistics instead of the identity."""
    from keras_cls.models.efficientnet import IMAGENET_MEAN, IMAGENET_STD
    from keras_cls.models.weights import set_layer_weights

    layer = next((l for l in model.layers if l.name == "normalization" and l.weights), None)
    if layer is not None and len(layer.weights[0].shape) and layer.weights[0].shape[-1] == 3:
        mean, variance, *rest = layer.get_weights()
        set_layer_weights(layer, [np.reshape(IMAGENET_MEAN, mean.shape),
                                  np.reshape(np.square(IMAGENET_STD), variance.shape), *rest])


@contextlib.contextmanager
def _deep_recursion(limit=20000):
    """Keras maps a functional graph recursively; EfficientNetV2-XL (~1,900 layers) needs more than Python's 1,000."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _head_arguments(include_top, num_classes, classifier_activation):
    """num_classes (1000 unless given; numpy integers accepted) and the activation, refusing what contradicts."""
    if not include_top and (num_classes is not None or classifier_activation is not _UNSET):
        raise ValueError("include_top=False builds no classifier: num_classes and classifier_activation do not "
                         "apply (leave them out, or pass include_top=True)")
    if num_classes is None:
        num_classes = 1000
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise ValueError(f"num_classes must be an integer >= 1 with include_top=True, got {num_classes!r}")
    return int(num_classes), "softmax" if classifier_activation is _UNSET else classifier_activation


_UNSET = type("Default", (), {"__repr__": lambda self: "'softmax'"})()  # the default activation, told from a given one


def build(name, *, num_classes=None, input_shape=None, include_top=True, weights=None, pooling=None,
          classifier_activation=_UNSET, dropout_rate=None, drop_connect_rate=None, features_only=False,
          bn_momentum=None, sync_bn=False, zero_init_residual=False, keras_module=None):
    """Build a variant by name as a functional model taking RGB images with values in [0, 255].

    Arguments follow keras.applications: num_classes defaults to 1000 and classifier_activation to "softmax";
    both belong to the classifier, so they are refused with include_top=False. `features_only=True` (with
    include_top=False) returns a dict of the C2-C5 feature maps (strides 4, 8, 16, 32; channels in
    `model_info(name)["feature_channels"]`). Training options, as TF Model Garden takes them: `bn_momentum` (None:
    the variant's own), `sync_bn` (BatchNorm statistics across replicas) and `zero_init_residual` (each residual
    branch's last BatchNorm scale starts at 0; weights, when given, replace it). `keras_module` builds with another
    Keras (tf_keras for tfmot); the default is Keras 3.
    """
    spec = get_spec(name)
    num_classes, classifier_activation = _head_arguments(include_top, num_classes, classifier_activation)
    if keras_module is None:
        import keras as keras_module
    _check_training_options(bn_momentum, sync_bn, zero_init_residual)
    k = keras_module
    if bn_momentum is not None or sync_bn or zero_init_residual:
        k = blocks.TrainingKeras(keras_module, bn_momentum, sync_bn, zero_init_residual)
    input_shape = tuple(input_shape) if input_shape is not None else (spec.resolution, spec.resolution, 3)
    _validate(spec, num_classes=num_classes, input_shape=input_shape, include_top=include_top, weights=weights,
              pooling=pooling, features_only=features_only, dropout_rate=dropout_rate,
              drop_connect_rate=drop_connect_rate)
    inputs = k.Input(shape=input_shape, name="image")
    x, features = family_module(spec).build(
        k, spec, inputs, weights=weights, features_only=features_only,
        drop_connect_rate=spec.drop_connect if drop_connect_rate is None else drop_connect_rate)
    outputs = _head(k, x, features, num_classes=num_classes, include_top=include_top, pooling=pooling,
                    classifier_activation=classifier_activation, features_only=features_only,
                    dropout_rate=spec.dropout if dropout_rate is None else dropout_rate)
    with _deep_recursion():
        model = k.Model(inputs, outputs, name=spec.name)
    if weights is not None:
        logging.getLogger("keras_cls").info("%s weights: %s", spec.name,
                                            _load_weights(model, spec, weights, include_top, num_classes,
                                                          features_only))
    else:
        _default_normalization(model)
    return model
