"""DataConfig: where the images come from and how they are read, resized and augmented, checked when made; and
PrepareConfig (folder -> TFRecord shards). Standard library only: a command checks its flags before TensorFlow
starts."""
from dataclasses import dataclass, replace
from typing import Optional, Tuple

EVAL_CROP = 0.875  # the evaluation center crop's share of the shorter side (the ImageNet convention: 224 of 256)
MAX_PIXELS = 50_000_000  # ~50 megapixels: any camera photo; a decoded bomb of that size is 150 MB of uint8
SOURCES = ("digits", "elpv", "lfw", "folder", "tfrecord", "cifar", "tfds", "arrays")
BUILT_IN = ("digits", "elpv", "lfw", "arrays")  # sources that need no path
VERIFY = ("header", "full", "none")


@dataclass(frozen=True)
class DataConfig:
    source: str = "digits"                # digits | elpv | lfw | folder | tfrecord | cifar | tfds | arrays
    path: Optional[str] = None            # folder / TFRecord folder or glob / CIFAR folder / TFDS dataset name
    image_size: Optional[int] = None      # training and evaluation size in pixels (square); None: the model's own
    batch_size: int = 32                  # images per step (all replicas together)
    validation_fraction: float = 0.1      # held out of train when the source has no validation split
    test_fraction: float = 0.1            # held out of train when the source has no test split
    num_classes: Optional[int] = None     # TFRecords carry no class list: say how many
    label_offset: int = 0                 # added to TFRecord labels (-1 for 1-based ImageNet shards)
    seed: int = 0                         # shuffling, splits and augmentation
    deterministic: bool = False           # keep the file order in parallel reads (slower)
    cache: Optional[str] = None           # None, "memory" or a file path prefix (decoded images)
    shuffle_buffer: int = 10_000          # images in the shuffle buffer
    crop_scale: Tuple[float, float] = (0.08, 1.0)  # random-resized-crop area range: low,high
    pad_crop: int = 0                     # >0: CIFAR-style pad-and-random-crop (translation) instead of RRC
    flip: Optional[bool] = None           # None: the source decides (digits: no flip)
    eval_crop: float = EVAL_CROP          # evaluation center crop: fraction of the shorter side
    max_pixels: int = MAX_PIXELS          # images with more pixels (read from the header) are skipped as bombs
    randaugment: int = 0                  # RandAugment ops per image; 0 = off
    randaugment_factor: float = 0.5       # RandAugment magnitude in [0, 1]
    mixup: float = 0.0                    # MixUp alpha; 0 = off
    cutmix: float = 0.0                   # CutMix alpha; 0 = off
    verify: str = "header"                # scan before training: header (cheap), full (decode all), none
    strict: bool = False                  # stop at the first bad input instead of skipping it

    def __post_init__(self):
        _check(self.source in SOURCES, f"source must be one of {SOURCES}, got {self.source!r}")
        _check(self.verify in VERIFY, f"verify must be one of {VERIFY}, got {self.verify!r}")
        _check(self.image_size is None or self.image_size >= 32, f"image_size must be at least 32 px (or None for "
               f"the model's own resolution), got {self.image_size}")
        _check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        _check(0 < self.crop_scale[0] <= self.crop_scale[1] <= 1, f"crop_scale must be 0 < lo <= hi <= 1, got "
               f"{self.crop_scale}")
        _check(0 <= self.pad_crop < (self.image_size or 32) // 2, f"pad_crop must be in [0, image_size / 2), got "
               f"{self.pad_crop}")
        _check(0 < self.eval_crop <= 1, f"eval_crop must be in (0, 1], got {self.eval_crop}")
        for name in ("validation_fraction", "test_fraction"):
            _check(0 <= getattr(self, name) < 0.5, f"{name} must be in [0, 0.5), got {getattr(self, name)}")
        _check(self.cache in (None, "memory") or isinstance(self.cache, str), "cache must be None, 'memory' or a path")
        _check(self.source in BUILT_IN or self.path, f"source {self.source!r} needs a path")

    def for_model(self, resolution):
        """This config at the model's resolution when no image_size was given (an explicit one wins)."""
        return self if self.image_size is not None else replace(self, image_size=resolution)


def _check(ok, message):
    if not ok:
        raise ValueError(message)


@dataclass(frozen=True)
class PrepareConfig:
    """keras-cls prepare: an image folder -> sharded TFRecords with a manifest (keras_cls.data.prepare)."""
    path: Optional[str] = None            # the image folder: root/<class>/<image> or root/train|val|test/<class>/...
    out_dir: Optional[str] = None         # where the shards and manifest.json go
    images_per_shard: int = 1024          # records per shard (ImageNet's train shards hold ~1,250)
    validation_fraction: float = 0.1      # held out of train when the folder has no val/validation split
    test_fraction: float = 0.0            # held out of train when the folder has no test split
    verify: str = "header"                # header: check each file's header; full: also decode every image
    max_pixels: int = MAX_PIXELS          # images with more pixels (from the header) are skipped as bombs
    workers: int = 4                      # shards written at the same time
    seed: int = 0                         # the order of images across shards (each shard mixes the classes)

    def __post_init__(self):
        checks = [(bool(self.path) and bool(self.out_dir), "path (the image folder) and out_dir are required"),
                  (self.images_per_shard >= 1, f"images_per_shard must be >= 1, got {self.images_per_shard}"),
                  (self.workers >= 1, f"workers must be >= 1, got {self.workers}"),
                  (self.verify in ("header", "full"), f"verify must be header or full, got {self.verify!r}"),
                  (self.max_pixels >= 1, f"max_pixels must be >= 1, got {self.max_pixels}")]
        checks += [(0 <= getattr(self, n) < 0.5, f"{n} must be in [0, 0.5), got {getattr(self, n)}")
                   for n in ("validation_fraction", "test_fraction")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
