"""Building blocks shared by the builders.

Every function takes the Keras module (`keras`, `tf_keras`, or the counting module of flops.py) as its first
argument and uses only layers that all of them have, so one builder makes a Keras 3 model, its tf_keras twin
and an analytic count. Layer names follow keras.applications (EfficientNet) and torchvision (ResNet) so that
weight files load by name.
"""

# ImageNet's per-channel statistics of RGB in [0, 1] (torchvision's; keras.applications' EfficientNet files too).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# keras.applications' initializers, as config dicts so that every Keras flavour accepts them.
CONV_INIT = {"class_name": "VarianceScaling",
             "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_INIT = {"class_name": "VarianceScaling",
              "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}
# torchvision's kaiming_normal_(mode="fan_out", nonlinearity="relu").
RESNET_CONV_INIT = {"class_name": "VarianceScaling",
                    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}}


class _TrainingLayers:
    """`k.layers` whose BatchNormalization layers get the given momentum and synchronization."""

    def __init__(self, layers, momentum, synchronized):
        self._layers, self._momentum, self._synchronized = layers, momentum, synchronized

    def __getattr__(self, name):
        return getattr(self._layers, name)

    def BatchNormalization(self, **kwargs):  # noqa: N802 (the Keras name)
        if self._momentum is not None:
            kwargs["momentum"] = self._momentum
        if self._synchronized:
            kwargs["synchronized"] = True
        return self._layers.BatchNormalization(**kwargs)


class TrainingKeras:
    """A Keras module with build-time training options: BatchNorm momentum (None: each block's own), synchronized
    BatchNorm across replicas, and residual branches whose last BatchNorm starts at 0 (every residual block starts
    as the identity, Goyal et al. 2017). The builders take it like any Keras module."""

    def __init__(self, k, bn_momentum=None, sync_bn=False, zero_init_residual=False):
        self._k, self.zero_init_residual = k, zero_init_residual
        self.layers = _TrainingLayers(k.layers, bn_momentum, sync_bn)

    def __getattr__(self, name):
        return getattr(self._k, name)


def residual_gamma(k, has_residual):
    """The initial BatchNorm scale at the end of a branch: 0 where a residual addition follows and `k` asks for it."""
    return "zeros" if has_residual and getattr(k, "zero_init_residual", False) else "ones"


def correct_pad(x, kernel_size):
    """keras.applications' padding for stride-2 'valid' convolutions: one less at the top/left on even sizes."""
    height, width = x.shape[1:3]
    adjust = (1, 1) if height is None else (1 - height % 2, 1 - width % 2)
    half = kernel_size // 2
    return ((half - adjust[0], half), (half - adjust[1], half))


def conv_bn_act(k, x, filters, kernel_size, *, name, strides=1, padding="same", activation="swish",
                bn_momentum=0.99, bn_epsilon=1e-3, conv_name="conv", bn_name="bn", act_name="activation",
                kernel_init=CONV_INIT, gamma="ones"):
    """Conv2D (no bias) -> BatchNormalization -> optional activation; names are `name + suffix`."""
    x = k.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                        kernel_initializer=kernel_init, name=name + conv_name)(x)
    x = k.layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon, gamma_initializer=gamma,
                                    name=name + bn_name)(x)
    if activation:
        x = k.layers.Activation(activation, name=name + act_name)(x)
    return x


def squeeze_excite(k, x, filters_in, se_ratio, *, name, activation="swish"):
    """Squeeze-and-excite gate; the reduced width is taken from the block's input width, as in the papers."""
    filters = x.shape[-1]
    reduced = max(1, int(filters_in * se_ratio))
    se = k.layers.GlobalAveragePooling2D(name=name + "se_squeeze")(x)
    se = k.layers.Reshape((1, 1, filters), name=name + "se_reshape")(se)
    se = k.layers.Conv2D(reduced, 1, padding="same", activation=activation, kernel_initializer=CONV_INIT,
                         name=name + "se_reduce")(se)
    se = k.layers.Conv2D(filters, 1, padding="same", activation="sigmoid", kernel_initializer=CONV_INIT,
                         name=name + "se_expand")(se)
    return k.layers.Multiply(name=name + "se_excite")([x, se])


def residual(k, x, shortcut, drop_rate, *, name):
    """Stochastic depth (drop the whole residual branch per sample) followed by the skip addition."""
    if drop_rate > 0:
        x = k.layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=name + "drop")(x)
    return k.layers.Add(name=name + "add")([x, shortcut])


