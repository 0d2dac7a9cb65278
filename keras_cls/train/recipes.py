"""Training recipes from the papers, as data. Learning rates are per 256 images and scale linearly with batch.

- efficientnet: Tan & Le 2019 — RMSprop (rho 0.9, momentum 0.9, eps 1e-3), 0.016 per 256 decayed 0.97 every
  2.4 epochs, 5 warm-up epochs, weight decay 1e-5, label smoothing 0.1, EMA 0.9999, stochastic depth 0.2.
- efficientnet-adamw: the AdamW variant common in later reproductions (timm, keras-cv), cosine schedule.
- resnet: Goyal et al. 2017 / torchvision — SGD momentum 0.9 nesterov, 0.1 per 256, cosine with linear warm-up,
  weight decay 1e-4 kept off BatchNorm and biases, label smoothing 0.1.
- finetune: a pretrained backbone under a new head (the default when weights are given): AdamW, 1e-3 at batch
  64 for the head alone for the first fifth of the epochs, then the whole network at a tenth of it, each phase
  with warm-up and cosine decay; BatchNorm kept in inference mode; label smoothing 0.1 (see finetune.py).
- fast: short runs on small data sets (the embedded digits): AdamW, cosine, little regularisation, and
  BatchNorm momentum 0.9 so that its statistics keep up with the fast-moving weights, and residual branches
  that start as identities (Goyal et al.'s zero-initialised last BatchNorm scale).
"""
from dataclasses import dataclass, replace
from typing import Optional

NO_DECAY = ("gamma", "beta", "bias")   # BatchNorm scale/offset and biases never get weight decay


@dataclass(frozen=True)
class Recipe:
    optimizer: str
    learning_rate: float                 # per 256 images
    schedule: str                        # "cosine" or "exponential"
    warmup_epochs: float
    weight_decay: float
    label_smoothing: float
    ema: Optional[float] = None          # EMA momentum of the weights; None = off
    decay_rate: float = 0.97             # exponential schedule only
    decay_epochs: float = 2.4
    drop_connect_rate: Optional[float] = None   # None: the variant's own
    dropout_rate: Optional[float] = None
    bn_momentum: Optional[float] = None         # None: the variant's own (EfficientNet V1 0.99, V2 0.9, ResNet 0.9)
    zero_init_residual: bool = False            # from-scratch runs: each residual branch's last BN starts at 0
    # Fine-tuning (finetune.py); head_fraction 0 = one phase, everything trains from the first step.
    head_fraction: float = 0.0                  # phase 1 (head only) as a fraction of the epochs (rounded up)
    backbone_lr: float = 1.0                    # phase 2's peak rate as a fraction of learning_rate
    unfreeze: str = "all"                       # phase 2: "all" or how many backbone blocks from the top learn
    layer_decay: Optional[float] = None         # phase 2: each block further from the head learns this much slower
    train_bn: bool = False                      # phase 2: BatchNorm of unfrozen blocks adapts (else inference mode)


RECIPES = {
    "efficientnet": Recipe("rmsprop", 0.016, "exponential", 5, 1e-5, 0.1, ema=0.9999),
    "efficientnet-adamw": Recipe("adamw", 0.002, "cosine", 5, 0.05, 0.1, ema=0.9999),
    "resnet": Recipe("sgd", 0.1, "cosine", 5, 1e-4, 0.1),
    "finetune": Recipe("adamw", 0.004, "cosine", 0.5, 0.05, 0.1, head_fraction=0.2, backbone_lr=0.1),
    # BatchNorm statistics must follow weights that move fast in a short run: momentum 0.9, not 0.99.
    "fast": Recipe("adamw", 0.048, "cosine", 1.5, 0.05, 0.1, drop_connect_rate=0.0, dropout_rate=0.1,
                   bn_momentum=0.9, zero_init_residual=True),
}
OPTIMIZERS = ("rmsprop", "adamw", "sgd")
SCHEDULES = ("cosine", "exponential")


def resolve(name, default, pretrained=False, **overrides):
    """The recipe `name` ('auto' = 'finetune' from pretrained weights, else `default`: the family's
    DEFAULT_RECIPE) with the non-None overrides applied."""
    from keras_cls.train.finetune import check_unfreeze

    key = ("finetune" if pretrained else default) if name == "auto" else name
    if key not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; allowed: auto, {', '.join(RECIPES)}")
    recipe = replace(RECIPES[key], **{k: v for k, v in overrides.items() if v is not None})
    if recipe.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {recipe.optimizer!r}")
    if recipe.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {recipe.schedule!r}")
    if recipe.learning_rate <= 0 or recipe.weight_decay < 0 or not 0 <= recipe.label_smoothing < 1:
        raise ValueError(f"learning_rate must be > 0, weight_decay >= 0, label_smoothing in [0, 1): {recipe}")
    if not 0 < recipe.backbone_lr <= 1 or not 0 <= recipe.head_fraction < 1 or \
            (recipe.layer_decay is not None and not 0 < recipe.layer_decay <= 1):
        raise ValueError(f"backbone_lr and layer_decay must be in (0, 1], head_fraction in [0, 1): {recipe}")
    recipe = replace(recipe, unfreeze=check_unfreeze(recipe.unfreeze))
    if recipe.head_fraction and not pretrained:
        raise ValueError(f"recipe {key!r} trains a new head on a frozen pretrained backbone first: it needs weights "
                         "(weights='imagenet', 'torchvision', 'timm:<name>' or a file); from scratch use recipe "
                         f"'auto' ({default}) or 'fast'")
    return recipe
