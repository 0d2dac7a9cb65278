"""SavedModel export in TF Serving's layout: root/<name>/<version>/, written whole or not at all.

A tf.Module with @tf.function signatures, saved by tf.saved_model.save, stores each weight once
(keras.export.ExportArchive keeps a second copy under _all_variables/, keras#23553). Every image goes through the
model's preprocessing contract (keras_cls.data.contract: the evaluation transform of its run), so served scores
equal evaluated scores. Signatures:
- serving_default: encoded images (tf.string: JPEG, PNG, GIF, BMP, WebP) -> pixel limit from the header ->
  decode -> RGB -> contract -> model;
- serve_images: a float32 image batch of any size, values in [0, 255] -> checks (3 channels, finite values, pixel
  limit) -> contract -> model;
- serve_images_uint8: the same for a uint8 batch (a gRPC client sending camera frames as they are);
- preprocessing: no input; the contract as JSON (also in assets/preprocessing.json).
All but the last return classes (int64, top-k), class_names (string, top-k), probabilities (top-k) and scores (all
classes). Bad input is an InvalidArgument error naming the problem; TF Serving fails a batch as a whole, so
clients have a per-image mode (keras_cls.export.client) that names the bad images.
"""
import os
import re
import shutil

import tensorflow as tf
from tensorflow.python.trackable.data_structures import NoDependency

from keras_cls import files
from keras_cls.data.contract import Preprocessing
from keras_cls.data.decode import check_pixels, decode_rgb
from keras_cls.export.inference_graph import inference_graph


def error_message(message):
    """The useful line of a TensorFlow runtime error: our assertion's text, or the kernel's own message."""
    assertion = re.search(r"assertion failed: \[(.*?)\]", message)
    if assertion:
        return assertion.group(1)
    noise = ("Graph execution error", "Detected at node", "<stack traces unavailable>", "\t [[")
    lines = [line for line in message.splitlines() if line.strip() and not line.startswith(noise)]
    return lines[0] if lines else message


def checked_class_names(model, class_names):
    """The class names as a list; when none are given, ImageNet-1k's for a 1000-class model (models/imagenet.py),
    else "0", "1", ...; their number must match the outputs."""
    from keras_cls.models import imagenet

    classes = model.output_shape[-1]
    default = imagenet.class_names() if classes == imagenet.NUM_CLASSES else [str(i) for i in range(classes)]
    class_names = list(class_names) if class_names is not None else default
    if len(class_names) != classes:
        raise ValueError(f"{len(class_names)} class names for a model with {classes} outputs")
    return class_names


def model_contract(model, preprocessing=None):
    """The contract an export applies: the given one (a run's), or the default evaluation transform at the
    model's input size; it must produce what the model takes."""
    size = tuple(model.input_shape[1:3])
    if None in size or size[0] != size[1]:
        raise ValueError(f"export needs a fixed square input size; the model takes {model.input_shape}")
    preprocessing = preprocessing or Preprocessing(int(size[0]))
    if preprocessing.image_size != size[0]:
        raise ValueError(f"the preprocessing contract makes {preprocessing.image_size} px images; the model takes "
                         f"{size[0]} px")
    return preprocessing


