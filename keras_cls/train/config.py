"""TrainConfig: everything a training run needs besides the data, validated when made."""
from dataclasses import dataclass
from typing import Optional

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


@dataclass(frozen=True)
class TrainConfig:
    model: str = "efficientnet-b0"           # the variant to train (keras-cls list)
    run_dir: str = "runs/run"                 # the run folder: same folder again = resume
    epochs: int = 30                          # epochs in all (both phases of fine-tuning)
    steps_per_epoch: Optional[int] = None     # None: one pass over the training split
    recipe: str = "auto"                      # recipes.py: auto = finetune with weights, else the family's
    optimizer: Optional[str] = None           # the rest override the recipe when set
    learning_rate: Optional[float] = None     # per 256 images
    schedule: Optional[str] = None            # cosine | exponential
    warmup_epochs: Optional[float] = None     # linear warm-up of the learning rate
    weight_decay: Optional[float] = None      # never on BatchNorm or biases
    label_smoothing: Optional[float] = None   # in [0, 1)
    ema: Optional[float] = None               # EMA momentum of the weights (0.9999); None = off
    dropout_rate: Optional[float] = None      # before the classifier; None: the variant's
    drop_connect_rate: Optional[float] = None # stochastic depth; None: the variant's
    weights: Optional[str] = None             # pretrained start: "imagenet", "torchvision", "timm:<name>", a file
    head_epochs: Optional[int] = None         # fine-tuning: epochs of phase 1 (head only); None: the recipe's share
    unfreeze: Optional[str] = None            # fine-tuning phase 2: "all" or how many backbone blocks from the top
    backbone_lr: Optional[float] = None       # fine-tuning phase 2: peak rate as a fraction of learning_rate
    layer_decay: Optional[float] = None       # fine-tuning phase 2: rate factor per block further from the head
    train_bn: Optional[bool] = None           # fine-tuning phase 2: BatchNorm adapts (default: inference mode)
    precision: str = "float32"                # float32 | mixed_float16 | mixed_bfloat16
    strategy: str = "default"                 # default | mirrored | multiworker | tpu
    sync_batchnorm: Optional[bool] = None     # all-reduce BatchNorm statistics across replicas; None: with a strategy
    cpu_devices: int = 0                      # >1: split the CPU into logical devices (mirrored on one machine)
    tpu: Optional[str] = None                 # TPU name/address for strategy="tpu"
    jit_compile: bool = False                 # XLA; off by default (slower on CPU, see README)
    seed: int = 0                             # initial weights, dropout, drop-connect (DataConfig.seed: data order)
    deterministic: bool = False               # TensorFlow's deterministic kernels: same seed, bit-identical weights
    verbose: int = 2                          # Keras fit's: 0 silent, 1 progress bar, 2 a line per epoch
    new_run: bool = False                     # run_dir already holds a run: train in a new <run_dir>-<n> instead

    def __post_init__(self):
        from keras_cls.models import get_spec
        from keras_cls.models.building import check_weights

        check_weights(get_spec(self.model), self.weights)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1 (or None for one pass over the training split), got "
                             f"{self.steps_per_epoch}")
        if self.head_epochs is not None and not 0 <= self.head_epochs <= self.epochs:
            raise ValueError(f"head_epochs must be in [0, epochs={self.epochs}], got {self.head_epochs}")
        if self.strategy == "mirrored" and self.cpu_devices == 1:
            raise ValueError("cpu_devices=1 gives MirroredStrategy one replica; use 0 (all GPUs) or >= 2")
