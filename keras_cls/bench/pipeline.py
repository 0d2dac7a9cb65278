"""Input pipeline throughput vs what a training step consumes: the pipeline must never be the bottleneck."""
import os
import time

import numpy as np


def write_jpeg_folder(root, images=256, size=224, classes=4, seed=0):
    """A folder data set of real JPEG files (smooth random pictures, `size` px), one sub-folder per class."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for i in range(images):
        folder = os.path.join(root, f"class{i % classes}")
        os.makedirs(folder, exist_ok=True)
        small = rng.integers(0, 256, (8, 8, 3)).astype("float32")
        picture = tf.cast(tf.image.resize(small, (size, size), method="bicubic"), tf.uint8)
        tf.io.write_file(os.path.join(folder, f"{i:05d}.jpg"), tf.io.encode_jpeg(picture, quality=90))
    return root


def pipeline_images_per_s(dataset, batches, warmup=2):
    iterator = iter(dataset.repeat())
    for _ in range(warmup):
        next(iterator)
    start, count = time.perf_counter(), 0
    for _ in range(batches):
        count += int(next(iterator)[0].shape[0])
    return count / (time.perf_counter() - start)


def train_step_images_per_s(name, size, batch, steps, num_classes=4):
    """Images/s that model.fit's train step consumes on in-memory batches (no input pipeline involved)."""
    import keras_cls

    model = keras_cls.build(name, num_classes=num_classes, input_shape=(size, size, 3))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch, size, size, 3)).astype("float32")
    y = rng.integers(0, num_classes, (batch,))
    model.train_on_batch(x, y)  # trace and warm up
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start)
