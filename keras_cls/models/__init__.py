"""The model zoo: EfficientNet V1/V2 and ResNet builders behind one registry."""
from keras_cls.models.info import model_info
from keras_cls.models.registry import build, get_spec, list_models

__all__ = ["build", "get_spec", "list_models", "model_info"]
