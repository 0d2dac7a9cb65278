"""Input pipeline throughput vs what a training step consumes: the pipeline must never be the bottleneck."""
import os
import time

import numpy as np


def write_jpeg_folder(root, images=256, size=224, classes=4, seed=0, max_size=None):
    """A folder data set of real JPEG files (smooth random pictures), one sub-folder per class: `size` px square,
    or with `max_size`, each side drawn from [size, max_size] (mixed sizes and aspect ratios)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for i in range(images):
        folder = os.path.join(root, f"class{i % classes}")
        os.makedirs(folder, exist_ok=True)
        small = rng.integers(0, 256, (8, 8, 3)).astype("float32")
        shape = (size, size) if max_size is None else tuple(int(x) for x in rng.integers(size, max_size + 1, 2))
        picture = tf.cast(tf.image.resize(small, shape, method="bicubic"), tf.uint8)
        tf.io.write_file(os.path.join(folder, f"{i:05d}.jpg"), tf.io.encode_jpeg(picture, quality=90))
    return root


def copy_images_per_s(root, out_path):
    """Images/s of reading every file under `root` and writing its bytes to one file: what any preparation must
    at least do, measured on the same files."""
    paths = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names)
    start = time.perf_counter()
    with open(out_path, "wb") as out:
        for path in paths:
            with open(path, "rb") as f:
                out.write(f.read())
        out.flush()
        os.fsync(out.fileno())
    return len(paths) / (time.perf_counter() - start)


def first_batch_seconds(config):
    """Seconds from load() to the first training batch."""
    from keras_cls.data import load

    start = time.perf_counter()
    next(iter(load(config).train))
    return time.perf_counter() - start


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
