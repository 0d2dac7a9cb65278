"""Our EfficientNets load keras.applications' weight files and give the same outputs, padding included.

keras.applications' model (weights=None) gets random weights, saves them; ours loads the file. Big variants run
at small odd sizes only, so the suite stays fast; the small ones also at their default resolution.
"""
import keras
import numpy as np
import pytest

from keras_cls.models import build, flops, get_spec
from tests.conftest import images, randomize

APPS = {
    "efficientnet-b0": keras.applications.EfficientNetB0, "efficientnet-b1": keras.applications.EfficientNetB1,
    "efficientnet-b2": keras.applications.EfficientNetB2, "efficientnet-b3": keras.applications.EfficientNetB3,
    "efficientnet-b4": keras.applications.EfficientNetB4, "efficientnet-b5": keras.applications.EfficientNetB5,
    "efficientnet-b6": keras.applications.EfficientNetB6, "efficientnet-b7": keras.applications.EfficientNetB7,
    "efficientnetv2-b0": keras.applications.EfficientNetV2B0, "efficientnetv2-b1": keras.applications.EfficientNetV2B1,
    "efficientnetv2-b2": keras.applications.EfficientNetV2B2, "efficientnetv2-b3": keras.applications.EfficientNetV2B3,
    "efficientnetv2-s": keras.applications.EfficientNetV2S, "efficientnetv2-m": keras.applications.EfficientNetV2M,
    "efficientnetv2-l": keras.applications.EfficientNetV2L,
}
SMALL = {"efficientnet-b0", "efficientnet-b1", "efficientnetv2-b0", "efficientnetv2-b1"}
PREPROCESSING = ("InputLayer", "Rescaling", "Normalization")
BIG = {"efficientnet-b6", "efficientnet-b7", "efficientnetv2-m", "efficientnetv2-l"}


def _sizes(name):
    odd = [(65, 71)] if name in BIG else [(129, 75)]
    return ([(get_spec(name).resolution,) * 2] if name in SMALL else []) + odd


def _cases():
    for name in APPS:
        marks = [pytest.mark.slow] if name in BIG else []
        for size in _sizes(name):
            yield pytest.param(name, size, marks=marks, id=f"{name}-{size[0]}x{size[1]}")


def check_counts(model, name, size, reference):
    """A built variant against its analytic counts at `size` (layer by layer: parameters, MACs, activations) and
    against the published parameter counts (which no input size changes)."""
    analytic, from_layers = flops.count(name, size), flops.count_model(model)
    assert model.count_params() == analytic.params
    assert (from_layers.trainable, from_layers.non_trainable) == (analytic.trainable, analytic.non_trainable)
    assert from_layers.macs == analytic.macs and from_layers.activations == analytic.activations
    ref = reference[name]
    if ref.get("keras_applications"):
        assert model.count_params() == ref["keras_applications"]["total"]
    if ref.get("torchvision"):
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == ref["torchvision"]["trainable"]
    assert get_spec(name).resolution == ref["resolution"] and model.output_shape[-1] == 1000
    assert not any(type(l).__name__ == "Lambda" for l in model.layers)


@pytest.mark.parametrize("name,size", _cases())
def test_outputs_match_keras_applications(name, size, tmp_path, reference):
    theirs = randomize(APPS[name](weights=None, input_shape=(*size, 3), classifier_activation=None))
    path = str(tmp_path / "theirs.weights.h5")
    theirs.save_weights(path)
    ours = build(name, input_shape=(*size, 3), weights=path, classifier_activation=None)
    if size == _sizes(name)[-1]:  # the variant's counts, once (test_build.py builds the variants not here)
        check_counts(ours, name, size, reference)
    x = images(size)
    expected, got = theirs(x, training=False).numpy(), ours(x, training=False).numpy()
    assert np.std(expected) > 1e-3  # the comparison is not between two constants
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_layer_names_and_weight_order_match_keras_applications():
    theirs = keras.applications.EfficientNetV2B1(weights=None)
    ours = build("efficientnetv2-b1")
    weighted = lambda m: [(l.name, [tuple(w.shape) for w in l.weights]) for l in m.layers if l.weights]  # noqa: E731
    assert weighted(ours) == weighted(theirs)
    # keras.applications leaves its input and preprocessing layers auto-named (normalization_3, ...).
    named = lambda m: [l.name for l in m.layers if type(l).__name__ not in PREPROCESSING]  # noqa: E731
    assert named(ours) == named(theirs)
