"""The preprocessing contract of a model (DESIGN decision 9): the evaluation transform of its run, stored with every
artifact made from it and applied by one function everywhere — evaluation, every SavedModel signature, every
TFLite file, the clients — so that served scores equal evaluated scores for the same file.

The transform: an RGB image with values in [0, 255] (any size, uint8 or float) is resized (bilinear) so that
`eval_crop` of its shorter side becomes `image_size`, the center `image_size` x `image_size` is cropped, and the
pixels are rounded to uint8, exactly what the evaluation pipeline feeds the model. Images with more than
`max_pixels` pixels are refused before decoding (see decode.check_pixels): a 400 KB PNG can claim 20000 x 20000.
"""
import json
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from keras_cls.data.config import MAX_PIXELS

RESIZE = "shorter_side_center_crop"
INTERPOLATION = "bilinear"
ROUNDING = "uint8"


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
    eval_crop: float = 0.875
    max_pixels: int = MAX_PIXELS
    resize: str = RESIZE
    interpolation: str = INTERPOLATION
    rounding: str = ROUNDING

    def __post_init__(self):
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 1:
            raise ValueError(f"image_size must be an integer >= 1, got {self.image_size!r}")
        if not 0 < self.eval_crop <= 1:
            raise ValueError(f"eval_crop must be in (0, 1], got {self.eval_crop}")
        if not isinstance(self.max_pixels, int) or self.max_pixels < self.image_size ** 2:
            raise ValueError(f"max_pixels must be an integer >= image_size^2 ({self.image_size ** 2}), got "
                             f"{self.max_pixels!r}")
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
        return cls(data["image_size"], data.get("eval_crop", 0.875), data.get("max_pixels", MAX_PIXELS))

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


def _resample(image, axis, n_in, n_resized, size):
    """The center `size` rows (or columns) along `axis` of a bilinear resize from n_in to n_resized (half-pixel
    centers, as tf.image.resize), computed as gathers and arithmetic that TensorFlow and TFLite evaluate alike:
    their resize kernels differ in the last float bit, which rounding to uint8 turns into whole levels."""
    offset = (n_resized - size) // 2
    scale = tf.cast(n_in, tf.float32) / tf.cast(n_resized, tf.float32)
    position = tf.maximum((tf.cast(tf.range(size) + offset, tf.float32) + 0.5) * scale - 0.5, 0.0)
    low = tf.cast(tf.floor(position), tf.int32)
    high = tf.minimum(low + 1, n_in - 1)
    weight = tf.reshape(position - tf.floor(position), [size] + [1] * (image.shape.rank - 1 - axis))
    below, above = tf.gather(image, low, axis=axis), tf.gather(image, high, axis=axis)
    return below + (above - below) * weight


def eval_transform(image, size, crop):
    """Resize so that the center crop of `crop` of the shorter side becomes size x size, take that crop, round to
    uint8. `image`: (H, W, 3) or (N, H, W, 3), any dtype with values in [0, 255]."""
    image = tf.cast(image, tf.float32)
    rows, cols = image.shape.rank - 3, image.shape.rank - 2
    hw = tf.shape(image)[rows:cols + 1]
    scale = size / (crop * tf.reduce_min(tf.cast(hw, tf.float32)))
    resized = tf.maximum(tf.cast(tf.round(tf.cast(hw, tf.float32) * scale), tf.int32), size)
    image = _resample(image, rows, hw[0], resized[0], size)
    return to_uint8(_resample(image, cols, hw[1], resized[1], size), size)
