"""Callbacks of a run: resume, best checkpoint, logs, divergence guard, throughput."""
import csv
import math
import os
import time

import keras


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


def standard(run_dir, batch_size, ema):
    """The callbacks every run gets, in the order they must run."""
    best = os.path.join(run_dir, "best.keras")
    callbacks = [StopOnNaN(best), Throughput(batch_size),
                 keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"), save_freq="epoch",
                                                  delete_checkpoint=False)]
    if ema:  # validate and checkpoint the averaged weights
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    return callbacks + [
        keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", mode="max", save_best_only=True),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "log.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
    ]


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
