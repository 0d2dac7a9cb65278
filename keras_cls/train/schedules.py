"""Learning-rate schedule with linear warm-up, then cosine or exponential decay (serializable with the model)."""
import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cls")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps, total_steps, kind="cosine", decay_rate=0.97, decay_steps=1):
        self.peak, self.warmup_steps, self.total_steps = float(peak), int(warmup_steps), int(total_steps)
        self.kind, self.decay_rate, self.decay_steps = kind, float(decay_rate), max(1, int(decay_steps))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.peak * step / max(1, self.warmup_steps)
        after = ops.maximum(step - self.warmup_steps, 0.0)
        if self.kind == "cosine":
            progress = ops.minimum(after / max(1, self.total_steps - self.warmup_steps), 1.0)
            decayed = 0.5 * self.peak * (1.0 + ops.cos(math.pi * progress))
        else:
            decayed = self.peak * ops.power(self.decay_rate, ops.floor(after / self.decay_steps))
        return ops.where(step < self.warmup_steps, warm, decayed)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps,
                "kind": self.kind, "decay_rate": self.decay_rate, "decay_steps": self.decay_steps}
