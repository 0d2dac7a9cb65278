"""Data: sources (folder, TFRecord, CIFAR, TFDS, arrays, embedded digits) -> tf.data pipelines of uint8 RGB.

DataConfig imports no TensorFlow (a command checks its flags first); the rest is imported when first used."""
from keras_cls.data.config import DataConfig

__all__ = ["Data", "DataConfig", "DataReport", "load", "steps_per_epoch"]


def __getattr__(name):
    if name == "DataReport":
        from keras_cls.data.decode import DataReport

        return DataReport
    if name in ("Data", "load", "steps_per_epoch"):
        from keras_cls.data import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'keras_cls.data' has no attribute {name!r}")
