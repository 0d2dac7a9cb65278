"""Quantization-aware training with tfmot for both families, on the tf_keras twin.

tfmot's default 8-bit registry covers Conv2D, DepthwiseConv2D, Dense, BatchNormalization after a convolution,
Activation (relu, swish, sigmoid, softmax), Add, pooling, Reshape, ZeroPadding2D and Dropout. keras_cls models
also hold: Rescaling and Normalization (the in-model preprocessing: kept in float, input scaling is what the
converter's input quantization does anyway) and, in EfficientNet, the squeeze-excite Multiply (its output gets a
moving-average quantizer so the next convolution sees quantized inputs).
A QAT model reloads from h5 or weights-only files, not from `.keras` (tfmot's wrappers do not round-trip there).
"""
import tensorflow_model_optimization as tfmot  # noqa: I001  sets TF_USE_LEGACY_KERAS=1: never use tf.keras here
import tf_keras

quantize = tfmot.quantization.keras
MovingAverageQuantizer = quantize.quantizers.MovingAverageQuantizer


class NoOpQuantizeConfig(quantize.QuantizeConfig):
    """Leave the layer in float: nothing of it is quantized."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


class OutputQuantizeConfig(NoOpQuantizeConfig):
    """Quantize only the layer's output (the squeeze-excite Multiply)."""

    def get_output_quantizers(self, layer):
        return [MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]


CUSTOM_OBJECTS = {"NoOpQuantizeConfig": NoOpQuantizeConfig, "OutputQuantizeConfig": OutputQuantizeConfig}


def _constant_normalization(layer):
    """A Normalization whose mean and variance are part of its config: clones keep them (adapt state does not)."""
    return tf_keras.layers.Normalization(axis=layer.axis, mean=layer.mean.numpy().reshape(-1),
                                         variance=layer.variance.numpy().reshape(-1), name=layer.name)


def _annotate(layer):
    kind = type(layer).__name__
    if kind == "InputLayer":
        return layer
    if kind == "Normalization":
        return quantize.quantize_annotate_layer(_constant_normalization(layer), NoOpQuantizeConfig())
    if kind == "Rescaling":
        return quantize.quantize_annotate_layer(layer, NoOpQuantizeConfig())
    if kind == "Multiply":
        return quantize.quantize_annotate_layer(layer, OutputQuantizeConfig())
    return quantize.quantize_annotate_layer(layer)


def quantize_aware(twin):
    """A tfmot quantization-aware model of a tf_keras keras_cls twin (weights kept); fine-tune it, then convert."""
    if not isinstance(twin, tf_keras.Model):
        raise TypeError(f"tfmot needs a tf_keras model; got {type(twin).__module__}.{type(twin).__name__} "
                        "(use keras_cls.compress.to_tf_keras)")
    annotated = tf_keras.models.clone_model(twin, clone_function=_annotate)
    with quantize.quantize_scope(CUSTOM_OBJECTS):
        return quantize.quantize_apply(annotated)
