"""The preprocessing contract of a model (ARCHITECTURE.md, decision 9): the evaluation transform of its run, stored
with every artifact made from it and applied by one function everywhere — evaluation, every SavedModel signature,
every TFLite file, the clients — so that served scores equal evaluated scores for the same file.

The transform: an RGB image with values in [0, 255] (any size, uint8 or float) is resized (bilinear) so that
`eval_crop` of its shorter side becomes `image_size`, the center `image_size` x `image_size` is cropped, and the
pixels are rounded to uint8, exactly what the evaluation pipeline feeds the model; in integer arithmetic (see
eval_transform), so that every runtime and every quantized file computes the same bytes. Images with more than
`max_pixels` pixels are refused before decoding (see decode.check_pixels): a 400 KB PNG can claim 20000 x 20000.
"""
import json
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from keras_cls.data.config import EVAL_CROP, MAX_PIXELS

RESIZE = "shorter_side_center_crop"
INTERPOLATION = "bilinear"
ROUNDING = "uint8"
ONE = 1 << 11  # fixed point of the resize: positions and weights in 1/2048 px (sums of 255 * ONE^2 fit int32)


_WARNED = set()


def warn_unit_range(images, where):
    """Once per place and process: a float batch whose values all lie in [0, 1] is almost surely images scaled for
    another model (the most frequent mistake with keras.applications' EfficientNet: tensorflow#43938)."""
    if where in _WARNED:
        return
    x = np.asarray(images)
    if x.size and x.dtype.kind == "f" and np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1:
        _WARNED.add(where)
        warnings.warn(f"{where}: every value of this image batch lies in [0, 1], but keras_cls models take RGB in "
                      "[0, 255] and scale and normalize inside; multiply by 255 (or drop your own rescaling), or the "
                      "model sees nearly black images", UserWarning, stacklevel=3)


@dataclass(frozen=True)
class Preprocessing:
    image_size: int
    eval_crop: float = EVAL_CROP
    max_pixels: int = MAX_PIXELS
    resize: str = RESIZE
    interpolation: str = INTERPOLATION
    rounding: str = ROUNDING

    def __post_init__(self):
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 1:
            raise ValueError(f"image_size must be an integer >= 1, got {self.image_size!r}")
        if not 0 < self.eval_crop <= 1:
            raise ValueError(f"eval_crop must be in (0, 1], got {self.eval_crop}")
        if not isinstance(self.max_pixels, int) or not self.image_size ** 2 <= self.max_pixels < 1 << 32:
            raise ValueError(f"max_pixels must be an integer >= image_size^2 ({self.image_size ** 2}) and below 2^32 "
                             f"(the integer resize's range), got {self.max_pixels!r}")
        for name, allowed in (("resize", RESIZE), ("interpolation", INTERPOLATION), ("rounding", ROUNDING)):
            if getattr(self, name) != allowed:
                raise ValueError(f"{name} must be {allowed!r} (the only transform implemented), got "
                                 f"{getattr(self, name)!r}")

    @classmethod
    def of_data(cls, data_config):
        """The contract of a DataConfig's evaluation split."""
        return cls(data_config.image_size, data_config.eval_crop, data_config.max_pixels)

    @classmethod
    def of_run(cls, run_config):
        """The contract in a run's config.json ({"preprocessing": ...}, or the data section of older runs); None
        when it has neither."""
        if "preprocessing" in run_config:
            return cls(**run_config["preprocessing"])
        data = run_config.get("data", {})
        if "image_size" not in data:
            return None
        return cls(data["image_size"], data.get("eval_crop", EVAL_CROP), data.get("max_pixels", MAX_PIXELS))

    @classmethod
    def from_json(cls, text):
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as e:
            raise ValueError(f"not a keras_cls preprocessing contract: {text[:200]!r} ({e})") from e

    def to_json(self):
        return json.dumps(asdict(self), sort_keys=True)

    def apply(self, images):
        """One image (H, W, 3) or a batch (N, H, W, 3) of one size -> uint8 image(s) of image_size."""
        return eval_transform(images, self.image_size, self.eval_crop)


def to_uint8(image, size):
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    image.set_shape([*image.shape[:-3], size, size, 3])  # static shape, no op (TFLite has no EnsureShape)
    return image


def _taps(n_in, shorter, size, crop):
    """The `size` samples along one axis of the center window of crop x shorter source pixels, at half-pixel centers
    (as tf.image.resize), in fixed point: (low, high) neighbour indices and the weight of `high` in 1/ONE.
    Position j = (n_in - 1) / 2 + (j - (size - 1) / 2) * crop * shorter / size; clamped to the image."""
    step = (shorter * round(crop * ONE) + size // 2) // size  # source pixels per output pixel, in 1/ONE
    twice = (tf.range(size) * 2 - (size - 1)) * step + (n_in - 1) % 2 * ONE  # 2 x (position - base), in 1/ONE
    low = (n_in - 1) // 2 + tf.math.floordiv(twice, 2 * ONE)
    weight = tf.where(low < 0, 0, tf.math.floormod(twice, 2 * ONE) // 2)
    low = tf.clip_by_value(low, 0, n_in - 1)
    return low, tf.minimum(low + 1, n_in - 1), weight


def _interpolate(values, axis, taps, rank):
    """The taps' rows (or columns) of `values`, as int32 in 1/ONE of their unit (gathered before the cast: the whole
    image is never widened)."""
    low, high, weight = taps
    below, above = (tf.cast(tf.gather(values, i, axis=axis), tf.int32) for i in (low, high))
    return below * ONE + (above - below) * tf.reshape(weight, [-1] + [1] * (rank - 1 - axis))


def eval_transform(image, size, crop):
    """Resize so that the center crop of `crop` of the shorter side becomes size x size, take that crop, round to
    uint8. `image`: (H, W, 3) or (N, H, W, 3), any dtype with values in [0, 255] (rounded to whole levels first).

    Integer arithmetic throughout (int32 positions, weights and sums, one rounding at the end): TensorFlow and TFLite
    compute it bit for bit alike, and an int8 TFLite file has no size-dependent float tensor for its quantizer to
    calibrate (positions and weights calibrated on one image size are wrong at every other). Exact for images of up
    to 65,535 px on the shorter side (any max_pixels below 4.29 billion)."""
    image = tf.convert_to_tensor(image)
    rank = image.shape.rank
    rows, cols = rank - 3, rank - 2
    if image.dtype != tf.uint8:
        image = tf.clip_by_value(tf.round(tf.cast(image, tf.float32)), 0, 255)
    hw = tf.shape(image)[rows:cols + 1]
    shorter = tf.reduce_min(hw)
    values = _interpolate(image, rows, _taps(hw[0], shorter, size, crop), rank)
    values = _interpolate(values, cols, _taps(hw[1], shorter, size, crop), rank)
    return _fixed_to_uint8(values, size)


def _fixed_to_uint8(values, size):
    """Fixed-point sums in 1/ONE^2 -> the nearest uint8 level, with the static shape of a size x size image."""
    image = tf.cast((values + ONE * ONE // 2) // (ONE * ONE), tf.uint8)
    image.set_shape([*image.shape[:-3], size, size, 3])
    return image
