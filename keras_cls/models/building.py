"""`build`: a variant (by name or spec row) as a Keras model — the arguments checked, the family's backbone, the
head, the weights. Errors name what is allowed; nothing is built before the checks pass."""
import contextlib
import logging
import numbers
import os
import re
import sys

from keras_cls.models import layers as blocks
from keras_cls.models.registry import family_module, get_spec

MIN_SIZE = 32
POOLINGS = (None, "avg", "max")
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


def check_weights(spec, weights):
    """Refuse a weights source this variant cannot load (before anything is built or written)."""
    if weights is None:
        return
    module = family_module(spec)
    allowed = f"allowed for {spec.name}: {module.WEIGHT_SOURCES}"
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights must be a string or path, got {weights!r}; {allowed}")
    weights = os.fspath(weights)
    if not module.check_weights(spec, weights) and not os.path.isfile(weights):
        raise ValueError(f"weights {weights!r} is neither a known source nor an existing file; {allowed}")


def fetch_weights(spec, weights, *, full_head):
    """Download (once) or find the file a named weights source means, before a job writes anything; a local file
    path is returned as it is. Offline, the error says what to get and where to put it."""
    check_weights(spec, weights)
    return family_module(spec).fetch_weights(spec, os.fspath(weights), full_head=full_head) or os.fspath(weights)


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


def build(name_or_spec, *, num_classes=None, input_shape=None, include_top=True, weights=None, pooling=None,
          classifier_activation=_UNSET, dropout_rate=None, drop_connect_rate=None, features_only=False,
          bn_momentum=None, sync_bn=False, zero_init_residual=False, keras_module=None):
    """Build a variant (a name, or a spec row such as `dataclasses.replace(get_spec("resnet-18"), name="r18-wide")`)
    as a functional model taking RGB images with values in [0, 255]. A model built from a row that is not
    registered (registry.registered) builds, but the jobs that find a model's variant by its name cannot.

    Arguments follow keras.applications: num_classes defaults to 1000 and classifier_activation to "softmax";
    both belong to the classifier, so they are refused with include_top=False. `features_only=True` (with
    include_top=False) returns a dict of the C2-C5 feature maps (strides 4, 8, 16, 32; channels in
    `model_info(name)["feature_channels"]`). Training options, as TF Model Garden takes them: `bn_momentum` (None:
    the variant's own), `sync_bn` (BatchNorm statistics across replicas) and `zero_init_residual` (each residual
    branch's last BatchNorm scale starts at 0; weights, when given, replace it). `keras_module` builds with another
    Keras (tf_keras for tfmot); the default is Keras 3.
    """
    spec = get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    module = family_module(spec)
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
    x, features = module.backbone(
        k, spec, inputs, weights=weights, features_only=features_only,
        drop_connect_rate=spec.drop_connect if drop_connect_rate is None else drop_connect_rate)
    outputs = _head(k, x, features, num_classes=num_classes, include_top=include_top, pooling=pooling,
                    classifier_activation=classifier_activation, features_only=features_only,
                    dropout_rate=spec.dropout if dropout_rate is None else dropout_rate)
    with _deep_recursion():
        model = k.Model(inputs, outputs, name=spec.name)
    if weights is None:
        module.init_untrained(model, spec)
        return model
    loaded = module.load_weights(model, spec, os.fspath(weights), full_head=include_top and num_classes == 1000,
                                 features_only=features_only)
    logging.getLogger("keras_cls").info("%s weights: %s", spec.name, loaded)
    return model
