"""Trainer: run directory, recipes, divergence guard, precision policies (in-process, a few steps each)."""
import csv
import dataclasses
import json
import math
import os
import zipfile

import keras
import numpy as np
import pytest

from keras_cls.data import DataConfig
from keras_cls.train import TrainConfig, Trainer, TrainingDiverged, recipes
from keras_cls.train.trainer import make_optimizer

TINY_DATA = DataConfig(source="digits", image_size=32, batch_size=16, crop_scale=(0.6, 1.0), eval_crop=1.0)


def _config(tmp_path, **kwargs):
    base = dict(model="resnet-18", run_dir=str(tmp_path / "run"), epochs=2, steps_per_epoch=4, recipe="fast",
                verbose=0)
    return TrainConfig(**{**base, **kwargs})


class _StateAtStart(keras.callbacks.Callback):
    """Whether the optimizer's and metrics' variables exist before fit first traces its step (else it traces twice)."""

    def on_train_begin(self, logs=None):
        self.built = self.model.optimizer.built and all(getattr(m, "built", True) for m in self.model.metrics)


@pytest.mark.slow  # ~25 s: two trainings in this process
def test_run_directory_holds_everything(tmp_path):
    probe = _StateAtStart()
    metrics = Trainer(_config(tmp_path), TINY_DATA).run(callbacks=[probe])
    assert probe.built
    run = tmp_path / "run"
    for name in ("config.json", "data_report.json", "best.keras", "log.csv", "model.keras", "metrics.json",
                 "evaluation.json", "confusion.png"):
        assert (run / name).exists(), name
    assert (run / "logs").is_dir() and (run / "backup").is_dir()
    assert metrics == json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_this_run"] == 2 and metrics["steps_per_epoch"] == 4
    # top1 is the test split's (355 digits) scored through the saved model: the confusion matrix's diagonal
    evaluation = json.loads((run / "evaluation.json").read_text())
    confusion = np.asarray(evaluation["confusion"])
    assert metrics["test_split"] == "test" and confusion.sum() == 355 == evaluation["examples"]
    assert metrics["top1"] == evaluation["top1"] == pytest.approx(np.trace(confusion) / 355)
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1] and "images_per_s" in rows[0]
    # an epoch's throughput is its 4 steps of 16 images over the training part of its seconds (validation follows)
    assert all(64 <= float(r["images_per_s"]) * float(r["epoch_seconds"]) < 64 * 30 for r in rows), rows
    assert metrics["images_per_s"] == pytest.approx(float(rows[-1]["images_per_s"]))
    assert metrics["train_seconds"] == pytest.approx(sum(float(r["epoch_seconds"]) for r in rows), abs=0.06)
    assert metrics["best_val_accuracy"] == max(float(r["val_accuracy"]) for r in rows)
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["optimizer"] == "adamw" and config["class_names"][0] == "0"
    model = keras.models.load_model(run / "model.keras")
    assert model.output_shape == (None, 10)
    for saved in ("model.keras", "best.keras"):  # no optimizer: any Keras 3 loads them without keras_cls
        with zipfile.ZipFile(run / saved) as z:
            config = z.read("config.json").decode()
        assert "keras_cls" not in config and not json.loads(config).get("compile_config"), saved
    progress = json.loads((run / "progress.json").read_text())
    assert progress["status"] == "completed" and progress["epochs_done"] == 2 and len(progress["history"]) == 2
    assert os.listdir(run / "backup") == ["epoch-0002.weights.h5"]  # older backups go once the next is committed
    # rerunning a finished run is a no-op: nothing trained again, every file as it was
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert Trainer(_config(tmp_path), TINY_DATA).run() == metrics
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    # ... unless a new run is asked for: it goes to a new folder
    other = Trainer(_config(tmp_path, epochs=1, steps_per_epoch=1, new_run=True), TINY_DATA).run()
    assert other["epochs_this_run"] == 1 and (tmp_path / "run-2" / "metrics.json").exists()
    with pytest.raises(ValueError, match=r"holds a run with other settings \(train.epochs differ\).*new_run"):
        Trainer(_config(tmp_path, run_dir=str(tmp_path / "run-2"), epochs=5, steps_per_epoch=1), TINY_DATA).run()


