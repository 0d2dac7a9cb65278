"""Magnitude pruning with tfmot on the tf_keras twin: what is pruned, the schedule, and a sparsity report.

Pruned: every Conv2D (stem, expand/project 1x1, squeeze-excite, ResNet 3x3 and 1x1, downsample) and the Dense
classifier: their kernels hold nearly all the weights. DepthwiseConv2D (~3% of EfficientNet-B0's weights): tfmot
registers no prunable weights for it, so it is left dense unless `depthwise=True`, which prunes its kernel
through a PrunableLayer subclass. Never pruned: BatchNormalization, biases, Normalization.
The PolynomialDecay schedule reaches the target sparsity after 2/3 of the fine-tuning steps and updates the
masks about 20 times on the way (tfmot's default frequency of 100 steps prunes nothing in a short fine-tune).
"""
import numpy as np
import tensorflow_model_optimization as tfmot  # noqa: I001  sets TF_USE_LEGACY_KERAS=1: never use tf.keras here
import tf_keras

sparsity_api = tfmot.sparsity.keras
PRUNED_LAYERS = ("Conv2D", "Dense")
DEPTHWISE = ("DepthwiseConv2D", "PrunableDepthwiseConv2D")


class PrunableDepthwiseConv2D(tf_keras.layers.DepthwiseConv2D, sparsity_api.PrunableLayer):
    def get_prunable_weights(self):
        return [self.depthwise_kernel]


def _prunable_depthwise(layer):
    copy = PrunableDepthwiseConv2D.from_config(layer.get_config())
    copy.build(layer.input_shape)
    copy.set_weights(layer.get_weights())
    return copy


def schedule(target, total_steps):
    """Sparsity 0 -> target over the first 2/3 of `total_steps`, masks updated ~20 times."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target sparsity {target} must be in (0, 1), e.g. 0.5 for half the weights zero")
    end = max(1, (2 * total_steps) // 3)
    return sparsity_api.PolynomialDecay(initial_sparsity=0.0, final_sparsity=float(target), begin_step=0,
                                        end_step=end, frequency=max(1, end // 20))


def prunable(twin, target, total_steps, depthwise=False):
    """The twin with Conv2D and Dense layers (and DepthwiseConv2D when asked) wrapped for magnitude pruning
    (fit with `callbacks()`)."""
    if not isinstance(twin, tf_keras.Model):
        raise TypeError(f"tfmot needs a tf_keras model; got {type(twin).__module__}.{type(twin).__name__} "
                        "(use keras_cls.compress.to_tf_keras)")
    pruning = schedule(target, total_steps)

    def wrap(layer):
        kind = type(layer).__name__
        if kind in PRUNED_LAYERS or (depthwise and kind in DEPTHWISE):
            layer = _prunable_depthwise(layer) if kind == "DepthwiseConv2D" else layer
            return sparsity_api.prune_low_magnitude(layer, pruning_schedule=pruning)
        return layer

    return tf_keras.models.clone_model(twin, clone_function=wrap)


def callbacks():
    return [sparsity_api.UpdatePruningStep()]


def strip(pruned):
    """The plain tf_keras model with the pruned (zeroed) weights, wrappers removed."""
    return sparsity_api.strip_pruning(pruned)


def sparsity_report(model, depthwise=False):
    """Per pruned layer: weights and the fraction that is zero; plus the total over the pruned layers."""
    layers, zeros, total = [], 0, 0
    kinds = PRUNED_LAYERS + (DEPTHWISE if depthwise else ())
    for layer in model.layers:
        if type(layer).__name__ in kinds:
            kernel = layer.get_weights()[0]
            layer_zeros = int(np.sum(kernel == 0))
            layers.append({"layer": layer.name, "weights": int(kernel.size), "sparsity": layer_zeros / kernel.size})
            zeros, total = zeros + layer_zeros, total + kernel.size
    return {"sparsity": zeros / total if total else 0.0, "pruned_weights": int(total), "layers": layers}
