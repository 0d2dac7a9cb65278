"""Training throughput of the Trainer's step against plain `keras.applications` + `model.fit`, in the same run.

Three arms on whatever device is there, each timed by the same callback over the same steps after a warm-up epoch:
- trainer, data pipeline: the model and optimizer the Trainer compiles (recipe, precision, XLA), fed by the tf.data
  pipeline the Trainer uses (the digits at the model's size, training transforms);
- trainer, synthetic: the same compiled model fed one in-graph batch (what the pipeline costs shows as the gap);
- plain fit, synthetic: keras.applications' model of the same architecture (EfficientNet; for ResNet, keras_cls'
  own, which keras.applications lacks as v1.5) compiled with the same optimizer and loss, the same batch.
MFU = GMACs x 6 x images/s / the matmul peak measured in the same run (training counts forward + backward).
`deterministic` times what `--deterministic` costs (deterministic kernels and data order: a process-wide switch).
"""
import dataclasses
import tempfile
import time

import numpy as np

# keras_cls name -> keras.applications class (same architecture, same weights layout)
APPLICATIONS = {f"efficientnet-b{i}": f"EfficientNetB{i}" for i in range(8)} | {
    f"efficientnetv2-{v}": f"EfficientNetV2{v.upper()}" for v in ("b0", "b1", "b2", "b3", "s", "m", "l")}


@dataclasses.dataclass(frozen=True)
class Setting:
    model: str = "efficientnet-b0"
    batch: int = 32
    image_size: int = 0            # 0: the model's resolution
    precision: str = "float32"     # float32 | mixed_float16 | mixed_bfloat16
    jit_compile: bool = False      # XLA
    steps: int = 10                # timed steps (after one warm-up epoch of the same length)
    recipe: str = "fast"
    deterministic: bool = False    # TensorFlow's deterministic kernels and data order (--deterministic)


def _speed(model, dataset, setting):
    """images/s of the second epoch's steps, from the first to the last step's end (tracing and warm-up excluded)."""
    import keras

    ends = []
    timer = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: ends.clear(),
                                           on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter()))
    model.fit(dataset, steps_per_epoch=setting.steps + 1, epochs=2, verbose=0, callbacks=[timer], shuffle=False)
    return (len(ends) - 1) * setting.batch / max(ends[-1] - ends[0], 1e-9)


def _synthetic(size, batch, classes):
    import tensorflow as tf

    images = tf.constant(np.random.default_rng(0).integers(0, 256, (batch, size, size, 3), dtype=np.uint8))
    labels = tf.constant(np.eye(classes, dtype=np.float32)[np.arange(batch) % classes])
    return tf.data.Dataset.from_tensors((images, labels)).repeat()


def _plain(setting, size, classes, optimizer, loss):
    import keras

    from keras_cls.models import build

    name = APPLICATIONS.get(setting.model)
    model = getattr(keras.applications, name)(weights=None, classes=classes, input_shape=(size, size, 3)) if name \
        else build(setting.model, num_classes=classes, input_shape=(size, size, 3))
    model.compile(optimizer=optimizer.__class__.from_config(optimizer.get_config()), loss=loss,
                  jit_compile=setting.jit_compile)
    return model, ("keras.applications." + name) if name else "keras_cls.build (plain compile)"


def measure(setting, peak_gflops):
    """One row: images/s and MFU of the three arms, and the ratios."""
    import keras

    from keras_cls.data import DataConfig, load
    from keras_cls.models import flops, get_spec
    from keras_cls.train import TrainConfig, Trainer

    size = setting.image_size or get_spec(setting.model).resolution
    if setting.deterministic:  # for the whole process, as in a training run: TensorFlow cannot turn it off
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(setting.precision)
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = Trainer(TrainConfig(model=setting.model, run_dir=run_dir, recipe=setting.recipe,
                                          precision=setting.precision, jit_compile=setting.jit_compile,
                                          steps_per_epoch=setting.steps + 1),
                              DataConfig(source="digits", image_size=size, batch_size=setting.batch, eval_crop=1.0,
                                         deterministic=setting.deterministic))
            data = load(trainer.data_config, one_hot=True)
            model, _ = trainer.compile_model(data)
            pipeline = _speed(model, data.train.repeat(), setting)
            synthetic = _speed(model, _synthetic(size, setting.batch, data.num_classes), setting)
        plain_model, plain_name = _plain(setting, size, data.num_classes, model.optimizer, model.loss)
        plain = _speed(plain_model, _synthetic(size, setting.batch, data.num_classes), setting)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    gmacs = flops.count(setting.model, size).macs / 1e9
    mfu = lambda ips: gmacs * 6 * ips / peak_gflops  # noqa: E731
    return {**dataclasses.asdict(setting), "image_size": size, "plain": plain_name, "gmacs": gmacs,
            "trainer_pipeline_img_s": pipeline, "trainer_synthetic_img_s": synthetic, "plain_fit_img_s": plain,
            "trainer_vs_plain": synthetic / plain, "pipeline_share": 1 - pipeline / synthetic,
            "mfu_trainer": mfu(synthetic), "mfu_plain": mfu(plain)}
