"""TFLite export with the serving contract of `serve_images`, and a runner for the files.

The file has one signature (TFLite names it serving_default): `images`, a float32 RGB batch of any size with values
in [0, 255] -> resize to the model's resolution -> model -> classes, class_names, probabilities (top-k) and scores,
the outputs of the SavedModel's signatures. Encoded bytes are decoded outside (TFLite has no image decoders
among its built-in ops); `TFLiteModel.classify_bytes` does it with the same decoder the SavedModel uses.
"""

import numpy as np
import tensorflow as tf

from keras_cls import files
from keras_cls.export.saved_model import ServingModule


class TFLiteModule(ServingModule):
    def __init__(self, model, class_names=None, top_k=5):
        super().__init__(model, class_names, top_k)
        # The converter freezes only the tf.Variables it finds on the module: Keras 3 wraps them, so name them
        # (tf_keras models, e.g. tfmot's, hold tf.Variables). A SavedModel would store them twice this way;
        # ServingModule does not do it.
        self.model_variables = [v if isinstance(v, tf.Variable) else v.value for v in model.variables]

    def _scores(self, pixels):
        # No empty-batch branch: a tf.cond becomes a control-flow subgraph that XNNPACK does not run.
        return tf.cast(self.model(pixels, training=False), tf.float32)


def converter(model, class_names=None, top_k=5):
    """A TFLiteConverter for `model` wrapped in the serving contract; set quantization options on it, then
    convert(). The module must stay alive until convert() has run, so it rides on the converter."""
    module = TFLiteModule(model, class_names, top_k)
    result = tf.lite.TFLiteConverter.from_concrete_functions([module.serve_images.get_concrete_function()], module)
    result.keras_cls_module = module
    return result


def tflite(model, path, class_names=None, top_k=5):
    """Export `model` as a float32 TFLite file at `path` (written whole or not at all); returns the path."""
    if not path.endswith(".tflite"):
        raise ValueError(f"TFLite path {path!r} must end with .tflite")
    return files.write_bytes(path, converter(model, class_names, top_k).convert())


def interpreter(path_or_bytes, num_threads=2):
    """A LiteRT interpreter (ai_edge_litert, the successor of the deprecated tf.lite.Interpreter)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise ImportError("running TFLite files needs ai-edge-litert: pip install 'keras_cls[serving]'") from e
    source = {"model_content": path_or_bytes} if isinstance(path_or_bytes, bytes) else {"model_path": path_or_bytes}
    return Interpreter(**source, num_threads=num_threads)


class TFLiteModel:
    """A keras_cls TFLite file, called like the SavedModel's signatures: `model(images)` -> dict of arrays."""

    def __init__(self, path, num_threads=2):
        self.interpreter = interpreter(path, num_threads)
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1 or signatures[next(iter(signatures))]["inputs"] != ["images"]:
            raise ValueError(f"{path} is not a keras_cls TFLite classifier (signatures: {signatures})")
        self.runner = self.interpreter.get_signature_runner(next(iter(signatures)))
        self.input_dtype = self.runner.get_input_details()["images"]["dtype"]

    def __call__(self, images):
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or 0 in images.shape[1:3]:
            raise ValueError(f"images must be a batch of RGB images (batch, height, width, 3); got {images.shape}")
        if images.shape[0] == 0:
            raise ValueError("images is an empty batch")
        return self.runner(images=images.astype(self.input_dtype))

    def classify_bytes(self, encoded):
        """Decode each encoded image (JPEG, PNG, GIF, BMP) as serving_default does and classify them one by one
        (they may differ in size); returns the outputs stacked over the images."""
        from keras_cls.data.decode import decode_rgb

        if not encoded:
            raise ValueError("no images to classify")
        rows = [self(decode_rgb(tf.constant(data))[None].numpy()) for data in encoded]
        return {key: np.concatenate([row[key] for row in rows]) for key in rows[0]}
