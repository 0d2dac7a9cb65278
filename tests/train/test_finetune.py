"""Fine-tuning: a pretrained backbone under a new head, head-only phase then unfreezing, one run, one log, resumable."""
import keras
import numpy as np
import pytest

import keras_cls
from keras_cls.data import DataConfig
from keras_cls.models.building import backbone_units
from keras_cls.train import TrainConfig, Trainer, finetune, recipes

TINY_DATA = DataConfig(source="digits", image_size=32, batch_size=16, crop_scale=(0.6, 1.0), eval_crop=1.0)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A 'pretrained' ResNet-18 weights file with a 7-class head (random weights: what matters is where they go)."""
    path = str(tmp_path_factory.mktemp("pretrained") / "r18.weights.h5")
    keras_cls.build("resnet-18", num_classes=7, input_shape=(32, 32, 3)).save_weights(path)
    return path


def _config(tmp_path, weights, **kwargs):
    base = dict(model="resnet-18", run_dir=str(tmp_path / "run"), epochs=3, steps_per_epoch=3, weights=weights,
                verbose=0)
    return TrainConfig(**{**base, **kwargs})


def test_frozen_backbone_keeps_pretrained_weights_and_batchnorm_statistics(tmp_path, pretrained):
    source = keras_cls.build("resnet-18", num_classes=7, input_shape=(32, 32, 3), weights=pretrained)
    Trainer(_config(tmp_path, pretrained, epochs=1, steps_per_epoch=2), TINY_DATA).run()  # head only (1 epoch)
    tuned = keras.models.load_model(tmp_path / "run" / "model.keras")
    for name in ("conv1", "bn1", "layer4_1_conv2", "layer4_1_bn2"):  # moving mean/variance included
        for a, b in zip(tuned.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_set_phase_unfreezes_blocks_from_the_top_and_decays_rates():
    model = keras_cls.build("efficientnet-b0", num_classes=3, input_shape=(32, 32, 3))
    recipe = recipes.resolve("finetune", "efficientnet", pretrained=True, unfreeze="2", layer_decay=0.5)
    phases = finetune.plan(recipe, 10)
    assert [(p.name, p.start, p.end) for p in phases] == [("head", 0, 2), ("backbone", 2, 10)]
    assert finetune.set_phase(model, phases[0], recipe) == {}
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {"predictions"}
    scales = finetune.set_phase(model, phases[1], recipe)
    learning = {w.path.split("/")[0] for w in model.trainable_weights}
    assert learning == {"predictions", "top_conv", "block7a_expand_conv", "block7a_dwconv", "block7a_se_reduce",
                        "block7a_se_expand", "block7a_project_conv"}  # BatchNorm stays in inference mode
    assert scales["top_conv/kernel"] == 0.5 and scales["block7a_dwconv/kernel"] == 0.25
    assert "predictions/kernel" not in scales  # the head learns at the phase's full rate
    units = backbone_units(model)
    assert [u for u, _ in units][:3] == ["stem", "block1a", "block2a"] and units[-1][0] == "top"
    with_bn = recipes.resolve("finetune", "efficientnet", pretrained=True, unfreeze="all", train_bn=True)
    finetune.set_phase(model, phases[1], with_bn)
    assert len(model.trainable_weights) == len(model.weights) - 2 * sum(
        type(l).__name__ == "BatchNormalization" for l in model.layers) - 3  # moving stats; Normalization's 3


def test_layerwise_optimizer_scales_each_update():
    var = keras.Variable(np.ones(3, "float32"), name="w")
    scaled = finetune.LAYERWISE["sgd"](0.1, lr_scales={var.path: 0.25})
    other = keras.Variable(np.ones(3, "float32"), name="w2")
    scaled.apply_gradients([(np.ones(3, "float32"), var), (np.ones(3, "float32"), other)])
    np.testing.assert_allclose(var.numpy(), 1 - 0.025, rtol=1e-6)
    np.testing.assert_allclose(other.numpy(), 1 - 0.1, rtol=1e-6)
    assert type(keras.optimizers.deserialize(keras.optimizers.serialize(scaled))).__name__ == "LayerwiseSGD"


@pytest.mark.parametrize("kwargs,message", [
    ({"recipe": "finetune", "weights": None}, r"recipe 'finetune' trains a new head .* it needs weights"),
    ({"unfreeze": "top"}, r"unfreeze must be 'all' or a whole number of backbone blocks"),
    ({"unfreeze": "-1"}, r"unfreeze must be 'all' or a whole number"),
    ({"layer_decay": 1.5}, r"backbone_lr and layer_decay must be in \(0, 1\]"),
    ({"head_epochs": 9}, r"head_epochs must be in \[0, epochs=3\]"),
    ({"recipe": "fast", "head_epochs": 1}, r"head_epochs is the head-only phase of fine-tuning"),
    ({"strategy": "multiworker"}, r"fine-tuning \(two phases\) runs with strategy default, mirrored or tpu"),
])
def test_bad_fine_tuning_settings(tmp_path, pretrained, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trainer(_config(tmp_path, **{"weights": pretrained, **kwargs}), TINY_DATA)


@pytest.mark.slow
def test_photos_fine_tuned_from_a_torchvision_checkpoint_serve_what_evaluation_measured(tmp_path):
    """A folder of photos -> fine-tuning from a torchvision-layout checkpoint -> SavedModel: serving_default's
    scores for the test photos equal what evaluation computed for them."""
    import tensorflow as tf

    from keras_cls.data import load
    from keras_cls.evaluate import predictions
    from keras_cls.export import saved_model
    from keras_cls.export.trained import load_trained
    from tests.export.test_contract import _files, _photos
    from tests.models.test_torch_weights import random_state, save, torchvision_layout

    photos = tmp_path / "photos"
    _photos(photos)
    checkpoint = save(random_state(torchvision_layout("basic", (2, 2, 2, 2))), tmp_path / "resnet18.safetensors")
    data_config = DataConfig(source="folder", path=str(photos), image_size=32, batch_size=4, validation_fraction=0.25,
                             eval_crop=0.875, deterministic=True)
    metrics = Trainer(TrainConfig(model="resnet-18", run_dir=str(tmp_path / "run"), epochs=2, steps_per_epoch=2,
                                  weights=checkpoint, verbose=0), data_config).run()
    assert metrics["status"] == "completed" and metrics["test_split"] == "test"
    # top-k named for the k it is: of 2 classes, the top 2 always hold the answer
    assert metrics["top2"] == 1.0 and "top5" not in metrics
    trained = load_trained(str(tmp_path / "run" / "model.keras"))
    assert trained.class_names == ["china", "flower"] and trained.preprocessing.eval_crop == 0.875
    evaluated, labels = predictions(trained.model, load(data_config).test)
    assert metrics["top1"] == pytest.approx(np.mean(np.argmax(evaluated, -1) == np.asarray(labels)))
    served = tf.saved_model.load(saved_model(trained.model, root=str(tmp_path / "serving"), class_names=trained.class_names,
                                             top_k=2, preprocessing=trained.preprocessing))
    answers = served.signatures["serving_default"](images=tf.constant([f.read_bytes() for f in _files(photos)]))
    np.testing.assert_allclose(answers["scores"].numpy(), evaluated, atol=1e-4, rtol=0)
    assert set(answers["class_names"].numpy().ravel().tolist()) == {b"china", b"flower"}  # top-2 of 2


def test_weights_a_model_cannot_load_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"are PyTorch weights, which efficientnet-b0 does not load"):
        TrainConfig(model="efficientnet-b0", weights="torchvision", run_dir=str(tmp_path / "run"))
    with pytest.raises(ValueError, match=r"neither a known source nor an existing file"):
        TrainConfig(model="resnet-18", weights=str(tmp_path / "missing.safetensors"))
    assert not (tmp_path / "run").exists()