class ServingModule(tf.Module):
    def __init__(self, model, class_names=None, top_k=5, preprocessing=None):
        super().__init__()
        class_names = checked_class_names(model, class_names)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        # The module holds the model's tf.Variables (Keras 3 wraps them), not the model: saving a tf_keras model
        # (tfmot's) as a child traces every layer's call on its own (~1,000 functions: 15 s of a ResNet-18
        # conversion); the signatures need only the variables.
        self.model = NoDependency(model)
        self.model_variables = [v if isinstance(v, tf.Variable) else v.value for v in model.variables]
        self.contract = model_contract(model, preprocessing)
        self.size = (self.contract.image_size,) * 2
        self.class_names = tf.constant(list(class_names))
        self.num_classes = len(class_names)
        self.top_k = min(top_k, len(class_names))

    def _scores(self, pixels):
        # An empty batch answers empty outputs; some CPU kernels reject a zero batch inside the network.
        return tf.cond(tf.shape(pixels)[0] > 0,
                       lambda: tf.cast(self.model(pixels, training=False), tf.float32),
                       lambda: tf.zeros([0, self.num_classes], tf.float32))

    def _outputs(self, pixels):
        scores = self._scores(pixels)
        top = tf.math.top_k(scores, k=self.top_k)
        return {"classes": tf.cast(top.indices, tf.int64), "class_names": tf.gather(self.class_names, top.indices),
                "probabilities": top.values, "scores": scores}

    def _checked(self, images):
        """InvalidArgument errors for what the signature's shape does not stop (TF Serving does not enforce it)."""
        shape = tf.shape(images)
        checks = [tf.debugging.assert_rank(images, 4, message="images must be a batch (batch, height, width, 3)"),
                  tf.debugging.assert_equal(shape[-1], 3, message="images must have 3 channels (RGB)"),
                  tf.debugging.assert_less_equal(
                      tf.cast(shape[1], tf.int64) * tf.cast(shape[2], tf.int64),
                      tf.constant(self.contract.max_pixels, tf.int64),
                      message=f"images have more pixels than the limit max_pixels={self.contract.max_pixels:,}")]
        if images.dtype.is_floating:
            checks.append(tf.debugging.assert_all_finite(images, "images must be finite (no NaN or infinity)"))
        with tf.control_dependencies(checks):
            return tf.identity(images)

    def _pixels(self, images):
        return tf.cast(self.contract.apply(images), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve_bytes(self, images):
        max_pixels = self.contract.max_pixels
        pixels = tf.map_fn(lambda data: self._pixels(decode_rgb(check_pixels(data, max_pixels))), images,
                           fn_output_signature=tf.TensorSpec([*self.size, 3], tf.float32))
        return self._outputs(pixels)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_images(self, images):
        return self._outputs(self._pixels(self._checked(images)))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve_images_uint8(self, images):
        return self._outputs(self._pixels(self._checked(images)))

    @tf.function(input_signature=[])
    def preprocessing(self):
        return {"preprocessing": tf.constant(self.contract.to_json())}

    def signatures(self):
        return {"serving_default": self.serve_bytes, "serve_images": self.serve_images,
                "serve_images_uint8": self.serve_images_uint8, "preprocessing": self.preprocessing}


CONTRACT_ASSET = os.path.join("assets", "preprocessing.json")  # in every version: the contract, for any reader


def exported_contract(path):
    """The preprocessing contract of the exported version at `path` (its asset)."""
    with open(os.path.join(path, CONTRACT_ASSET)) as f:
        return Preprocessing.from_json(f.read())


def next_version(model_dir):
    """1 + the largest integer version folder under model_dir (1 when there is none)."""
    versions = [int(d) for d in os.listdir(model_dir) if d.isdigit()] if os.path.isdir(model_dir) else []
    return max(versions, default=0) + 1


def saved_model(model, root="saved_models", name=None, version=None, class_names=None, top_k=5, preprocessing=None):
    """Export `model` to root/<name>/<version>/ for TF Serving; returns that path.

    The version is written to a hidden temporary folder beside it and renamed into place when complete, so a
    server polling root/<name>/ never sees half a version; earlier versions are never touched.
    """
    name = name or model.name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"model name {name!r} must be letters, digits, '.', '_' or '-' (it becomes a folder)")
    module = ServingModule(inference_graph(model), class_names, top_k, preprocessing)
    model_dir = os.path.join(root, name)
    version = next_version(model_dir) if version is None else int(version)
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise ValueError(f"{final} exists; versions are never overwritten (omit version for the next one)")
    os.makedirs(model_dir, exist_ok=True)
    files.remove_leftovers(model_dir)  # versions that killed exports left half-written
    tmp = os.path.join(model_dir, files.temporary_name(str(version)))  # not all digits: servers skip it
    try:
        tf.saved_model.save(module, tmp, signatures=module.signatures())
        os.makedirs(os.path.dirname(os.path.join(tmp, CONTRACT_ASSET)), exist_ok=True)
        files.write_text(os.path.join(tmp, CONTRACT_ASSET), module.contract.to_json() + "\n")
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def write_models_config(root="saved_models", path=None):
    """TF Serving's --model_config_file listing every model folder under root; returns the file's path."""
    root = os.path.abspath(root)
    names = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    entries = "".join(f'  config {{\n    name: "{n}"\n    base_path: "{os.path.join(root, n)}"\n'
                      f'    model_platform: "tensorflow"\n  }}\n' for n in names)
    path = path or os.path.join(root, "models.config")
    return files.write_text(path, f"model_config_list {{\n{entries}}}\n")
