"""Post-training quantization through the TFLite converter, on the serving contract of keras_cls.export.lite.

float32: no quantization (the reference); dynamic: int8 weights, float activations; float16: float16 weights;
int8: int8 weights and activations calibrated on a representative set of images, with float input and output
(the contract's resize and class-name lookup stay in float where TFLite has no int8 kernel for them).
"""
import numpy as np
import tensorflow as tf

from keras_cls.compress.config import PTQ_METHODS as METHODS
from keras_cls.export.lite import convert as convert_with_contract, converter


def representative_images(images, model, limit=200):
    """Check a calibration set against the model's input: (N, height, width, 3) images with values in [0, 255]."""
    images = np.asarray(images)
    size = tuple(model.input_shape[1:3])
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"the representative images must be a non-empty batch (N, height, width, 3); got "
                         f"{images.shape} (the model takes {size} RGB images)")
    return images[:limit].astype(np.float32)


def convert(model, method="float32", representative=None, class_names=None, top_k=5, sparse=False,
            per_channel=True, preprocessing=None):
    """TFLite bytes of `model` (Keras 3 or a tf_keras twin) quantized by `method`; `sparse` stores weights that
    are mostly zero (a pruned model's) in TFLite's sparse tensor format. `per_channel=False` quantizes int8
    weights with one scale per tensor: a smaller file (no scale and zero point per output channel; ~0.7 MB in
    EfficientNet-B0) at some accuracy."""
    if method not in METHODS:
        raise ValueError(f"unknown post-training quantization {method!r}; choose one of {', '.join(METHODS)}")
    lite = converter(model, class_names, top_k, preprocessing)
    lite.optimizations = ([tf.lite.Optimize.DEFAULT] if method != "float32" else []) + \
        ([tf.lite.Optimize.EXPERIMENTAL_SPARSITY] if sparse else [])
    if method == "float16":
        lite.target_spec.supported_types = [tf.float16]
    if method == "int8":
        if representative is None:
            raise ValueError("int8 quantization needs representative images (a few hundred from the training data)")
        images = representative_images(representative, model)
        lite.representative_dataset = lambda: ([image[None]] for image in images)
        lite.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        lite._experimental_disable_per_channel = not per_channel  # the converter's only switch for it
    return convert_with_contract(lite)


def convert_quantized(qat_model, class_names=None, top_k=5, preprocessing=None):
    """int8 TFLite bytes of a quantization-aware model: the ranges come from its fake-quant nodes."""
    lite = converter(qat_model, class_names, top_k, preprocessing)
    lite.optimizations = [tf.lite.Optimize.DEFAULT]
    return convert_with_contract(lite)
