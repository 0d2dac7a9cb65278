"""SavedModel export in TF Serving's layout: root/<name>/<version>/, written whole or not at all.

A tf.Module with @tf.function signatures, saved by tf.saved_model.save, stores each weight once
(keras.export.ExportArchive keeps a second copy under _all_variables/, keras#23553). Signatures:
- serving_default: encoded images (tf.string: JPEG, PNG, GIF, BMP) -> decode -> RGB -> resize -> model;
- serve_images: a float32 image batch of any size, values in [0, 255] -> resize -> model;
- serve_images_uint8: the same for a uint8 batch (a gRPC client sending camera frames as they are).
All return classes (int64, top-k), class_names (string, top-k), probabilities (top-k) and scores (all classes).
"""
import os
import re
import shutil

import tensorflow as tf

from keras_cls import files
from keras_cls.data.decode import decode_rgb


def checked_class_names(model, class_names):
    """The class names as a list, "0", "1", ... when none are given; their number must match the outputs."""
    classes = model.output_shape[-1]
    class_names = list(class_names) if class_names is not None else [str(i) for i in range(classes)]
    if len(class_names) != classes:
        raise ValueError(f"{len(class_names)} class names for a model with {classes} outputs")
    return class_names


class ServingModule(tf.Module):
    def __init__(self, model, class_names=None, top_k=5):
        super().__init__()
        class_names = checked_class_names(model, class_names)
        self.model = model
        self.size = tuple(model.input_shape[1:3])
        if None in self.size:
            raise ValueError(f"export needs a fixed input size; the model takes {model.input_shape}")
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

    def _resize(self, images):
        return tf.image.resize(tf.cast(images, tf.float32), self.size, method="bilinear")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve_bytes(self, images):
        pixels = tf.map_fn(lambda data: self._resize(decode_rgb(data)), images,
                           fn_output_signature=tf.TensorSpec([*self.size, 3], tf.float32))
        return self._outputs(pixels)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_images(self, images):
        return self._outputs(self._resize(images))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve_images_uint8(self, images):
        return self._outputs(self._resize(images))

    def signatures(self):
        return {"serving_default": self.serve_bytes, "serve_images": self.serve_images,
                "serve_images_uint8": self.serve_images_uint8}


def next_version(model_dir):
    """1 + the largest integer version folder under model_dir (1 when there is none)."""
    versions = [int(d) for d in os.listdir(model_dir) if d.isdigit()] if os.path.isdir(model_dir) else []
    return max(versions, default=0) + 1


def saved_model(model, root="saved_models", name=None, version=None, class_names=None, top_k=5):
    """Export `model` to root/<name>/<version>/ for TF Serving; returns that path.

    The version is written to a hidden temporary folder beside it and renamed into place when complete, so a
    server polling root/<name>/ never sees half a version; earlier versions are never touched.
    """
    name = name or model.name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"model name {name!r} must be letters, digits, '.', '_' or '-' (it becomes a folder)")
    module = ServingModule(model, class_names, top_k)
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
