"""The graph a SavedModel serves: the model rewritten for inference the way the TFLite converter rewrites it.

At batch 1 on a CPU, small ops, not arithmetic, set a convnet's latency, and Keras 3 builds a training graph:
- an inference BatchNormalization is a per-channel affine map, y * s + (beta - mean * s) with
  s = gamma / sqrt(variance + epsilon), run as ~6 ops per layer plus a ReadVariableOp per statistic. Folded into the
  convolution before it (the kernel's output channels scaled by s, a bias added), each convolution is Conv2D +
  BiasAdd (+ ReLU/ReLU6/sigmoid), which Grappler's remapper fuses into one oneDNN kernel;
- `tf.nn.silu` (Keras' swish) wraps x * sigmoid(x) in a custom gradient that hides the pattern from the remapper;
  written plainly it becomes one fused swish kernel;
- a 1x1 convolution of a 1x1 feature map (squeeze-excite) is a matrix product: as a Dense layer it runs as one
  MatMul instead of a convolution primitive set up for a single pixel;
- an explicit ZeroPadding2D before a 'valid' convolution (EfficientNet's stride-2 layers) that adds what 'same'
  padding adds at the model's input size is a separate Pad op copying the feature map; the convolution pads as
  it reads with padding='same' (the same zeros, the same output).
The rewritten model computes what `model(x, training=False)` does (float rounding aside: the folded kernels are
computed in float64); training-only layers (dropout, drop-connect) are inert in inference anyway.
"""
import numpy as np

CONVOLUTIONS = ("Conv2D", "DepthwiseConv2D")


def _only_parent(layer):
    """The layer whose output `layer` reads, when it is called once on one layer's output; else None."""
    nodes = layer._inbound_nodes
    if len(nodes) != 1 or len(nodes[0].parent_nodes) != 1:
        return None
    return nodes[0].parent_nodes[0].operation


def foldable_pairs(model):
    """{BatchNormalization layer name: the name of the convolution whose output only it reads}."""
    pairs = {}
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization" or layer.axis not in (-1, len(layer.input.shape) - 1):
            continue
        conv = _only_parent(layer)
        if (type(conv).__name__ in CONVOLUTIONS and len(conv._inbound_nodes) == 1 and len(conv._outbound_nodes) == 1
                and conv.activation.__name__ == "linear" and conv.data_format == "channels_last"):
            pairs[layer.name] = conv.name
    return pairs


def folded_weights(conv, bn):
    """(kernel, bias) of `conv` followed by `bn` in inference, computed in float64."""
    kernel = np.asarray(conv.kernel.numpy(), np.float64)
    if type(conv).__name__ == "DepthwiseConv2D":  # (h, w, in, multiplier): output channel i * multiplier + m
        kernel = kernel.reshape(*kernel.shape[:2], 1, -1)
    out_channels = kernel.shape[3]
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if bn.scale else np.ones(out_channels)
    beta = np.asarray(bn.beta.numpy(), np.float64) if bn.center else np.zeros(out_channels)
    scale = gamma / np.sqrt(np.asarray(bn.moving_variance.numpy(), np.float64) + bn.epsilon)
    bias = np.asarray(conv.bias.numpy(), np.float64) if conv.use_bias else np.zeros(out_channels)
    kernel = (kernel * scale).reshape(conv.kernel.shape)
    return kernel.astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def _same_padding(size, kernel, stride, dilation):
    """(before, after): what padding='same' adds along an axis of `size` (TensorFlow's rule)."""
    total = max((-(-size // stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def same_paddings(model):
    """{ZeroPadding2D layer name: the name of the 'valid' convolution that alone reads it}, where the padding is
    what padding='same' would add to the convolution's input at the model's input size."""
    pairs = {}
    for conv in model.layers:
        pad = _only_parent(conv) if type(conv).__name__ in CONVOLUTIONS else None
        if (type(pad).__name__ != "ZeroPadding2D" or conv.padding != "valid" or len(pad._outbound_nodes) != 1
                or len(conv._inbound_nodes) != 1 or not pad.data_format == conv.data_format == "channels_last"
                or None in pad.input.shape[1:3]):
            continue
        same = tuple(_same_padding(size, *args) for size, args in
                     zip(pad.input.shape[1:3], zip(conv.kernel_size, conv.strides, conv.dilation_rate)))
        if tuple(map(tuple, pad.padding)) == same:
            pairs[pad.name] = conv.name
    return pairs


def _activate(activation, x):
    import keras

    if activation is keras.activations.silu:
        return keras.ops.multiply(x, keras.ops.sigmoid(x))
    return activation(x)


def _is_pointwise_on_a_pixel(layer):
    return (type(layer).__name__ == "Conv2D" and len(layer._inbound_nodes) == 1 and tuple(layer.kernel_size) == (1, 1)
            and layer.data_format == "channels_last" and tuple(layer.input.shape[1:3]) == (1, 1))


def _as_matmul(conv, x):
    """A 1x1 convolution of a (batch, 1, 1, c) map as a Dense layer on (batch, c), with a copy of its weights."""
    import keras

    dense = keras.layers.Dense(conv.filters, use_bias=conv.use_bias, name=conv.name, dtype=conv.dtype_policy)
    dense.build((None, conv.kernel.shape[2]))
    dense.set_weights([conv.kernel.numpy()[0, 0]] + ([conv.bias.numpy()] if conv.use_bias else []))
    y = _activate(conv.activation, dense(keras.ops.reshape(x, (-1, conv.kernel.shape[2]))))
    return keras.ops.reshape(y, (-1, 1, 1, conv.filters))


def inference_graph(model):
    """A Keras 3 functional model computing what `model(x, training=False)` does, rewritten as above (layers that
    do not change are shared, not copied). Returns `model` itself when it is not a Keras 3 functional model
    (tf_keras twins, tfmot's, keep their graph)."""
    import keras

    if not (isinstance(model, keras.Model) and isinstance(model, keras.Function)):
        return model
    pairs = foldable_pairs(model)
    convs = {conv: bn for bn, conv in pairs.items()}
    pads = same_paddings(model)
    padded = set(pads.values())

    def clone(layer):
        changes = dict(use_bias=True, bias_regularizer=None) if layer.name in convs else {}
        if layer.name in padded:
            changes["padding"] = "same"
        return type(layer).from_config(dict(layer.get_config(), **changes)) if changes else layer

    def call(layer, *args, **kwargs):
        if layer.name in pairs or layer.name in pads:  # folded into the convolution before or after it
            return args[0]
        if layer.name not in convs and _is_pointwise_on_a_pixel(layer):  # the model's own layer (clone kept it)
            return _as_matmul(layer, args[0])
        if type(layer).__name__ == "Activation" and layer.activation is keras.activations.silu:
            return _activate(layer.activation, args[0])
        return layer(*args, **kwargs)

    rewritten = keras.models.clone_model(model, clone_function=clone, call_function=call)
    for conv_name, bn_name in convs.items():
        rewritten.get_layer(conv_name).set_weights(folded_weights(model.get_layer(conv_name),
                                                                  model.get_layer(bn_name)))
    for conv_name in padded - set(convs):
        rewritten.get_layer(conv_name).set_weights(model.get_layer(conv_name).get_weights())
    return rewritten
