"""Callbacks of a run: backup and commit of each epoch (see progress.py), divergence guard, throughput."""
import csv
import math
import os
import time
import warnings

import keras
import numpy as np

from keras_cls import files
from keras_cls.train import progress as progress_lib


def save_model(model, path):
    """`path` (.keras) holds the architecture and the weights, not the optimizer: its schedule and layer-wise class
    are keras_cls's, which would make the file unloadable in a Keras without keras_cls. The training state is in
    the run's backup. Every layer is saved trainable (fine-tuning's frozen blocks are a training setting)."""
    clone = keras.Model.from_config(model.get_config())  # clone_model would carry the compile config along
    clone.set_weights(model.get_weights())
    for layer in clone.layers:
        layer.trainable = True
    with files.atomic_path(path) as tmp:
        clone.save(tmp)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped before saving anything from the bad step."""


class StopOnNaN(keras.callbacks.Callback):
    """Like TerminateOnNaN, but stops at once by raising, so that no epoch-end hook (backup, checkpoint) saves
    the diverged weights: the last good checkpoint and backup stay as they were."""

    def __init__(self, best_path):
        super().__init__()
        self.best_path, self.epoch = best_path, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            last = self.best_path if os.path.exists(self.best_path) else "none yet"
            raise TrainingDiverged(
                f"loss became {float(loss)} at epoch {self.epoch + 1}, batch {batch + 1}; training stopped. "
                f"Last good checkpoint: {last}. Lower the learning rate, or use float32 / loss scaling.")


class Throughput(keras.callbacks.Callback):
    """Adds images_per_s (training images per second, validation excluded) and epoch_seconds (the epoch's wall
    time, validation included: what time-to-accuracy adds up) to the epoch logs and the CSV log."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size, self.start, self.last, self.steps = batch_size, 0.0, 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps, self.last = self.steps + 1, time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["images_per_s"] = self.steps * self.batch_size / max(self.last - self.start, 1e-9)
            logs["epoch_seconds"] = time.perf_counter() - self.start


class EpochLine(keras.callbacks.Callback):
    """One line per finished epoch for quiet runs (verbose=0) inside longer jobs: k/N, loss, accuracy, validation
    accuracy, seconds, and the time left at the mean pace so far."""

    def __init__(self, log, epochs, prefix=""):
        super().__init__()
        self.log, self.epochs, self.prefix, self.times = log, epochs, prefix, []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.times.append(time.perf_counter() - self.start)
        left = (self.epochs - epoch - 1) * sum(self.times) / len(self.times)
        figures = ", ".join(f"{k} {logs[k]:.3f}" for k in ("loss", "accuracy", "val_accuracy") if k in logs)
        self.log(f"{self.prefix}epoch {epoch + 1}/{self.epochs}: {figures}, {self.times[-1]:.0f} s, "
                 f"~{left:.0f} s left")


class SaveBackup(keras.callbacks.Callback):
    """Writes weights + optimizer state after each epoch to a new backup file (progress.json names the valid one).
    Runs before SwapEMAWeights swaps the averaged weights in, so a restored backup continues training exactly."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir

    def on_epoch_end(self, epoch, logs=None):
        with files.atomic_path(progress_lib.backup_path(self.run_dir, epoch + 1)) as tmp:
            self.model.save_weights(tmp)


class CommitEpoch(keras.callbacks.Callback):
    """The last thing an epoch writes: the best model when it improved, then the epoch into progress.json."""

    def __init__(self, progress, phase=None):
        super().__init__()
        self.progress, self.phase = progress, phase

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        better = self.progress.is_better(logs)
        if better:
            save_model(self.model, progress_lib.best_candidate(self.progress.run_dir, epoch + 1))
        row = {"epoch": epoch, **({"phase": self.phase} if self.phase else {}),
               **{k: float(v) for k, v in logs.items()}}
        self.progress.commit(epoch + 1, row, logs[progress_lib.MONITOR] if better else None)


class EpochSeeds(keras.callbacks.Callback):
    """Each random stream inside the model (dropout, drop-connect: Keras' SeedGenerator states, which no backup
    holds) restarts at each epoch from (seed, epoch, its index): a run resumed at epoch k draws what the run that
    was never stopped drew."""

    def __init__(self, seed):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        states = [v for v in self.model.variables if v.path.endswith("seed_generator_state")]
        for i, state in enumerate(states):
            state.assign(np.array([(self.seed * 1_000_003 + epoch) * 1_000_003 + i, 0], dtype=state.dtype))


class SwapEMAWeights(keras.callbacks.SwapEMAWeights):
    """Keras' SwapEMAWeights (validate and checkpoint the averaged weights), swapping by copies: its TensorFlow
    swap adds and subtracts (w <- w + a, a <- w - a, w <- w - a), which rounds, so every epoch's swap there and back
    moved the training weights by an ulp and a resumed run (its backup taken before the swap) drifted from the run
    never stopped."""

    def _swap_variables(self):
        self._apply_to_ema_optimizers(self._backend_swap_variables, self._backend_swap_variables)


class Validate(keras.callbacks.Callback):
    """fit's validation, done by `evaluate` at the end of each epoch: val_loss, val_accuracy, val_top5 of the whole
    split, read to its end whatever its length. A split of unknown length (files skipped, several replicas) makes
    Keras say "Your input ran out of data; interrupting training" at its end, which reads as if training had
    stopped: here that end is the one wanted, and the line is held back. (fit's own validation, given the step
    count instead, fails under MirroredStrategy: StopIteration at the partial last batch.)"""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                results = self.model.evaluate(self.data, verbose=0, return_dict=True)
            logs.update({f"val_{name}": value for name, value in results.items()})


def standard(progress, batch_size, ema, seed, validation=None, phase=None):
    """The callbacks every run gets, in the order they must run."""
    run_dir = progress.run_dir
    callbacks = [EpochSeeds(seed), StopOnNaN(os.path.join(run_dir, "best.keras")), SaveBackup(run_dir)]
    if ema:  # validate and checkpoint the averaged weights
        callbacks.append(SwapEMAWeights(swap_on_epoch=True))
    if validation is not None:
        callbacks.append(Validate(validation))
    return callbacks + [Throughput(batch_size), CommitEpoch(progress, phase),  # epoch_seconds: validation included
                        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False)]


def read_log(run_dir):
    """The run's log.csv as one dict per epoch, in order, values as floats and "epoch" 0-based as written; a row
    that a resumed run appended for an epoch replaces the earlier one. [] when there is no log yet."""
    path = os.path.join(run_dir, "log.csv")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        rows = {int(r["epoch"]): r for r in csv.DictReader(f)}
    return [{k: (e if k == "epoch" else float(v)) for k, v in rows[e].items() if v not in ("", None)}
            for e in sorted(rows)]
