"""Training: Trainer (strategy, precision, recipes, callbacks, resume) configured by TrainConfig.

TrainConfig imports no TensorFlow (a command checks its flags first); the rest is imported when first used."""
from keras_cls.train.config import TrainConfig

__all__ = ["RECIPES", "Recipe", "TrainConfig", "Trainer", "TrainingDiverged", "WorkerLost"]
_HOMES = {"RECIPES": "recipes", "Recipe": "recipes", "Trainer": "trainer", "TrainingDiverged": "callbacks",
          "WorkerLost": "multiworker"}


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module 'keras_cls.train' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"keras_cls.train.{_HOMES[name]}"), name)
