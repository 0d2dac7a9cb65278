"""keras_cls: EfficientNet and ResNet image classifiers, from data to deployment, measured side by side."""
from keras_cls.models import build, list_models, model_info

__version__ = "0.1.0"
__all__ = ["build", "list_models", "model_info", "__version__"]
