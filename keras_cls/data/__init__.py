"""Data: sources (folder, TFRecord, CIFAR, TFDS, arrays, embedded digits) -> tf.data pipelines of uint8 RGB."""
from keras_cls.data.decode import DataReport
from keras_cls.data.pipeline import Data, DataConfig, load, steps_per_epoch

__all__ = ["Data", "DataConfig", "DataReport", "load", "steps_per_epoch"]
