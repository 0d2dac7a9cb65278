"""The contract of a model family, which the registry and the builder rely on (ARCHITECTURE.md, decision 2).

A family is one module: a table of spec rows (variants are data), a block-name pattern, the names of its weight
sources and default recipe, and the functions below. Everything family-specific lives there — the network, weight
sources and their loading, the head layers a weights file may hold that a model lacks, the start of an untrained
model — so a new family is its module plus one line in `registry.FAMILY_MODULES` (or `registry.registered(module)`
for a family that lives outside the package). `registry` checks each family against `Family` when it registers it,
so a family that lacks a part fails at import with the part named, not at its first build.
"""
from typing import Dict, List, Optional, Protocol, Tuple, runtime_checkable


class Spec(Protocol):
    name: str              # "efficientnet-b0", "resnet-50": what build() and every artifact call it
    family: str            # the FAMILY of its module
    resolution: int        # default input size (square)
    dropout: float         # default rate before the classifier
    drop_connect: float    # default stochastic-depth rate (the last block's)

    @property
    def imagenet_weights(self) -> bool:
        """Whether weights="imagenet" exists for this variant."""


@runtime_checkable
class Family(Protocol):
    FAMILY: str            # its name: "efficientnet", "resnet"; every spec row's `family`
    SPECS: Tuple[Spec, ...]
    BLOCK_NAME: str        # regex of a backbone block's layer names (fine-tuning unfreezes whole blocks)
    WEIGHT_SOURCES: str    # the weights= values it loads, in words, for error messages
    DEFAULT_RECIPE: str    # the training recipe (train/recipes.py) of recipe="auto" from scratch

    def backbone(self, k, spec, inputs, *, weights, drop_connect_rate, features_only):
        """(last feature map, {"C2".."C5": feature maps}) of `spec` built with the Keras module `k` on `inputs`
        (RGB in [0, 255]); the builder adds the head."""

    def scaled_stages(self, spec) -> List[dict]:
        """The stage table after scaling: what the built network has."""

    def feature_channels(self, spec) -> Dict[str, int]:
        """Channels of the C2-C5 feature maps."""

    def check_weights(self, spec, weights: str) -> bool:
        """Refuse (ValueError naming what is allowed) a weights source this variant cannot load; True when
        `weights` names a source (a hub or published file), False when it must be a local file."""

    def fetch_weights(self, spec, weights: str, *, full_head: bool) -> Optional[str]:
        """The local file a named (checked) source means, downloaded once, or WeightsUnavailableError saying what
        to get and where to put it; None for a local file. Jobs call it before they write anything."""

    def load_weights(self, model, spec, weights: str, *, full_head: bool, features_only: bool) -> str:
        """Load a checked source into `model` (the pretrained classifier only when `full_head`: a 1000-class top);
        a one-line account of what was loaded."""

    def init_untrained(self, model, spec) -> None:
        """Set what an untrained model starts from other than its initializers (nothing, for most families)."""


PARTS = ("FAMILY", "SPECS", "BLOCK_NAME", "WEIGHT_SOURCES", "DEFAULT_RECIPE", "backbone", "scaled_stages",
         "feature_channels", "check_weights", "fetch_weights", "load_weights", "init_untrained")
SPEC_FIELDS = ("name", "family", "resolution", "dropout", "drop_connect", "imagenet_weights")


def check(module):
    """`module` if it is a Family whose rows name it, else a TypeError naming what it lacks."""
    missing = [part for part in PARTS if not hasattr(module, part)]
    if missing or not isinstance(module, Family):
        raise TypeError(f"model family {module.__name__} lacks {', '.join(missing)}")
    check_row(module, *module.SPECS)
    return module


def check_row(module, *specs):
    """TypeError unless every row has the spec fields and names `module`'s family."""
    for spec in specs:
        lacking = [f for f in SPEC_FIELDS if not hasattr(spec, f)]
        if lacking:
            raise TypeError(f"spec row {spec!r} lacks {', '.join(lacking)}")
        if spec.family != module.FAMILY:
            raise TypeError(f"spec row {spec.name!r} says family {spec.family!r}, its module "
                            f"{module.__name__} is {module.FAMILY!r}")
