"""Keras Tuner over keras_cls: a HyperModel whose trials are ordinary Trainer runs, and the tuners by name.

Each trial makes its TrainConfig and DataConfig from the hyperparameters and runs `Trainer.run()` (recipe,
callbacks, resume backup, evaluation) in a child process, in the tuner's trial folder. Results live in the project
folder: the same command again resumes the search, keeping finished trials. Distributed search uses Keras
Tuner's chief/worker mode (KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT).
"""
import dataclasses
import json
import os
import subprocess
import sys

import keras_tuner as kt
from keras_tuner.src import utils as kt_utils

from keras_cls import files
from keras_cls.models import get_spec
from keras_cls.tune.space import AUGMENT


def _save_json_whole(path, obj):
    """Keras Tuner writes trial.json, oracle.json and its own state in place: a kill during a write left a file
    that made every later resume fail. The same content, written whole or not at all."""
    text = json.dumps(obj)
    files.write_text(path, text)
    return text


def keep_tuner_files_whole():
    """Make Keras Tuner write its state files (trial.json, oracle.json, ...) whole or not at all, for the whole
    process: its Stateful.save and Tuner look `keras_tuner.src.utils.save_json` up at each call, and this replaces
    it with an atomic writer of the same content. `make_tuner` calls it; importing keras_cls changes nothing."""
    kt_utils.save_json = _save_json_whole


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
    size = hp.Choice("image_size", list(space.image_sizes)) if space.image_sizes else None
    return {"model": variant, "image_size": size,
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
    size = values["image_size"] or data_config.image_size or get_spec(values["model"]).resolution
    data = dataclasses.replace(data_config, image_size=size, **AUGMENT[values["augment"]])
    return train, data


class KerasClsHyperModel(kt.HyperModel):
    """The space, and the base configs every trial starts from. `build(hp)` gives the trial's (untrained) model;
    trials themselves train in a child process (see `_TrialProcesses`)."""

    def __init__(self, space, train_config, data_config):
        super().__init__(name="keras_cls")
        self.space, self.train_config, self.data_config = space, train_config, data_config
        self.num_classes = data_config.num_classes

    def configs(self, hp, run_dir):
        # Hyperband gives each trial its epoch budget; like the original algorithm, a promoted configuration
        # trains again from scratch with the larger budget.
        return configs(choose(self.space, hp), self.train_config, self.data_config, run_dir,
                       epochs=hp.values.get("tuner/epochs"))

    def build(self, hp):
        import keras_cls
        from keras_cls.data.pipeline import count_classes

        train, data = self.configs(hp, run_dir="")
        if self.num_classes is None:  # once, from the class list (no image is read)
            self.num_classes = count_classes(data)
        return keras_cls.build(train.model, num_classes=self.num_classes,
                               input_shape=(data.image_size, data.image_size, 3), dropout_rate=train.dropout_rate,
                               drop_connect_rate=train.drop_connect_rate)


def resident_mb():
    """This process's resident memory in MB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _log_trial(run_dir):
    """A line each time a trial has trained: which tuner process, and the tuner's resident memory after it
    (resume, distribution and memory growth across trials are visible in the trials table)."""
    with open(os.path.join(run_dir, "trained_by.txt"), "a") as f:
        f.write(f"{os.environ.get('KERASTUNER_TUNER_ID', 'local')} pid={os.getpid()} rss_mb={resident_mb()}\n")


def _history(run_dir):
    """{metric: [value per epoch]} from the run's log.csv."""
    from keras_cls.train.callbacks import read_log

    epochs = read_log(run_dir)
    return {k: [e[k] for e in epochs] for k in epochs[0] if k != "epoch"} if epochs else {}


class _TrialProcesses:
    """Each trial is `Trainer.run()` in a child process, in the tuner's trial folder (trial_<id>/, beside its
    trial.json): trained exactly as a normal run, and all its memory returned when it ends (Keras 3 fit keeps
    ~250 MB per model in the process even after clear_session, gc and malloc_trim, measured here)."""

    def run_trial(self, trial, *args, **kwargs):
        run_dir = self.get_trial_dir(trial.trial_id)
        os.makedirs(run_dir, exist_ok=True)
        train, data = self.hypermodel.configs(trial.hyperparameters, run_dir)
        config = os.path.join(run_dir, "trial_config.json")
        files.write_json(config, {"train": dataclasses.asdict(train), "data": dataclasses.asdict(data)})
        child = subprocess.run([sys.executable, "-m", "keras_cls.tune.trial", config, str(os.getpid())])
        if child.returncode != 0:
            raise RuntimeError(f"trial {trial.trial_id} failed (exit {child.returncode}); see {run_dir}")
        _log_trial(run_dir)
        history = _history(run_dir)
        name, direction = self.oracle.objective.name, self.oracle.objective.direction
        if name not in history:
            raise RuntimeError(f"trial {trial.trial_id} did not report {name!r}; it reported {sorted(history)}")
        values = history[name]
        best = values.index(max(values) if direction == "max" else min(values))
        return {metric: series[best] for metric, series in history.items()}


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
    keep_tuner_files_whole()
    base = TUNERS[name]
    tuner_class = type(f"KerasCls{base.__name__}", (_TrialProcesses, base), {})
    common = {"hypermodel": hypermodel, "objective": check_objective(objective), "seed": seed,
              "directory": os.path.dirname(os.path.abspath(project_dir)),
              "project_name": os.path.basename(os.path.abspath(project_dir)), "overwrite": overwrite}
    if name == "hyperband":
        return tuner_class(max_epochs=hypermodel.train_config.epochs, factor=3, **common)
    return tuner_class(max_trials=max_trials, **common)
