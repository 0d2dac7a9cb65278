"""Pipeline behaviour: determinism, caching, transforms, batch augmentation."""
import numpy as np
import pytest
import tensorflow as tf

from keras_cls.data import DataConfig, load
from keras_cls.data.contract import eval_transform
from keras_cls.data.pipeline import train_transform

DIGITS = DataConfig(source="digits", image_size=32, batch_size=16, pad_crop=4, eval_crop=1.0)


def _first(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds.take(1)][0]


def test_deterministic_with_a_seed_and_new_augmentation_each_epoch():
    config = DataConfig(source="digits", image_size=32, batch_size=16, deterministic=True, seed=3)
    a, b = load(config).train, load(config).train
    first_a, first_b = _first(a), _first(b)
    assert np.array_equal(first_a[0], first_b[0]) and np.array_equal(first_a[1], first_b[1])
    second_a = _first(a)  # a second pass over the same dataset: reshuffled and re-augmented
    assert not np.array_equal(first_a[0], second_a[0])
    other = _first(load(DataConfig(source="digits", image_size=32, batch_size=16, deterministic=True, seed=4)).train)
    assert not np.array_equal(first_a[0], other[0])


@pytest.mark.parametrize("cache", ["memory", "file"])
def test_cache(tmp_path, cache):
    where = "memory" if cache == "memory" else str(tmp_path / "cache")
    data = load(DataConfig(source="digits", image_size=32, batch_size=64, cache=where, deterministic=True))
    plain = load(DataConfig(source="digits", image_size=32, batch_size=64, deterministic=True))
    x1 = np.concatenate([x.numpy() for x, _ in data.test])
    x2 = np.concatenate([x.numpy() for x, _ in data.test])
    assert np.array_equal(x1, x2) and np.array_equal(x1, np.concatenate([x.numpy() for x, _ in plain.test]))
    if cache == "file":
        assert list(tmp_path.glob("cache*")), "file cache written"


def test_transforms_keep_the_contract():
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (40, 60, 3)), tf.uint8)
    seed = tf.constant([1, 2], tf.int64)
    for out in (train_transform(image, seed, 32, (0.08, 1.0), True), train_transform(image, seed, 32, (1, 1),
                                                                                       False, pad_crop=4),
                eval_transform(image, 32, 0.875)):
        assert out.shape == (32, 32, 3) and out.dtype == tf.uint8
    # evaluation: a center crop of 87.5% of the shorter side, no randomness
    assert np.array_equal(eval_transform(image, 32, 0.875).numpy(), eval_transform(image, 32, 0.875).numpy())
    # pad-and-crop only translates: each output is the plain resize shifted by at most pad_crop pixels, zero-filled
    resized = tf.cast(tf.round(tf.image.resize(image, (32, 32))), tf.uint8).numpy()
    padded, shifts = np.pad(resized, ((4, 4), (4, 4), (0, 0))), set()
    for s in range(6):
        out = train_transform(image, tf.constant([s, 7], tf.int64), 32, (1, 1), False, pad_crop=4).numpy()
        found = [(y, x) for y in range(9) for x in range(9) if np.array_equal(out, padded[y:y + 32, x:x + 32])]
        assert len(found) == 1, s
        shifts.add(found[0])
    assert len(shifts) > 1  # the offset is random


def _bilinear_center_crop(image, size, crop):
    """The contract in float64: the center crop x shorter-side window sampled at size x size half-pixel centers."""
    out, shorter = image.astype(np.float64), min(image.shape[:2])
    for axis in (0, 1):
        n = image.shape[axis]
        position = np.maximum((n - 1) / 2 + (np.arange(size) - (size - 1) / 2) * crop * shorter / size, 0)
        low = np.minimum(np.floor(position).astype(int), n - 1)
        weight = (position - np.floor(position)).reshape([-1] + [1] * (2 - axis))
        below, above = np.take(out, low, axis=axis), np.take(out, np.minimum(low + 1, n - 1), axis=axis)
        out = below + (above - below) * weight
    return np.round(out)


@pytest.mark.parametrize("shape, size, crop", [((8, 8), 32, 1.0), ((40, 60), 32, 0.875), ((427, 640), 224, 0.875),
                                               ((5, 300), 32, 0.875), ((999, 37), 64, 0.5), ((1, 500), 32, 1.0)])
def test_the_contract_is_bilinear_center_crop_in_fixed_point(shape, size, crop):
    """Integer arithmetic (what keeps int8 TFLite files exact) within one level of the float64 formula; batches
    and float input alike."""
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3)).astype(np.uint8)
    got = eval_transform(tf.constant(image), size, crop).numpy()
    assert got.dtype == np.uint8 and np.abs(got - _bilinear_center_crop(image, size, crop)).max() <= 1
    batch = np.stack([image, 255 - image]).astype(np.float32)
    assert np.array_equal(eval_transform(tf.constant(batch), size, crop).numpy()[0], got)


def test_batch_augmentation_mixes_labels():
    data = load(DataConfig(source="digits", image_size=32, batch_size=16, mixup=0.4, cutmix=1.0, randaugment=2),
                one_hot=True)
    x, y = _first(data.train)
    assert x.shape == (16, 32, 32, 3) and y.shape == (16, 10)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-5)
    assert (y.max(axis=1) < 0.999).any()  # some labels are mixtures
    with pytest.raises(ValueError, match="one_hot=True"):
        load(DataConfig(image_size=32, source="digits", mixup=0.2))


def test_an_animation_costs_one_frames_memory(tmp_path):
    """GIF: the first frame, and only it decoded (decode_rgb, which the scan, the pipeline, serving_default, the
    TFLite client, predict and prepare all use); APNG: its first frame. Frames with their own palettes decode as
    Pillow shows the first;
    300 frames of 1001 x 1001 px (0.6 MB on disk) peak like one frame (TensorFlow's decoder alone: +289 MB)."""
    import json
    import os
    import subprocess
    import sys
    from io import BytesIO
    from pathlib import Path

    from PIL import Image

    from keras_cls.data.decode import decode_rgb
    from tests.data.images import animated_gif

    colour = animated_gif(3, 40, colour=True)
    expected = np.asarray(Image.open(BytesIO(colour)).convert("RGB"))
    for decode in (decode_rgb, tf.function(decode_rgb)):  # eagerly (the TFLite client) and in a graph (the rest)
        np.testing.assert_array_equal(decode(tf.constant(colour)).numpy(), expected)
    frames = [Image.fromarray(np.full((20, 30, 3), v, np.uint8)) for v in (10, 200, 90)]
    apng = BytesIO()
    frames[0].save(apng, "PNG", save_all=True, append_images=frames[1:])  # APNG: acTL/fdAT chunks after IDAT
    assert b"acTL" in apng.getvalue() and (decode_rgb(tf.constant(apng.getvalue())).numpy() == 10).all()
    (tmp_path / "one.gif").write_bytes(animated_gif(1, 1001))
    (tmp_path / "many.gif").write_bytes(animated_gif(300, 1001))
    code = """if True:
        import json, resource, sys
        import tensorflow as tf
        from keras_cls.data.decode import decode_rgb
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        shapes = [tuple(decode_rgb(tf.constant(open(sys.argv[1], "rb").read())).shape)]
        one = peak()
        shapes.append(tuple(decode_rgb(tf.constant(open(sys.argv[2], "rb").read())).shape))
        print(json.dumps({"shapes": shapes, "grown_mb": peak() - one}))"""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "one.gif"), str(tmp_path / "many.gif")],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["shapes"] == [[1001, 1001, 3]] * 2 and found["grown_mb"] < 20, found
