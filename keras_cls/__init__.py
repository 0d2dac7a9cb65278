"""keras_cls: EfficientNet and ResNet image classifiers, from data to deployment, measured side by side."""
import importlib

from keras_cls.models import build, get_spec, list_models, model_info, registered

__version__ = "0.1.0"
__all__ = ["build", "get_spec", "list_models", "model_info", "registered", "data", "train", "evaluate", "__version__"]
_LAZY = ("data", "train", "evaluate", "bench")


def __getattr__(name):
    """Heavy parts (TensorFlow pipelines, training) load on first use, so `import keras_cls` stays fast."""
    if name in _LAZY:
        return importlib.import_module(f"keras_cls.{name}")
    raise AttributeError(f"module 'keras_cls' has no attribute {name!r}")
