"""CompressConfig: which compression methods, and their settings, checked when made. Standard library only: the
compress job checks its flags before TensorFlow starts."""
import dataclasses
from typing import Tuple

PTQ_METHODS = ("float32", "dynamic", "float16", "int8")  # TFLite post-training quantization (compress.ptq)
FINE_TUNED = ("qat", "prune")                             # tfmot methods that fine-tune the model first
METHODS = PTQ_METHODS + FINE_TUNED


@dataclasses.dataclass(frozen=True)
class CompressConfig:
    methods: Tuple[str, ...] = METHODS  # float32, dynamic, float16, int8, qat, prune
    sparsity: float = 0.5               # target for "prune", on the pruned layers (Conv2D, Dense)
    prune_depthwise: bool = False       # also prune DepthwiseConv2D kernels (tfmot does not by itself)
    fine_tune_epochs: int = 3           # for qat and prune, on the training split
    steps_per_epoch: int = 0            # 0: one pass over the training split
    learning_rate: float = 1e-4         # Adam, constant
    seed: int = 0                       # dropout and drop-connect while fine-tuning (DataConfig.seed: batch order)
    calibration_images: int = 200       # representative images for int8, from the validation split
    per_channel: bool = True            # int8 weight scales per output channel (False: per tensor, smaller)
    threads: int = 2                    # TFLite interpreter threads for the accuracy and latency runs
    latency_repeats: int = 20           # timed batch-1 calls per file
    top_k: int = 5                      # classes the TFLite files return

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(self.methods))
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"unknown compression method(s) {unknown or '(none given)'}; "
                             f"choose from {', '.join(METHODS)}")
        if not 0.0 < self.sparsity < 1.0:
            raise ValueError(f"sparsity {self.sparsity} must be in (0, 1), e.g. 0.5 for half the weights zero")
        if self.fine_tune_epochs < 1 or self.steps_per_epoch < 0 or self.learning_rate <= 0:
            raise ValueError("fine_tune_epochs must be >= 1, steps_per_epoch >= 0 and learning_rate > 0")
