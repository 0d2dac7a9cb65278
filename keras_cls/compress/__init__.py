"""Compression: the Keras 3 <-> tf_keras bridge, tfmot pruning and quantization-aware training, TFLite
post-training quantization, and a size / accuracy / latency table (run.compress).

CompressConfig imports no TensorFlow (the compress job checks its flags first); the rest is imported when first
used. tfmot is imported only by the modules that need it (prune, qat): importing it sets TF_USE_LEGACY_KERAS=1.
"""
from keras_cls.compress.config import METHODS, CompressConfig

__all__ = ["METHODS", "CompressConfig", "NotKerasClsModel", "build_args", "compress", "to_keras", "to_tf_keras"]


def __getattr__(name):
    if name in ("NotKerasClsModel", "build_args", "to_keras", "to_tf_keras"):
        from keras_cls.compress import bridge

        return getattr(bridge, name)
    if name == "compress":
        from keras_cls.compress.run import compress

        return compress
    raise AttributeError(f"module 'keras_cls.compress' has no attribute {name!r}")
