"""The model zoo: EfficientNet V1/V2 and ResNet families (family.py) behind one registry and one builder."""
from keras_cls.models.building import build
from keras_cls.models.info import model_info
from keras_cls.models.registry import get_spec, list_models, registered

__all__ = ["build", "get_spec", "list_models", "model_info", "registered"]