def mbconv(k, x, *, filters_in, filters_out, kernel_size, strides, expand_ratio, se_ratio, drop_rate, name,
           gen):
    """Inverted residual block (MobileNetV2 / EfficientNet) with optional squeeze-excite."""
    shortcut, has_residual = x, strides == 1 and filters_in == filters_out
    filters = filters_in * expand_ratio
    if expand_ratio != 1:
        x = conv_bn_act(k, x, filters, 1, name=name, bn_momentum=gen.bn_momentum, conv_name="expand_conv",
                        bn_name="expand_bn", act_name="expand_activation", activation=gen.activation)
    padding = "same"
    if strides == 2 and gen.explicit_pad:
        x = k.layers.ZeroPadding2D(correct_pad(x, kernel_size), name=name + "dwconv_pad")(x)
        padding = "valid"
    x = k.layers.DepthwiseConv2D(kernel_size, strides=strides, padding=padding, use_bias=False,
                                 depthwise_initializer=CONV_INIT, name=name + gen.dwconv_name)(x)
    x = k.layers.BatchNormalization(momentum=gen.bn_momentum, name=name + "bn")(x)
    x = k.layers.Activation(gen.activation, name=name + "activation")(x)
    if 0 < se_ratio <= 1:
        x = squeeze_excite(k, x, filters_in, se_ratio, name=name)
    x = conv_bn_act(k, x, filters_out, 1, name=name, bn_momentum=gen.bn_momentum, activation=None,
                    conv_name="project_conv", bn_name="project_bn", gamma=residual_gamma(k, has_residual))
    if has_residual:
        x = residual(k, x, shortcut, drop_rate, name=name)
    return x


def fused_mbconv(k, x, *, filters_in, filters_out, kernel_size, strides, expand_ratio, se_ratio, drop_rate,
                 name, gen):
    """EfficientNetV2's fused block: the expansion and depthwise convolutions become one full convolution."""
    shortcut, has_residual = x, strides == 1 and filters_in == filters_out
    if expand_ratio != 1:
        x = conv_bn_act(k, x, filters_in * expand_ratio, kernel_size, strides=strides, name=name,
                        bn_momentum=gen.bn_momentum, conv_name="expand_conv", bn_name="expand_bn",
                        act_name="expand_activation", activation=gen.activation)
    if 0 < se_ratio <= 1:
        x = squeeze_excite(k, x, filters_in, se_ratio, name=name)
    fused = expand_ratio == 1
    x = conv_bn_act(k, x, filters_out, kernel_size if fused else 1, strides=strides if fused else 1, name=name,
                    bn_momentum=gen.bn_momentum, activation=gen.activation if fused else None,
                    conv_name="project_conv", bn_name="project_bn", act_name="project_activation",
                    gamma=residual_gamma(k, has_residual))
    if has_residual:
        x = residual(k, x, shortcut, drop_rate, name=name)
    return x


def _resnet_conv(k, x, filters, kernel_size, strides, name, suffix, activation, gamma="ones"):
    """torchvision's conv: symmetric explicit padding of kernel_size // 2, then a 'valid' convolution."""
    if kernel_size > 1:
        x = k.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad{suffix}")(x)
    return conv_bn_act(k, x, filters, kernel_size, strides=strides, padding="valid", name=name,
                       activation="relu" if activation else None, bn_momentum=0.9, bn_epsilon=1e-5,
                       kernel_init=RESNET_CONV_INIT, conv_name=f"_conv{suffix}", bn_name=f"_bn{suffix}",
                       act_name=f"_relu{suffix}", gamma=gamma)


def _shortcut(k, x, filters, strides, name):
    if strides == 1 and x.shape[-1] == filters:
        return x
    return conv_bn_act(k, x, filters, 1, strides=strides, padding="valid", name=name, activation=None,
                       bn_momentum=0.9, bn_epsilon=1e-5, kernel_init=RESNET_CONV_INIT,
                       conv_name="_downsample_conv", bn_name="_downsample_bn")


def basic(k, x, *, width, strides, drop_rate, name):
    """ResNet basic block: 3x3 (stride) -> 3x3, projection shortcut where the shape changes."""
    shortcut = _shortcut(k, x, width, strides, name)
    x = _resnet_conv(k, x, width, 3, strides, name, 1, activation=True)
    x = _resnet_conv(k, x, width, 3, 1, name, 2, activation=False, gamma=residual_gamma(k, True))
    x = residual(k, x, shortcut, drop_rate, name=name + "_")
    return k.layers.Activation("relu", name=name + "_out")(x)


def bottleneck(k, x, *, width, strides, drop_rate, name):
    """ResNet v1.5 bottleneck: 1x1 -> 3x3 (stride here, not in the 1x1) -> 1x1 at 4x width."""
    shortcut = _shortcut(k, x, width * 4, strides, name)
    x = _resnet_conv(k, x, width, 1, 1, name, 1, activation=True)
    x = _resnet_conv(k, x, width, 3, strides, name, 2, activation=True)
    x = _resnet_conv(k, x, width * 4, 1, 1, name, 3, activation=False, gamma=residual_gamma(k, True))
    x = residual(k, x, shortcut, drop_rate, name=name + "_")
    return k.layers.Activation("relu", name=name + "_out")(x)


def imagenet_normalization(k, x):
    """RGB in [0, 1] -> ImageNet-standardised values (a fixed Normalization layer named "normalization")."""
    return k.layers.Normalization(mean=list(IMAGENET_MEAN), variance=[s * s for s in IMAGENET_STD],
                                  name="normalization")(x)
