"""Compression: the Keras 3 <-> tf_keras bridge, tfmot pruning and quantization-aware training, TFLite
post-training quantization, and a size / accuracy / latency table (run.compress).

tfmot is imported only by the modules that need it (prune, qat): importing it sets TF_USE_LEGACY_KERAS=1.
"""
from keras_cls.compress.bridge import NotKerasClsModel, build_args, to_keras, to_tf_keras
from keras_cls.compress.run import METHODS, CompressConfig, compress

__all__ = ["METHODS", "CompressConfig", "NotKerasClsModel", "build_args", "compress", "to_keras", "to_tf_keras"]
