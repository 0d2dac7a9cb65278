"""Export: SavedModels in TF Serving's versioned layout with image-bytes and tensor signatures."""
from keras_cls.export.saved_model import next_version, saved_model, write_models_config

__all__ = ["next_version", "saved_model", "write_models_config"]
