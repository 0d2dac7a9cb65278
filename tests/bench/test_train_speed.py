"""scripts/bench_train.py's measurement on tiny settings: the three arms run and their ratios are what they say."""
import functools

import pytest

from tests.conftest import shallow_b0


@pytest.mark.slow
def test_trainer_step_beside_plain_fit_on_tiny_settings(monkeypatch):
    import keras
    from keras.src.applications.efficientnet import EfficientNet

    from keras_cls.bench.train_speed import Setting, measure

    # Both sides shallow (one block per stage, half width): the arms and ratios, at a third of B0's tracing time.
    monkeypatch.setattr(keras.applications, "EfficientNetB0", functools.partial(EfficientNet, 0.5, 0.1, 224))
    with shallow_b0() as name:
        row = measure(Setting(model=name, batch=4, image_size=32, steps=2), peak_gflops=100.0)
    assert row["plain"] == "keras.applications.EfficientNetB0" and row["image_size"] == 32
    speeds = [row[k] for k in ("trainer_pipeline_img_s", "trainer_synthetic_img_s", "plain_fit_img_s")]
    assert all(s > 0 for s in speeds)
    assert row["trainer_vs_plain"] == pytest.approx(speeds[1] / speeds[2])
    assert row["pipeline_share"] == pytest.approx(1 - speeds[0] / speeds[1])
    assert row["mfu_trainer"] == pytest.approx(row["gmacs"] * 6 * speeds[1] / 100.0)
