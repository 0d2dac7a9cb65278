"""Keras Tuner over keras_cls: a HyperModel whose trials are ordinary Trainer runs, and the tuners by name.

Each trial builds its TrainConfig and DataConfig from the hyperparameters and trains through the Trainer's own
compile and fit (recipe, callbacks, resume backup), in the tuner's trial folder. Results live in the project
folder: the same command again resumes the search, keeping finished trials. Distributed search uses Keras
Tuner's chief/worker mode (KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT).
"""
import dataclasses
import os
import tempfile

import keras_tuner as kt

from keras_cls.tune.space import AUGMENT

REPORTED = {"val_accuracy": "max", "val_loss": "min", "val_top5": "max", "accuracy": "max", "loss": "min",
            "top5": "max"}
TUNERS = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband}


def _range(hp, name, bounds, log=False):
    low, high = bounds
    if low == high:
        return hp.Fixed(name, low)
    return hp.Float(name, low, high, sampling="log" if log else "linear")


def choose(space, hp):
    """Register the space's hyperparameters on `hp`; returns the chosen values."""
    families = space.families()
    family = hp.Choice("family", list(families))
    variant = None
    for name, variants in families.items():
        with hp.conditional_scope("family", [name]):
            chosen = hp.Choice(f"{name}_variant", variants)
            variant = chosen if name == family else variant
    return {"model": variant, "image_size": hp.Choice("image_size", list(space.image_sizes)),
            "dropout_rate": _range(hp, "dropout", space.dropout),
            "drop_connect_rate": _range(hp, "drop_connect", space.drop_connect),
            "optimizer": hp.Choice("optimizer", list(space.optimizers)),
            "learning_rate": _range(hp, "learning_rate", space.learning_rate, log=True),
            "weight_decay": _range(hp, "weight_decay", space.weight_decay, log=True),
            "label_smoothing": _range(hp, "label_smoothing", space.label_smoothing),
            "augment": hp.Choice("augment", list(space.augment))}


def configs(values, train_config, data_config, run_dir, epochs=None):
    """The TrainConfig and DataConfig of a trial: the base configs with the chosen values."""
    train = dataclasses.replace(train_config, run_dir=run_dir, epochs=epochs or train_config.epochs,
                                **{k: values[k] for k in ("model", "dropout_rate", "drop_connect_rate", "optimizer",
                                                          "learning_rate", "weight_decay", "label_smoothing")})
    data = dataclasses.replace(data_config, image_size=values["image_size"], **AUGMENT[values["augment"]])
    return train, data


class KerasClsHyperModel(kt.HyperModel):
    def __init__(self, space, train_config, data_config, arrays=None):
        super().__init__(name="keras_cls")
        self.space, self.train_config, self.data_config, self.arrays = space, train_config, data_config, arrays
        self.trial_dir = self.trainer = self.data = None

    def build(self, hp):
        from keras_cls.data import load
        from keras_cls.train import Trainer

        run_dir = self.trial_dir or tempfile.mkdtemp(prefix="keras_cls_trial_")
        train, data = configs(choose(self.space, hp), self.train_config, self.data_config, run_dir,
                              epochs=hp.values.get("tuner/epochs"))  # Hyperband's budget for this trial
        self.trainer = Trainer(train, data, self.arrays)
        self.data = load(data, arrays=self.arrays, one_hot=True)
        model, self.steps = self.trainer.compile_model(self.data)
        return model

    def fit(self, hp, model, *args, callbacks=(), initial_epoch=0, **kwargs):
        import tensorflow as tf

        history = self.trainer.fit_compiled(model, self.data, tf.distribute.get_strategy(), self.steps,
                                            list(callbacks), initial_epoch=initial_epoch)
        _log_trial(self.trainer.config.run_dir)
        return history


def resident_mb():
    """This process's resident memory in MB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _log_trial(run_dir):
    """A line each time a trial has trained: which tuner process, and its resident memory after the trial
    (resume, distribution and memory growth across trials are visible in the trials table)."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "trained_by.txt"), "a") as f:
        f.write(f"{os.environ.get('KERASTUNER_TUNER_ID', 'local')} pid={os.getpid()} rss_mb={resident_mb()}\n")


def release_memory():
    """Free what a finished trial held: Keras' graph state, Python garbage, and the C heap pages glibc keeps
    after TensorFlow frees them (without malloc_trim the resident size grows trial after trial)."""
    import ctypes
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


class _TrialFolders:
    """Trials train in the tuner's own trial folders (trial_<id>/), next to its trial.json, and leave nothing
    behind in memory."""

    def run_trial(self, trial, *args, **kwargs):
        self.hypermodel.trial_dir = self.get_trial_dir(trial.trial_id)
        return super().run_trial(trial, *args, **kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.hypermodel.trainer = self.hypermodel.data = None
        release_memory()


def check_objective(objective):
    if objective not in REPORTED:
        raise ValueError(f"objective {objective!r} is not reported by keras_cls training; choose from "
                         f"{', '.join(REPORTED)}")
    return kt.Objective(objective, REPORTED[objective])


def make_tuner(name, hypermodel, project_dir, objective="val_accuracy", max_trials=6, seed=0, overwrite=False):
    """RandomSearch, BayesianOptimization or Hyperband ("random", "bayesian", "hyperband") over `hypermodel`,
    keeping its state in `project_dir` (an existing project resumes unless overwrite)."""
    if name not in TUNERS:
        raise ValueError(f"unknown tuner {name!r}; choose from {', '.join(TUNERS)}")
    if max_trials < 1:
        raise ValueError(f"max_trials must be >= 1, got {max_trials}")
    base = TUNERS[name]
    tuner_class = type(f"KerasCls{base.__name__}", (_TrialFolders, base), {})
    common = {"hypermodel": hypermodel, "objective": check_objective(objective), "seed": seed,
              "directory": os.path.dirname(os.path.abspath(project_dir)),
              "project_name": os.path.basename(os.path.abspath(project_dir)), "overwrite": overwrite}
    if name == "hyperband":
        return tuner_class(max_epochs=hypermodel.train_config.epochs, factor=3, **common)
    return tuner_class(max_trials=max_trials, **common)
