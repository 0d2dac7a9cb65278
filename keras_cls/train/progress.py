"""A run's progress, with one source of truth: `progress.json`, replaced atomically and always last.

At the end of epoch k (k counted from 1) the run writes, in this order:
  1. backup/epoch-<k>.weights.h5   weights + optimizer state (schedule step, EMA slots), a new file each epoch
  2. backup/best-<k>.keras         only when the epoch is the best so far by val_accuracy
  3. progress.json                 {"epochs_done": k, "history": [one row per finished epoch], "best": ...}
  4. then, derived from progress.json and idempotent: best.keras moved into place, log.csv rewritten from the
     history, older backups removed.
A kill before 3 leaves the previous epoch as the truth (the new files are ignored and removed on restart); a kill
after 3 is completed by redoing 4 on restart. So every epoch appears in log.csv exactly once, the backup named in
progress.json is always complete, and best.keras is always a loadable model of a finished epoch. At the end of the
run: model.keras, evaluation files, metrics.json, and last progress.json with status "completed".
"""
import csv
import io
import os
import re

from keras_cls import files

MONITOR = "val_accuracy"
_BACKUP = re.compile(r"(epoch|best)-(\d+)\.(weights\.h5|keras)$")


def _path(run_dir, *parts):
    return os.path.join(run_dir, *parts)


def backup_path(run_dir, epochs_done):
    return _path(run_dir, "backup", f"epoch-{epochs_done:04d}.weights.h5")


def best_candidate(run_dir, epochs_done):
    return _path(run_dir, "backup", f"best-{epochs_done:04d}.keras")


class Progress:
    """What a run has finished, read from and written to `<run_dir>/progress.json`."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        state = files.read_json(_path(run_dir, "progress.json")) or {}
        self.epochs_done = int(state.get("epochs_done", 0))
        self.history = list(state.get("history", []))
        self.best = state.get("best")  # {"epoch": k, "val_accuracy": v} or None
        self.status = state.get("status", "training")

    @property
    def backup(self):
        return backup_path(self.run_dir, self.epochs_done) if self.epochs_done else None

    def is_better(self, logs):
        value = (logs or {}).get(MONITOR)
        return value is not None and (self.best is None or float(value) > self.best[MONITOR])

    def commit(self, epochs_done, row, best_value=None):
        """Record a finished epoch (its files already written) as the run's truth, then tidy after it."""
        self.epochs_done, self.history = epochs_done, [*self.history, row]
        if best_value is not None:
            self.best = {"epoch": epochs_done, MONITOR: float(best_value)}
        self._write()
        self.tidy()

    def rewind(self, epochs_done):
        """Forget the epochs after `epochs_done`: a multi-worker run resumes from the last epoch every worker has
        committed (a kill can land between two workers' commits). A best model of a forgotten epoch goes too: the
        next epoch's model becomes best.keras; best_val_accuracy still counts the epochs kept."""
        if epochs_done >= self.epochs_done:
            return
        self.epochs_done, self.history = epochs_done, self.history[:epochs_done]
        if self.best and self.best["epoch"] > epochs_done:
            self.best = None
            if os.path.exists(_path(self.run_dir, "best.keras")):
                os.remove(_path(self.run_dir, "best.keras"))
        self._write()
        self.tidy()

    def complete(self):
        self.status = "completed"
        self._write()

    def _write(self):
        files.write_json(_path(self.run_dir, "progress.json"),
                         {"epochs_done": self.epochs_done, "status": self.status,
                          "best": self.best, "history": self.history})

    def tidy(self):
        """Make every derived file agree with progress.json (after a commit, and on restart after a kill)."""
        files.remove_leftovers(self.run_dir)
        files.remove_leftovers(_path(self.run_dir, "backup"))
        if self.best and os.path.isfile(best_candidate(self.run_dir, self.best["epoch"])):
            os.replace(best_candidate(self.run_dir, self.best["epoch"]), _path(self.run_dir, "best.keras"))
        self._write_log()
        keep = os.path.basename(self.backup) if self.backup else None
        folder = _path(self.run_dir, "backup")
        for name in (os.listdir(folder) if os.path.isdir(folder) else []):
            if _BACKUP.match(name) and name != keep:
                os.remove(os.path.join(folder, name))

    def _write_log(self):
        path = _path(self.run_dir, "log.csv")
        if not self.history:
            if os.path.exists(path):
                os.remove(path)
            return
        columns = list(dict.fromkeys(k for row in self.history for k in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.history)
        files.write_text(path, text.getvalue())

    def totals(self):
        """Figures of the whole run (all processes that trained it): seconds, last throughput, best accuracy."""
        seconds = sum(float(r.get("epoch_seconds") or 0) for r in self.history)
        speeds = [r["images_per_s"] for r in self.history if r.get("images_per_s") is not None]
        vals = [float(r[MONITOR]) for r in self.history if r.get(MONITOR) is not None]
        return {"train_seconds": round(seconds, 1), "images_per_s": speeds[-1] if speeds else None,
                "best_val_accuracy": max(vals) if vals else None}
