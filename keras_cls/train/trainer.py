"""The Trainer: strategy, precision policy, model + optimizer under the strategy's scope, fit with resume.

A run directory holds config.json, data_report.json, progress.json (what is finished: the one source of truth,
see progress.py), backup/ (resume after a kill), best.keras, log.csv, logs/ (TensorBoard), model.keras (final
weights, EMA applied), evaluation.json, confusion.png and metrics.json. Every file is written whole or not at all.
"""
import dataclasses
import json
import math
import os

from keras_cls import files
from keras_cls.train import finetune, recipes, schedules
from keras_cls.train.config import TrainConfig
from keras_cls.train.progress import Progress

# Settings that may change when a run is resumed (where it runs and how it talks, not what it trains).
RESUMABLE = ("run_dir", "verbose", "new_run", "cpu_devices", "strategy", "tpu", "sync_batchnorm")


def split_cpu(n):
    """Make n logical CPU devices (MirroredStrategy on one machine); only possible before TensorFlow starts."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as e:
        raise RuntimeError("cpu_devices must be set before TensorFlow has run anything in this process "
                           "(use keras-cls train --cpu_devices)") from e


def make_strategy(config):
    import tensorflow as tf

    if config.cpu_devices > 1:
        split_cpu(config.cpu_devices)
    if config.strategy == "mirrored":
        devices = [f"/cpu:{i}" for i in range(config.cpu_devices)] if config.cpu_devices > 1 else None
        return tf.distribute.MirroredStrategy(devices)
    if config.strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if config.strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=config.tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


_OPTIMIZER_ARGS = {"rmsprop": {"rho": 0.9, "momentum": 0.9, "epsilon": 1e-3}, "adamw": {},
                   "sgd": {"momentum": 0.9, "nesterov": True}}


def make_optimizer(recipe, batch_size, steps_per_epoch, epochs, lr_factor=1.0, lr_scales=None):
    """The recipe's optimizer and schedule over `epochs`; `lr_scales` ({variable path: factor}) makes it
    layer-wise (fine-tuning's layer_decay)."""
    peak = recipe.learning_rate * lr_factor * batch_size / 256
    schedule = schedules.WarmupDecay(peak, recipe.warmup_epochs * steps_per_epoch, epochs * steps_per_epoch,
                                     recipe.schedule, recipe.decay_rate, recipe.decay_epochs * steps_per_epoch)
    kwargs = {"weight_decay": recipe.weight_decay or None, "use_ema": bool(recipe.ema),
              "ema_momentum": recipe.ema or 0.99, **_OPTIMIZER_ARGS[recipe.optimizer]}
    if lr_scales:
        opt = finetune.LAYERWISE[recipe.optimizer](schedule, lr_scales=lr_scales, **kwargs)
    else:
        opt = finetune.OPTIMIZERS[recipe.optimizer](schedule, **kwargs)
    if recipe.weight_decay:
        opt.exclude_from_weight_decay(var_names=list(recipes.NO_DECAY))
    return opt


def build_state(model, batch):
    """Create a compiled model's optimizer, loss and metric variables from a batch (or its TensorSpecs) before its
    train step is first traced: a step that creates variables on its first call is traced twice (~1.5 s of a
    ResNet-18 at 32 px). This is Keras' own build step, which fit runs itself only under a non-default strategy."""
    model._symbolic_build(data_batch=batch)


def _loss_and_metrics(recipe):
    import keras

    loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    return loss, [keras.metrics.CategoricalAccuracy(name="accuracy"),
                  keras.metrics.TopKCategoricalAccuracy(5, name="top5")]


def _count_steps(data, batch_size):
    from keras_cls.data import steps_per_epoch

    steps = steps_per_epoch(data, batch_size)
    return steps if steps is not None else sum(1 for _ in data.train)


def _largest_batch(n):
    return 1 << (n.bit_length() - 1)


class Trainer:
    """Train one model on one data set as configured; `run()` returns the metrics it writes to metrics.json."""

    def __init__(self, config=TrainConfig(), data_config=None, arrays=None):
        from keras_cls.data import DataConfig
        from keras_cls.models import get_spec
        from keras_cls.models.registry import family_module

        self.config, self.spec = config, get_spec(config.model)
        self.data_config = (data_config or DataConfig()).for_model(self.spec.resolution)  # explicit size wins
        default = family_module(self.spec).DEFAULT_RECIPE
        self.recipe = recipes.resolve(config.recipe, default, pretrained=config.weights is not None, **{
            f: getattr(config, f) for f in ("optimizer", "learning_rate", "schedule", "warmup_epochs", "weight_decay",
                                            "label_smoothing", "ema", "dropout_rate", "drop_connect_rate",
                                            "unfreeze", "backbone_lr", "layer_decay", "train_bn")})
        self.phases = finetune.plan(self.recipe, config.epochs, config.head_epochs)
        self._check_phases()
        self.arrays = arrays

    def _check_phases(self):
        fine_tuning = self.phases[0].name != "train"
        if self.config.head_epochs is not None and not fine_tuning:
            raise ValueError("head_epochs is the head-only phase of fine-tuning: it needs weights and the finetune "
                             "recipe (the default with weights)")
        if fine_tuning and self.config.strategy == "multiworker":
            raise ValueError("fine-tuning (two phases) runs with strategy default, mirrored or tpu; multiworker "
                             "trains one phase: pass recipe='resnet', 'efficientnet' or 'fast' with the weights")

    def _build(self, num_classes):
        import keras_cls

        size = self.data_config.image_size
        sync = self.config.sync_batchnorm if self.config.sync_batchnorm is not None else \
            self.config.strategy != "default"
        return keras_cls.build(self.spec.name, num_classes=num_classes, input_shape=(size, size, 3),
                               weights=self.config.weights, include_top=True,
                               dropout_rate=self.recipe.dropout_rate, drop_connect_rate=self.recipe.drop_connect_rate,
                               bn_momentum=self.recipe.bn_momentum, sync_bn=sync,
                               zero_init_residual=self.recipe.zero_init_residual and self.config.weights is None)

    def _write(self, name, payload):
        files.write_json(os.path.join(self.config.run_dir, name), payload)

    def _saved_config(self, data, strategy):
        from keras_cls.data.contract import Preprocessing

        return {"train": dataclasses.asdict(self.config), "data": dataclasses.asdict(self.data_config),
                "recipe": dataclasses.asdict(self.recipe), "class_names": data.class_names,
                "preprocessing": dataclasses.asdict(Preprocessing.of_data(self.data_config)),
                "replicas": strategy.num_replicas_in_sync, "data_note": data.note}

    def _new_run_dir(self):
        """With new_run, a run folder that already holds a run is left alone: train in <run_dir>-2, -3, ..."""
        run_dir = self.config.run_dir.rstrip(os.sep) or self.config.run_dir
        if not self.config.new_run or not os.path.isdir(run_dir) or not os.listdir(run_dir):
            return
        n = 2
        while os.path.exists(f"{run_dir}-{n}"):
            n += 1
        self.config = dataclasses.replace(self.config, run_dir=f"{run_dir}-{n}")
        print(f"new run in {self.config.run_dir} ({run_dir} holds an earlier run)")

    def _check_trainable(self, data):
        """A run that cannot train is an error before anything is written."""
        size, batch = data.sizes.get("train"), self.data_config.batch_size
        if size is not None and size < batch:
            fix = f"use batch_size <= {size} (e.g. {_largest_batch(size)})" if size else "add training images"
            raise ValueError(f"the train split has {size} images, fewer than one batch of {batch}: training batches "
                             f"drop the remainder, so no training step could run; {fix}")

    def _check_same_run(self, saved):
        """Resuming must continue the same run: the settings saved in config.json must be the ones given now."""
        now = json.loads(json.dumps({"train": dataclasses.asdict(self.config),
                                     "data": dataclasses.asdict(self.data_config)}, default=str))
        differ = [f"{section}.{k}" for section in ("train", "data") for k, v in now[section].items()
                  if k not in RESUMABLE and k in saved.get(section, {}) and saved[section][k] != v]
        if differ:
            raise ValueError(f"{self.config.run_dir} holds a run with other settings ({', '.join(differ)} differ); "
                             f"resume it with its own settings, or pass new_run=True (--new_run) or another run_dir")

    def _start_files(self, data, strategy):
        os.makedirs(self.config.run_dir, exist_ok=True)
        if not os.path.isfile(os.path.join(self.config.run_dir, "config.json")):
            self._write("config.json", self._saved_config(data, strategy))
        self._data_report(data)

    def _data_report(self, data, read=None):
        """data_report.json: the scan's counts, the images each split holds after it (`splits`; None: not
        counted) and, once the run is evaluated, the images the evaluation read (`read`)."""
        self._write("data_report.json", {**data.report.as_dict(), "splits": data.sizes,
                                         **({"read": read} if read else {})})

    def _check_read(self, data, name, read):
        """An image that passed the header scan (verify='header') but does not decode is dropped where it is read:
        the run says so in one line, and data_report.json holds what the evaluation read."""
        held = data.sizes.get(name)
        if held is not None and read != held:
            print(f"warning: {held - read} of the {held} images of the {name} split passed the scan but could not "
                  f"be decoded, and are not in the evaluation ({read} images); verify='full' finds such files "
                  "before training")
        self._data_report(data, {name: read})

    def run(self, callbacks=(), strategy=None):
        """Train (or resume, or say the run is complete); `strategy` replaces the one config.strategy makes (for
        a caller that already made it: a process makes its multi-worker strategy once)."""
        import keras

        from keras_cls import data as data_lib
        from keras_cls.models.building import fetch_weights

        self._new_run_dir()
        saved = files.read_json(os.path.join(self.config.run_dir, "config.json"))
        if saved is not None:
            self._check_same_run(saved)
        done = Progress(self.config.run_dir)
        if done.status == "completed":
            print(f"{self.config.run_dir}: this run is already completed ({done.epochs_done} epochs); nothing to do "
                  "(new_run=True / --new_run trains again in a new folder)")
            return files.read_json(os.path.join(self.config.run_dir, "metrics.json"))
        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(self.config.precision)
        try:
            keras.utils.set_random_seed(self.config.seed)  # initial weights, dropout and drop-connect
            if self.config.deterministic:  # for the whole process: TensorFlow cannot turn it off again
                import tensorflow as tf

                tf.config.experimental.enable_op_determinism()
            strategy = strategy or make_strategy(self.config)
            data = data_lib.load(self.data_config, arrays=self.arrays, one_hot=True)
            self._check_trainable(data)
            if self.config.weights is not None:  # a named source is fetched (or refused) before anything is written
                fetch_weights(self.spec, self.config.weights, full_head=len(data.class_names) == 1000)
            self._start_files(data, strategy)
            if self.config.strategy == "multiworker":
                from keras_cls.train import multiworker

                return multiworker.run(self, strategy, data)
            return self._fit(strategy, data, callbacks)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)

    def _steps(self, data):
        steps = self.config.steps_per_epoch or _count_steps(data, self.data_config.batch_size)
        size = data.sizes.get("train")
        if steps < 1 or (size is not None and size < self.data_config.batch_size):
            raise ValueError(f"the train split yields no full batch of {self.data_config.batch_size}; lower batch_size")
        return steps

    def compile_model(self, data):
        """The model compiled for the first phase (multi-worker runs have only one); and the steps per epoch."""
        steps = self._steps(data)
        model = self._build(data.num_classes)
        self.compile_phase(model, self.phases[0], steps, data)
        return model, steps

    def compile_phase(self, model, phase, steps, data):
        """Freeze for the phase, compile with the phase's own optimizer and schedule, and create the optimizer's,
        loss's and metrics' variables (build_state)."""
        scales = finetune.set_phase(model, phase, self.recipe)
        optimizer = make_optimizer(self.recipe, self.data_config.batch_size, steps, phase.end - phase.start,
                                   phase.lr_factor, scales)
        loss, metrics = _loss_and_metrics(self.recipe)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=self.config.jit_compile)
        build_state(model, data.train.element_spec)

    def restore(self, model, progress):
        """Load the backup progress.json names (weights + optimizer state); the epoch to continue from."""
        progress.tidy()
        if progress.backup:  # the optimizer's variables exist (compile_phase)
            model.load_weights(progress.backup)
        return progress.epochs_done

    def _fit(self, strategy, data, extra_callbacks):
        """Each phase from where the run stands: the backup holds the optimizer of the phase of its last epoch."""
        from keras_cls.train import callbacks as cb

        progress = Progress(self.config.run_dir)
        current = finetune.phase_of(self.phases, progress.epochs_done)
        with strategy.scope():
            model, steps = self._build(data.num_classes), self._steps(data)
            self.compile_phase(model, self.phases[current], steps, data)
            first = start = self.restore(model, progress)
        try:
            for phase in self.phases[current:]:
                if phase is not self.phases[current]:
                    with strategy.scope():
                        self.compile_phase(model, phase, steps, data)
                if first < phase.end:
                    self._fit_with_callbacks(model, data, steps, progress, phase, first, extra_callbacks)
                    first = phase.end
                elif model.optimizer.use_ema:  # the restored phase ended before a kill: what its fit did last
                    model.optimizer.finalize_variable_values(model.trainable_variables)
        except cb.TrainingDiverged as e:
            self._write("metrics.json", {"status": "diverged", "model": self.spec.name, "message": str(e)})
            raise
        return self.finish(model, data, progress, self.config.epochs - start, steps)

    def _fit_with_callbacks(self, model, data, steps, progress, phase, first, extra_callbacks):
        from keras_cls.train import callbacks as cb

        if phase.name != "train":
            print(f"phase {phase.index} ({phase.name}): epochs {max(first, phase.start) + 1}-{phase.end}, "
                  f"{sum(math.prod(w.shape) for w in model.trainable_weights):,} trainable parameters")
        callbacks = [*cb.standard(progress, self.data_config.batch_size, self.recipe.ema, self.config.seed,
                                  data.validation, phase=phase.index if phase.name != "train" else None),
                     *extra_callbacks]
        first_epoch = max(first, phase.start)
        return model.fit(data.train_from(first_epoch, steps), steps_per_epoch=steps, epochs=phase.end,
                         initial_epoch=first_epoch, verbose=self.config.verbose, shuffle=False, callbacks=callbacks)

    def finish(self, model, data, progress, trained_now, steps):
        """model.keras, evaluation files and metrics.json, each written whole; then progress.json says completed."""
        from keras_cls.evaluate import evaluate
        from keras_cls.train.callbacks import save_model

        save_model(model, os.path.join(self.config.run_dir, "model.keras"))
        name = "test" if data.test is not None else "validation"
        split = data.test if data.test is not None else data.validation
        result = evaluate(model, split, data.class_names, out_dir=self.config.run_dir) if split is not None else {}
        if result:
            self._check_read(data, name, result["examples"])
        metrics = {"status": "completed", "model": self.spec.name, "epochs": self.config.epochs,
                   "epochs_this_run": trained_now, "steps_per_epoch": steps, **progress.totals(),
                   "test_split": name,
                   # top1, and top5 (top<k>, k = the number of classes, when there are fewer than 5)
                   "top1": result.get("top1"), **{k: v for k, v in result.items() if k.startswith("top")},
                   "skipped_inputs": len(data.report.skipped)}
        self._write("metrics.json", metrics)
        progress.complete()
        return metrics
