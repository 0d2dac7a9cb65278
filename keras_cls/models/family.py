"""The contract of a model family, which the registry relies on (variants are data rows, ARCHITECTURE.md, decision 2).

A family is a module with a table of spec rows, a block-name pattern and three functions; a spec row is a frozen
dataclass with at least the fields and property of `Spec`. `registry` checks each family against `Family` when it
registers them, so a new family that lacks a part fails at import with the part named, not at its first build.
"""
from typing import Dict, List, Protocol, Tuple, runtime_checkable


class Spec(Protocol):
    name: str              # "efficientnet-b0", "resnet-50": what build() and every artifact call it
    family: str            # the key of its module in registry.FAMILIES
    resolution: int        # default input size (square)
    dropout: float         # default rate before the classifier
    drop_connect: float    # default stochastic-depth rate (the last block's)

    @property
    def imagenet_weights(self) -> bool:
        """Whether weights="imagenet" exists for this variant."""


@runtime_checkable
class Family(Protocol):
    SPECS: Tuple[Spec, ...]
    BLOCK_NAME: str        # regex of a backbone block's layer names (fine-tuning unfreezes whole blocks)

    def build(self, k, spec, inputs, *, weights, drop_connect_rate, features_only):
        """(last feature map, {"C2".."C5": feature maps}) of `spec` built with the Keras module `k` on `inputs`
        (RGB in [0, 255]); the registry adds the head."""

    def scaled_stages(self, spec) -> List[dict]:
        """The stage table after scaling: what the built network has."""

    def feature_channels(self, spec) -> Dict[str, int]:
        """Channels of the C2-C5 feature maps."""


def check(name, module):
    """`module` if it is a Family, else a TypeError naming what it lacks."""
    missing = [part for part in ("SPECS", "BLOCK_NAME", "build", "scaled_stages", "feature_channels")
               if not hasattr(module, part)]
    fields = ("name", "family", "resolution", "dropout", "drop_connect", "imagenet_weights")
    missing += [f"{s.name}.{f}" for s in getattr(module, "SPECS", ()) for f in fields if not hasattr(s, f)]
    if missing or not isinstance(module, Family):
        raise TypeError(f"model family {name!r} ({module.__name__}) lacks {', '.join(missing)}")
    return module