def test_data_report_counts_what_each_split_held_and_what_the_evaluation_read(tmp_path, capsys):
    """A test-split JPEG whose header is sound and whose body is not passes the header scan and is dropped where it
    is decoded: the run says so, and data_report.json holds the split's size and what the evaluation read."""
    from tests.data.images import good_images

    for split, offset in (("train", 0), ("test", 2)):
        for label in ("a", "b"):
            folder = tmp_path / "images" / split / label
            folder.mkdir(parents=True)
            for name, data in good_images(seed=offset + (label == "b")).items():
                (folder / name).write_bytes(data)
    jpeg = good_images()["rgb.jpg"]
    (tmp_path / "images" / "test" / "a" / "garbled.jpg").write_bytes(jpeg[:200] + bytes(range(256)) * 4 + b"\xff\xd9")
    data = DataConfig(source="folder", path=str(tmp_path / "images"), image_size=32, batch_size=4,
                      validation_fraction=0, eval_crop=1.0)
    metrics = Trainer(_config(tmp_path, epochs=1, steps_per_epoch=1), data).run()
    report = json.loads((tmp_path / "run" / "data_report.json").read_text())
    assert report["splits"] == {"train": 20, "test": 21} and report["read"] == {"test": 20}
    assert report["seen"] == 41 and report["skipped"] == 0  # the header scan lets it through
    assert "warning: 1 of the 21 images of the test split passed the scan but could not be decoded" in \
        capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "evaluation.json").read_text())["examples"] == 20
    assert metrics["test_split"] == "test"


def test_a_run_that_cannot_train_is_an_error_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"train split has 1262 images, fewer than one batch of 4096.*"
                                         r"batch_size <= 1262 \(e.g. 1024\)"):
        Trainer(_config(tmp_path), dataclasses.replace(TINY_DATA, batch_size=4096)).run()
    assert not (tmp_path / "run").exists()
    for steps in (0, -3):
        with pytest.raises(ValueError, match=f"steps_per_epoch must be >= 1.*got {steps}"):
            _config(tmp_path, steps_per_epoch=steps)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        _config(tmp_path, epochs=0)


def test_recipes_by_family_and_overrides():
    assert recipes.resolve("auto", "efficientnet").optimizer == "rmsprop"
    assert recipes.resolve("auto", "resnet") == recipes.RECIPES["resnet"]
    assert recipes.resolve("auto", "resnet", learning_rate=0.2, optimizer=None).learning_rate == 0.2
    with pytest.raises(ValueError, match="unknown recipe 'fastest'"):
        recipes.resolve("fastest", "resnet")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        recipes.resolve("auto", "resnet", optimizer="lamb")


def test_optimizer_scaling_and_no_decay_on_batchnorm():
    sgd = make_optimizer(recipes.RECIPES["resnet"], batch_size=512, steps_per_epoch=10, epochs=10)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.9
    schedule = sgd._learning_rate  # the schedule itself (learning_rate is its current value)
    assert math.isclose(float(schedule(50)), 0.2, rel_tol=1e-6)  # 0.1 per 256 x 2, at the end of warm-up
    assert float(schedule(0)) == 0.0 and float(schedule(100)) < 1e-6
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    sgd.build(model.trainable_variables)
    decayed = {v.name: sgd._use_weight_decay(v) for v in model.trainable_variables}
    assert decayed == {"kernel": True, "bias": False, "gamma": False, "beta": False}
    rms = make_optimizer(recipes.RECIPES["efficientnet"], 256, 10, 30)
    assert isinstance(rms, keras.optimizers.RMSprop) and rms.use_ema and rms.ema_momentum == 0.9999
    assert math.isclose(float(rms._learning_rate(50 + 24)), 0.016 * 0.97, rel_tol=1e-5)  # one decay of 2.4 epochs


