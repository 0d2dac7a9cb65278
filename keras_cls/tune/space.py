"""The search space as data: which variants, resolutions and training settings a search may choose.

A JSON file with the same field names (any subset) gives a space: `SearchSpace.from_file("space.json")`.
Ranges are (low, high); learning rate and weight decay are sampled on a log scale.
"""
import dataclasses
import json
from typing import Tuple

from keras_cls.models import get_spec

OPTIMIZERS = ("adamw", "sgd", "rmsprop")
# Augmentation strength -> DataConfig settings (translation by pad-and-crop, then MixUp on top).
AUGMENT = {"none": {"pad_crop": 0, "mixup": 0.0}, "light": {"pad_crop": 2, "mixup": 0.0},
           "medium": {"pad_crop": 4, "mixup": 0.0}, "strong": {"pad_crop": 4, "mixup": 0.2}}


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    variants: Tuple[str, ...] = ("resnet-18", "efficientnet-b0")
    image_sizes: Tuple[int, ...] = ()        # searched sizes; empty: the data's image_size, else each variant's own
    dropout: Tuple[float, float] = (0.0, 0.3)
    drop_connect: Tuple[float, float] = (0.0, 0.2)
    optimizers: Tuple[str, ...] = ("adamw", "sgd")
    learning_rate: Tuple[float, float] = (0.01, 0.2)     # per 256 images
    weight_decay: Tuple[float, float] = (1e-5, 0.05)
    label_smoothing: Tuple[float, float] = (0.0, 0.15)
    augment: Tuple[str, ...] = ("light", "medium", "strong")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = tuple(getattr(self, f.name))
            object.__setattr__(self, f.name, value)
            if not value and f.name != "image_sizes":
                raise ValueError(f"search space {f.name!r} is an empty list: give at least one choice")
        names = [get_spec(v).name for v in self.variants]  # unknown names raise with the nearest valid ones
        object.__setattr__(self, "variants", tuple(dict.fromkeys(names)))
        for name in ("dropout", "drop_connect", "learning_rate", "weight_decay", "label_smoothing"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"search space {name!r} must be a range (low, high) with 0 <= low <= high; "
                                 f"got {(low, high)}")
        for name, allowed in (("optimizers", OPTIMIZERS), ("augment", tuple(AUGMENT))):
            unknown = [v for v in getattr(self, name) if v not in allowed]
            if unknown:
                raise ValueError(f"search space {name!r}: unknown {unknown}; choose from {', '.join(allowed)}")
        if self.image_sizes and min(self.image_sizes) < 32:
            raise ValueError(f"image sizes must be at least 32 px; got {self.image_sizes}")

    @classmethod
    def from_file(cls, path):
        with open(path) as f:
            values = json.load(f)
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"{path}: unknown search space field(s) {sorted(unknown)}; "
                             f"known: {', '.join(f.name for f in dataclasses.fields(cls))}")
        return cls(**values)

    def families(self):
        """{family: [variants]} in the order given."""
        result = {}
        for name in self.variants:
            result.setdefault(get_spec(name).family, []).append(name)
        return result
