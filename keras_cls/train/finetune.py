"""Fine-tuning a pretrained backbone in two phases of one run (ARCHITECTURE.md, decision 12).

Phase 1 ("head"): the backbone is frozen, only the new head learns. Phase 2 ("backbone"): the top `unfreeze`
backbone units (blocks; 'all' = every unit, stem included) learn too, at `backbone_lr` times the rate, each unit
further from the head optionally `layer_decay` times slower again. Frozen BatchNorm layers run in inference mode
(Keras 3 BatchNormalization with trainable=False), and by default BatchNorm stays frozen in phase 2 as well, so the
pretrained statistics are not dragged by small, differently distributed batches (keras#9214); `train_bn=True`
lets the unfrozen blocks' BatchNorm adapt. Each phase has its own optimizer and warm-up + cosine schedule.
"""
import math
from dataclasses import dataclass

import keras

from keras_cls.models.building import backbone_units


@dataclass(frozen=True)
class Phase:
    index: int        # 1, 2: the `phase` column of log.csv
    name: str         # "train" (one-phase recipes), "head", "backbone"
    start: int        # first epoch (0-based)
    end: int          # one past the last epoch
    lr_factor: float  # of the recipe's learning rate


def plan(recipe, epochs, head_epochs=None):
    """The phases of a run: one for from-scratch recipes; head, then backbone, for fine-tuning (head_fraction > 0)."""
    if not recipe.head_fraction:
        return [Phase(1, "train", 0, epochs, 1.0)]
    head = head_epochs if head_epochs is not None else min(math.ceil(recipe.head_fraction * epochs),
                                                           max(epochs - 1, 1))
    phases = [Phase(1, "head", 0, head, 1.0)] if head else []
    if head < epochs:
        phases.append(Phase(2, "backbone", head, epochs, recipe.backbone_lr))
    return phases


def phase_of(phases, epochs_done):
    """The phase whose optimizer state the backup after `epochs_done` epochs holds (the first before any epoch)."""
    epoch = max(epochs_done - 1, 0)
    return next(i for i, p in enumerate(phases) if p.start <= epoch < p.end)


def unfrozen_units(units, unfreeze):
    if unfreeze == "all":
        return units
    return units[len(units) - int(unfreeze):] if int(unfreeze) else []


def set_phase(model, phase, recipe):
    """Freeze and unfreeze for a phase; returns {variable path: learning-rate scale} for layer-wise decay."""
    if phase.name == "train":
        return {}
    units = backbone_units(model)
    learning = unfrozen_units(units, recipe.unfreeze) if phase.name == "backbone" else []
    learning_names = {u for u, _ in learning}
    in_backbone = {layer.name for _, layers in units for layer in layers}
    scales = {}
    for distance, (unit, layers) in enumerate(reversed(units), 1):
        for layer in layers:
            is_bn = type(layer).__name__ == "BatchNormalization"
            layer.trainable = unit in learning_names and (recipe.train_bn or not is_bn)
            if layer.trainable and recipe.layer_decay:
                scales.update({v.path: recipe.layer_decay ** distance for v in layer.trainable_weights})
    for layer in model.layers:
        if layer.name not in in_backbone:
            layer.trainable = True  # the head always learns
    return scales


def check_unfreeze(value):
    """'all' or a whole number of units, as a string or int (from a flag or a config)."""
    if value is None or value == "all":
        return value
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = -1
    if n < 0 or str(value).strip() != str(n):
        raise ValueError(f"unfreeze must be 'all' or a whole number of backbone blocks >= 0, got {value!r}")
    return str(n)


def _layerwise(base):
    """`base` optimizer whose update of each variable uses the learning rate times its layer-wise scale."""

    class Layerwise(base):
        def __init__(self, *args, lr_scales=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.lr_scales = dict(lr_scales or {})

        def update_step(self, gradient, variable, learning_rate):
            # The backend may hand over its own variable: find ours (and its path) by the optimizer's index.
            scale = self.lr_scales.get(self._trainable_variables[self._get_variable_index(variable)].path)
            if scale is not None:
                learning_rate = learning_rate * scale
            return super().update_step(gradient, variable, learning_rate)

        def get_config(self):
            return {**super().get_config(), "lr_scales": self.lr_scales}

    Layerwise.__name__ = Layerwise.__qualname__ = f"Layerwise{base.__name__}"
    return keras.saving.register_keras_serializable(package="keras_cls")(Layerwise)


OPTIMIZERS = {"rmsprop": keras.optimizers.RMSprop, "adamw": keras.optimizers.AdamW, "sgd": keras.optimizers.SGD}
LAYERWISE = {name: _layerwise(cls) for name, cls in OPTIMIZERS.items()}