class _PoisonAtEpoch(keras.callbacks.Callback):
    """Makes the loss NaN from the second epoch on, as a diverging run would."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            kernel = self.model.get_layer("predictions").kernel
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    trainer = Trainer(_config(tmp_path, epochs=3), TINY_DATA)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2, batch 1.*Last good checkpoint: .*best.keras"):
        trainer.run(callbacks=[_PoisonAtEpoch()])
    best = keras.models.load_model(tmp_path / "run" / "best.keras")
    assert all(np.isfinite(w).all() for w in best.get_weights())
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0]  # the diverged epoch was never logged as finished
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and "epoch 2" in metrics["message"]


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_with_float32_outputs(tmp_path, precision):
    # ResNet-18: the policy is the Trainer's business here; EfficientNet's layers under both policies are
    # checked in tests/models/test_build.py
    trainer = Trainer(_config(tmp_path, precision=precision, epochs=1, steps_per_epoch=2), TINY_DATA)
    seen = keras.callbacks.LambdaCallback()  # holds the model fit trained (set_model)
    metrics = trainer.run(callbacks=[seen])
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the run
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    evaluation = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert math.isfinite(float(rows[0]["loss"])) and metrics["top1"] == evaluation["top1"]
    assert np.trace(evaluation["confusion"]) == round(metrics["top1"] * 355)  # the float32-output model was scored
    keras.mixed_precision.set_global_policy(precision)  # as a user of the saved model would
    try:
        model = keras.models.load_model(tmp_path / "run" / "model.keras")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("predictions").dtype_policy.compute_dtype == "float32"
    assert model.get_layer("conv1").dtype_policy.compute_dtype == precision.split("_")[1]
    # loss scaling came with the float16 policy
    assert isinstance(seen.model.optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")


def test_bad_train_config():
    with pytest.raises(ValueError, match="unknown model name"):
        TrainConfig(model="resnet-19")
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="float16")
    with pytest.raises(ValueError, match="strategy must be one of"):
        TrainConfig(strategy="horovod")


def test_build_options_for_training():
    """BatchNorm momentum, synchronization and zero-initialized residual branches are build arguments."""
    import keras_cls

    eff = keras_cls.build("efficientnet-b0", input_shape=(32, 32, 3), num_classes=3, zero_init_residual=True,
                          bn_momentum=0.9, sync_bn=True)
    assert not eff.get_layer("block2b_project_bn").gamma.numpy().any()  # its residual goes through stochastic depth
    assert eff.get_layer("block2a_project_bn").gamma.numpy().all()  # stride 2: no residual
    bns = [layer for layer in eff.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert {b.momentum for b in bns} == {0.9} and all(b.synchronized for b in bns)
    res = keras_cls.build("resnet-18", input_shape=(32, 32, 3), num_classes=3, zero_init_residual=True)
    assert not res.get_layer("layer1_0_bn2").gamma.numpy().any()
    assert res.get_layer("layer2_0_downsample_bn").gamma.numpy().all() and res.get_layer("layer1_0_bn1").gamma.numpy().all()
    assert {layer.momentum for layer in res.layers if isinstance(layer, keras.layers.BatchNormalization)} == {0.9}
    plain = keras_cls.build("resnet-18", input_shape=(32, 32, 3), num_classes=3)
    assert plain.get_layer("layer1_0_bn2").gamma.numpy().all() and plain.count_params() == res.count_params()
    for kwargs, message in (({"bn_momentum": 1.5}, "bn_momentum must be a number in"),
                            ({"sync_bn": "yes"}, "sync_bn must be True or False")):
        with pytest.raises(ValueError, match=message):
            keras_cls.build("resnet-18", **kwargs)


def test_image_size_defaults_to_the_models_resolution(tmp_path):
    """No image_size: each model trains at its own resolution; an explicit size wins; data alone needs a size."""
    from keras_cls.data import load
    from keras_cls.tune.search import configs

    assert Trainer(_config(tmp_path, model="efficientnet-b3")).data_config.image_size == 300
    assert Trainer(_config(tmp_path, model="resnet-50"), DataConfig(source="digits")).data_config.image_size == 224
    assert Trainer(_config(tmp_path, model="efficientnet-b3"), TINY_DATA).data_config.image_size == 32
    values = {"model": "efficientnetv2-s", "image_size": None, "dropout_rate": 0.1, "drop_connect_rate": 0.1,
              "optimizer": "adamw", "learning_rate": 0.1, "weight_decay": 1e-4, "label_smoothing": 0.1,
              "augment": "light"}
    assert configs(values, _config(tmp_path), DataConfig(), "r")[1].image_size == 384  # a search without sizes
    assert configs(values, _config(tmp_path), TINY_DATA, "r")[1].image_size == 32
    with pytest.raises(ValueError, match="image_size is not set"):
        load(DataConfig())
