"""TFLite export with the serving contract of `serve_images`, and a runner for the files.

The file has one signature (TFLite names it serving_default): `images`, a float32 RGB batch of any size with values
in [0, 255] -> the model's preprocessing contract -> model -> classes, class_names, probabilities (top-k) and
scores, the outputs of the SavedModel's signatures. The contract itself is stored in the file as model metadata
(`keras_cls.preprocessing`, JSON), read without running anything. Encoded bytes are decoded outside
(TFLite has no image decoders among its built-in ops); `TFLiteModel.classify_bytes` checks the pixel limit from the
header and decodes with the same functions the SavedModel uses. TFLite has no Assert op: the runner checks its
inputs (3 channels, finite values, pixel limit) in Python before calling the interpreter.
"""

import numpy as np
import tensorflow as tf

from keras_cls import files
from keras_cls.data.contract import MAX_PIXELS, Preprocessing, warn_unit_range
from keras_cls.export.saved_model import ServingModule, error_message
from keras_cls.quiet import native_logs_held


class TFLiteModule(ServingModule):
    def _scores(self, pixels):
        # No empty-batch branch: a tf.cond becomes a control-flow subgraph that XNNPACK does not run.
        return tf.cast(self.model(pixels, training=False), tf.float32)

    def _checked(self, images):
        return images  # TFLite drops Assert ops: TFLiteModel checks the inputs before the interpreter runs


def converter(model, class_names=None, top_k=5, preprocessing=None):
    """A TFLiteConverter for `model` wrapped in the serving contract; set quantization options on it, then pass it
    to `convert`. The module must stay alive until the conversion has run, so it rides on the converter."""
    module = TFLiteModule(model, class_names, top_k, preprocessing)
    # The converter saves the object it is given: the variables only, not the module's other signatures (each would
    # be traced for nothing: ~1.5 s of a ResNet-18 conversion).
    variables = tf.Module()
    variables.model_variables = module.model_variables
    result = tf.lite.TFLiteConverter.from_concrete_functions([module.serve_images.get_concrete_function()], variables)
    result.keras_cls_module = module
    return result


METADATA = b"keras_cls.preprocessing"


def convert(lite):
    """The TFLite bytes of a converter made by `converter`, with its module's contract stored as metadata.
    (Metadata, not a signature: quantized files do not run a signature without inputs.)"""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    with native_logs_held():  # the converter's own log lines ("fully_quantize: 0, ...") are not for the user
        content = lite.convert()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(lite.keras_cls_module.contract.to_json().encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_contract(content):
    """The Preprocessing stored in TFLite bytes, or None (a file made before contracts were stored)."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(content, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == METADATA:
            return Preprocessing.from_json(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes().decode())
    return None


def tflite(model, path, class_names=None, top_k=5, preprocessing=None):
    """Export `model` as a float32 TFLite file at `path` (written whole or not at all); returns the path."""
    if not path.endswith(".tflite"):
        raise ValueError(f"TFLite path {path!r} must end with .tflite")
    return files.write_bytes(path, convert(converter(model, class_names, top_k, preprocessing)))


def interpreter(path_or_bytes, num_threads=2):
    """A LiteRT interpreter (ai_edge_litert, the successor of the deprecated tf.lite.Interpreter), its tensors
    allocated (its XNNPACK delegate's start-up line held back, like TensorFlow's)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise ImportError("running TFLite files needs ai-edge-litert: pip install 'keras_cls[serving]'") from e
    source = {"model_content": path_or_bytes} if isinstance(path_or_bytes, bytes) else {"model_path": path_or_bytes}
    with native_logs_held():
        loaded = Interpreter(**source, num_threads=num_threads)
        loaded.allocate_tensors()
    return loaded


class TFLiteModel:
    """A keras_cls TFLite file, called like the SavedModel's signatures: `model(images)` -> dict of arrays."""

    def __init__(self, path, num_threads=2):
        self.interpreter = interpreter(path, num_threads)
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1 or signatures[next(iter(signatures))]["inputs"] != ["images"]:
            raise ValueError(f"{path} is not a keras_cls TFLite classifier (signatures: {signatures})")
        self.runner = self.interpreter.get_signature_runner(next(iter(signatures)))
        self.input_dtype = self.runner.get_input_details()["images"]["dtype"]
        with open(path, "rb") as f:
            self.contract = read_contract(f.read())

    @property
    def max_pixels(self):
        return self.contract.max_pixels if self.contract else MAX_PIXELS

    def __call__(self, images):
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or 0 in images.shape[1:3]:
            raise ValueError(f"images must be a batch of RGB images (batch, height, width, 3); got {images.shape}")
        if images.shape[0] == 0:
            raise ValueError("images is an empty batch")
        if images.shape[1] * images.shape[2] > self.max_pixels:
            raise ValueError(f"images of {images.shape[2]}x{images.shape[1]} have more pixels than the limit "
                             f"max_pixels={self.max_pixels:,}")
        if images.dtype.kind == "f" and not np.isfinite(images).all():
            raise ValueError("images must be finite (no NaN or infinity)")
        warn_unit_range(images, "TFLite model")
        return self.runner(images=images.astype(self.input_dtype))

    def classify_bytes(self, encoded):
        """Check the pixel limit from each encoded image's header, decode it (JPEG, PNG, GIF, BMP, WebP) as
        serving_default does and classify them one by one (they may differ in size); returns the outputs stacked
        over the images. Errors name the image by its position."""
        from keras_cls.data.decode import check_pixels, decode_rgb

        if not encoded:
            raise ValueError("no images to classify")
        rows = []
        for i, data in enumerate(encoded):
            try:
                rows.append(self(decode_rgb(check_pixels(tf.constant(data), self.max_pixels))[None].numpy()))
            except tf.errors.InvalidArgumentError as e:
                raise tf.errors.InvalidArgumentError(None, None, f"image {i}: {error_message(e.message)}") from e
        return {key: np.concatenate([row[key] for row in rows]) for key in rows[0]}
