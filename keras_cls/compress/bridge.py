"""Keras 3 <-> tf_keras twins of a keras_cls model (tensorflow-model-optimization accepts only tf_keras models).

The twin is built by the same builder with the other Keras (the builders take the Keras module), then every
layer's weights are copied by name and the training hyper-parameters a recipe may have changed on layers after
building (dropout and drop-connect rates, BatchNormalization momentum) are copied too. Both directions go through
`rebuild`, so a model fine-tuned as tf_keras comes back to Keras 3 the same way.
"""
from keras_cls.models.building import build
from keras_cls.models.registry import get_spec
from keras_cls.models.weights import set_layer_weights

_COPIED_ATTRIBUTES = ("rate", "momentum")


class NotKerasClsModel(ValueError):
    """The model was not built by keras_cls.build (or was changed after building)."""


def build_args(model):
    """The keras_cls.build arguments that reproduce `model`'s architecture, read from the model itself."""
    try:
        get_spec(model.name)
    except ValueError:
        raise NotKerasClsModel(f"model {model.name!r} was not built by keras_cls.build (its name is not a "
                               "keras_cls variant); compression needs a keras_cls model") from None
    names = {layer.name: layer for layer in model.layers}
    if isinstance(model.output, dict):
        raise NotKerasClsModel("features_only models (a dict of feature maps) have no classifier to compress")
    args = {"input_shape": tuple(model.input_shape[1:])}
    if "predictions" in names:
        head = names["predictions"]
        args.update(num_classes=head.units, classifier_activation=head.get_config()["activation"],
                    dropout_rate=names["top_dropout"].rate if "top_dropout" in names else 0.0)
    else:
        pooling = "avg" if "avg_pool" in names else "max" if "max_pool" in names else None
        args.update(include_top=False, pooling=pooling)
    return args


def rebuild(model, keras_module):
    """The same keras_cls model built with `keras_module` (keras or tf_keras), carrying `model`'s weights."""
    twin = build(model.name, keras_module=keras_module, **build_args(model))
    ours = [layer for layer in model.layers if layer.weights]
    theirs = [layer for layer in twin.layers if layer.weights]
    if [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in ours] != \
            [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in theirs]:
        raise NotKerasClsModel(f"model {model.name!r} does not have the layers keras_cls.build makes for it "
                               "(changed after building?)")
    for source, target in zip(ours, theirs):
        set_layer_weights(target, source.get_weights())
    for layer in model.layers:
        target = twin.get_layer(layer.name)
        for attribute in _COPIED_ATTRIBUTES:
            if hasattr(layer, attribute) and hasattr(target, attribute):
                setattr(target, attribute, getattr(layer, attribute))
    return twin


def to_tf_keras(model):
    """The tf_keras twin of a Keras 3 keras_cls model, with its weights."""
    import tf_keras

    return rebuild(model, tf_keras)


def to_keras(twin):
    """A Keras 3 keras_cls model carrying a tf_keras twin's weights (after fine-tuning, pruning)."""
    import keras

    return rebuild(twin, keras)
