"""What any client of an exported model must get: the local signature's answers, and the server's errors."""
import functools

import numpy as np
import pytest
import tensorflow as tf

from keras_cls.export.client import ServingError
from tests.export.conftest import jpeg


@functools.lru_cache(maxsize=4)
def _load(path):
    return tf.saved_model.load(path)


def local_outputs(path, signature, images):
    fn = _load(path).signatures[signature]
    return {k: v.numpy() for k, v in fn(images=tf.constant(images)).items()}


def assert_same(got, expected, atol=1e-6):
    np.testing.assert_allclose(got["scores"], expected["scores"], atol=atol, rtol=0)
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"], atol=atol, rtol=0)
    assert got["classes"].tolist() == expected["classes"].tolist()
    assert got["class_names"].tolist() == [[n.decode() for n in row] for row in expected["class_names"]]


def check_client(client, path):
    """Bytes through serving_default and arrays through serve_images agree with the SavedModel run here."""
    encoded = [jpeg(11), jpeg(12, (40, 90))]
    assert_same(client.classify(encoded), local_outputs(path, "serving_default", encoded))
    batch = np.random.default_rng(13).integers(0, 256, (2, 48, 80, 3))
    assert_same(client.predict(batch.astype("float32"), signature="serve_images"),
                local_outputs(path, "serve_images", batch.astype("float32")))
    assert_same(client.predict(batch.astype("uint8"), signature="serve_images_uint8"),
                local_outputs(path, "serve_images_uint8", batch.astype("uint8")))
    with pytest.raises(ServingError, match="(?i)invalid|unknown image|decode"):
        client.classify([b"not an image"])
