"""Export: SavedModels in TF Serving's versioned layout, TFLite files, and clients for both (client.py)."""
from keras_cls.export.saved_model import next_version, saved_model, write_models_config
from keras_cls.export.lite import TFLiteModel, tflite

__all__ = ["TFLiteModel", "next_version", "saved_model", "tflite", "write_models_config"]
