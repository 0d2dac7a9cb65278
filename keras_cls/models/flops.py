"""Analytic parameters, multiply-adds and activation memory at any input size, without TensorFlow.

`count(name, input_size)` runs the very builder that makes the Keras model against a counting stand-in for the
Keras module: each layer computes its output shape and its closed-form parameter and multiply-add counts.
`count_model(model)` counts the same quantities from a built Keras model's layers (kernels and output shapes);
tests hold the two equal. Multiply-adds are those of Conv2D, DepthwiseConv2D and Dense, the usual
"FLOPs" of papers (one MAC = two FLOPs); activation memory is the elements of every layer output per image.
"""
import functools
import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import List, Tuple


@dataclass
class Counts:
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0
    activations: int = 0
    layers: List[Tuple[str, str, int, int]] = field(default_factory=list)  # (name, class, params, macs)

    @property
    def params(self):
        return self.trainable + self.non_trainable

    @property
    def activation_bytes(self):
        return 4 * self.activations

    def add(self, name, cls, trainable=0, non_trainable=0, macs=0, activations=0):
        self.trainable += trainable
        self.non_trainable += non_trainable
        self.macs += macs
        self.activations += activations
        self.layers.append((name, cls, trainable + non_trainable, macs))


class _Tensor:
    def __init__(self, shape):
        self.shape = (None,) + tuple(shape)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _conv_out(size, kernel, stride, padding):
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


class _Layer:
    """Base of the counting layers: adds itself to `counts` when called, returns a tensor of the output shape."""

    def __init__(self, *args, counts, name=None, **kwargs):
        self.args, self.kwargs, self.name, self.counts, self.weights = args, kwargs, name, counts, []

    def __call__(self, inputs):
        shape, trainable, non_trainable, macs = self.compute(inputs)
        self.counts.add(self.name, type(self).__name__, trainable, non_trainable, macs, math.prod(shape))
        return _Tensor(shape)

    def compute(self, x):  # shape-preserving, weightless
        return x.shape[1:], 0, 0, 0


class Conv2D(_Layer):
    def compute(self, x):
        filters, kernel = self.args[0], _pair(self.args[1])
        strides, padding = _pair(self.kwargs.get("strides", 1)), self.kwargs.get("padding", "valid")
        h, w, c = x.shape[1:]
        out = (_conv_out(h, kernel[0], strides[0], padding), _conv_out(w, kernel[1], strides[1], padding), filters)
        weights = kernel[0] * kernel[1] * c * filters
        bias = filters if self.kwargs.get("use_bias", True) else 0
        return out, weights + bias, 0, out[0] * out[1] * weights


class DepthwiseConv2D(_Layer):
    def compute(self, x):
        kernel = _pair(self.args[0])
        strides, padding = _pair(self.kwargs.get("strides", 1)), self.kwargs.get("padding", "valid")
        h, w, c = x.shape[1:]
        out = (_conv_out(h, kernel[0], strides[0], padding), _conv_out(w, kernel[1], strides[1], padding), c)
        weights = kernel[0] * kernel[1] * c
        bias = c if self.kwargs.get("use_bias", True) else 0
        return out, weights + bias, 0, out[0] * out[1] * weights


class Dense(_Layer):
    def compute(self, x):
        units, fan_in = self.args[0], x.shape[-1]
        bias = units if self.kwargs.get("use_bias", True) else 0
        return (units,), fan_in * units + bias, 0, fan_in * units


class BatchNormalization(_Layer):
    def compute(self, x):
        c = x.shape[-1]
        return x.shape[1:], 2 * c, 2 * c, 0


class Normalization(_Layer):
    def compute(self, x):
        # Keras keeps mean, variance and count as state unless mean and variance are given.
        state = 0 if self.kwargs.get("mean") is not None else 2 * x.shape[-1] + 1
        return x.shape[1:], 0, state, 0


class ZeroPadding2D(_Layer):
    def compute(self, x):
        pad = self.args[0]
        (top, bottom), (left, right) = (((pad, pad), (pad, pad)) if isinstance(pad, int)
                                        else tuple(_pair(p) for p in pad))
        h, w, c = x.shape[1:]
        return (h + top + bottom, w + left + right, c), 0, 0, 0


class MaxPooling2D(_Layer):
    def compute(self, x):
        pool = _pair(self.args[0])
        strides, padding = _pair(self.kwargs.get("strides") or pool), self.kwargs.get("padding", "valid")
        h, w, c = x.shape[1:]
        return (_conv_out(h, pool[0], strides[0], padding), _conv_out(w, pool[1], strides[1], padding), c), 0, 0, 0


class GlobalAveragePooling2D(_Layer):
    def compute(self, x):
        return (x.shape[-1],), 0, 0, 0


class Reshape(_Layer):
    def compute(self, x):
        return tuple(self.args[0]), 0, 0, 0


class Add(_Layer):
    def compute(self, inputs):
        return inputs[0].shape[1:], 0, 0, 0


GlobalMaxPooling2D = GlobalAveragePooling2D
Multiply = Add
Activation = Dropout = Rescaling = type("Identity", (_Layer,), {})

_LAYER_CLASSES = (Conv2D, DepthwiseConv2D, Dense, BatchNormalization, Normalization, ZeroPadding2D, MaxPooling2D,
                  GlobalAveragePooling2D, Reshape, Add)
_ALIASES = {"GlobalMaxPooling2D": GlobalMaxPooling2D, "Multiply": Multiply, "Activation": Activation,
            "Dropout": Dropout, "Rescaling": Rescaling}


def counting_keras(counts):
    """A stand-in for the Keras module, with just what the builders use, that adds every layer to `counts`."""
    classes = {cls.__name__: cls for cls in _LAYER_CLASSES} | _ALIASES
    return SimpleNamespace(
        layers=SimpleNamespace(**{name: functools.partial(cls, counts=counts) for name, cls in classes.items()}),
        Input=lambda shape, name=None: _Tensor(shape),
        Model=lambda inputs, outputs, name=None: SimpleNamespace(layers=[], name=name),
        mixed_precision=SimpleNamespace(global_policy=lambda: SimpleNamespace(compute_dtype="float32")),
    )


def count(name, input_size=None, *, num_classes=1000, include_top=True, **build_kwargs):
    """Analytic counts of a variant at `input_size` (int or (height, width); default: its resolution)."""
    from keras_cls.models.building import build
    from keras_cls.models.registry import get_spec

    size = _pair(input_size or get_spec(name).resolution)
    counts = Counts()
    head = {"num_classes": num_classes} if include_top else {}
    build(name, include_top=include_top, input_shape=(*size, 3), keras_module=counting_keras(counts), **head,
          **build_kwargs)
    return counts


def _layer_macs(layer):
    cls = type(layer).__name__
    if cls not in ("Conv2D", "DepthwiseConv2D", "Dense"):
        return 0
    kernel = math.prod(layer.kernel.shape)
    spatial = math.prod(layer.output.shape[1:-1]) if cls != "Dense" else 1
    return spatial * kernel


def count_model(model):
    """The same counts, taken from a built Keras model's weights and output shapes (the cross-check)."""
    counts = Counts()
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        counts.add(layer.name, type(layer).__name__,
                   trainable=sum(math.prod(w.shape) for w in layer.trainable_weights),
                   non_trainable=sum(math.prod(w.shape) for w in layer.non_trainable_weights),
                   macs=_layer_macs(layer), activations=math.prod(layer.output.shape[1:]))
    return counts
