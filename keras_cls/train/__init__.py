"""Training: Trainer (strategy, precision, recipes, callbacks, resume) configured by TrainConfig."""
from keras_cls.train import schedules  # noqa: F401  (registers WarmupDecay, so load_model finds it)
from keras_cls.train.callbacks import TrainingDiverged
from keras_cls.train.config import TrainConfig
from keras_cls.train.recipes import RECIPES, Recipe
from keras_cls.train.trainer import Trainer

__all__ = ["RECIPES", "Recipe", "TrainConfig", "Trainer", "TrainingDiverged"]
