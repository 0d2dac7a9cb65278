"""Crash safety of a run, the way an OOM killer hits it: SIGKILL at random moments and at the moment of each file
write (seen by polling the run folder, no inotify), then the same command again; after every kill the run folder
must hold only complete files and one consistent story (every saved model opens in keras.models.load_model), and
the finished run must have every epoch exactly once and, with --deterministic, the weights of a run never killed,
to the bit."""
import collections
import csv
import functools
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 3
FLAGS = ["--model=resnet-18", "--source=digits", "--image_size=32", "--batch_size=16", "--recipe=fast",
         "--crop_scale=0.6,1", "--eval_crop=1", "--verbose=0", f"--epochs={EPOCHS}", "--steps_per_epoch=3",
         "--deterministic"]
# What the poller waits for before it kills: a file of that name changing (its rename has just happened), or a
# temporary file being present (a write in progress).
# In the order they come in a run (each restart redoes the unfinished epoch, so the next moment comes again).
# (data_report.json, evaluation.json and confusion.png are written by the same files.* calls as config.json,
# metrics.json and model.keras: one moment each for the kinds of write, to keep the test near 90 s.)
MOMENTS = [".tmp-", "backup/epoch-0001.weights.h5", "backup/best-0001.keras", "progress.json", "log.csv",
           "model.keras", "metrics.json", "progress.json"]


def _start(run, niceness=5):
    """The command; niced below the poller, so that on a busy machine the poller still sees a moment that lasts a
    few milliseconds (the best model's candidate, between its rename and the commit that moves it)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train.py"), *FLAGS, f"--run_dir={run}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: os.nice(niceness))


def _snapshot(run):
    seen = {}
    for folder in (run, run / "backup"):
        try:
            with os.scandir(folder) as entries:
                for e in entries:
                    try:
                        st = e.stat()
                        seen[str(Path(e.path).relative_to(run))] = (st.st_size, st.st_mtime_ns)
                    except FileNotFoundError:  # renamed or removed between listing and stat
                        pass
        except FileNotFoundError:
            pass
    return seen


def _hit(moment, before, now):
    if moment.startswith(".tmp-"):
        return any(Path(name).name.startswith(".tmp-") for name in now)
    return moment in now and now[moment] != before.get(moment)


def _kill_when(proc, run, moment=None, delay=None, timeout=240):
    """SIGKILL proc at `moment` (see MOMENTS) or after `delay` seconds, at the latest while the first epoch's backup
    is being written (a quick machine would otherwise commit epoch 1 first, and the moments of epoch 1 that the plan
    waits for next would never come again); False if it finished first."""
    start, before = time.monotonic(), _snapshot(run)
    while proc.poll() is None and time.monotonic() - start < timeout:
        now = _snapshot(run)
        if (delay is not None and (time.monotonic() - start >= delay or _writing_first_backup(now))) or \
                (moment and _hit(moment, before, now)):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        before = now
        time.sleep(0.001)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, out[-3000:]
    return False


def _writing_first_backup(now):
    return "backup/epoch-0001.weights.h5" not in now and any(
        name.startswith("backup/") and Path(name).name.startswith(".tmp-") for name in now)


@functools.lru_cache(None)
def _backup_shapes():
    """The shapes a backup of the run holds: every variable of its model (ResNet-18, 32 px, digits' 10 classes),
    and AdamW's two slots per trainable one plus its step count (the fast recipe's optimizer state)."""
    import keras_cls

    model = keras_cls.build("resnet-18", num_classes=10, input_shape=(32, 32, 3))
    slots = [tuple(w.shape) for w in model.trainable_weights] * 2 + [()]
    return collections.Counter([tuple(w.shape) for w in model.weights] + slots)


def _weights(path):
    import keras

    return [w.numpy() for w in keras.models.load_model(path, compile=False).weights]


def _check_invariants(run):
    """Whatever the moment of the kill: complete files only, log.csv = the epochs progress.json says are done."""
    progress = json.loads((run / "progress.json").read_text()) if (run / "progress.json").exists() else None
    done = progress["epochs_done"] if progress else 0
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(run / "log.csv"))] if (run / "log.csv").exists() else []
    # log.csv may lag progress.json only by the last commit's tidy-up, which the restart redoes
    assert epochs in (list(range(done)), list(range(done - 1))), (epochs, done)
    if done:
        with h5py.File(run / "backup" / f"epoch-{done:04d}.weights.h5", "r") as f:
            arrays = []
            f.visititems(lambda name, item: arrays.append(item.shape) if isinstance(item, h5py.Dataset) else None)
        assert collections.Counter(arrays) == _backup_shapes(), done  # the whole state, nothing cut short
    for model in ("best.keras", "model.keras"):
        if (run / model).exists():
            with zipfile.ZipFile(run / model) as z:
                assert z.testzip() is None and "model.weights.h5" in z.namelist(), model
            assert _weights(run / model), model
    for name in ("config.json", "data_report.json", "metrics.json", "evaluation.json"):
        if (run / name).exists():
            json.loads((run / name).read_text())
    return done


@pytest.mark.slow
def test_sigkill_at_every_write_and_at_random_moments_loses_nothing(tmp_path):
    run, rng, kills = tmp_path / "run", random.Random(0), []
    whole = _start(tmp_path / "whole", niceness=19)  # the same command, never killed: on the CPU the others leave
    plan = [("moment", "config.json")] + [("delay", rng.uniform(3, 12))] + \
        [("moment", m) for m in MOMENTS]
    for kind, what in plan:
        proc = _start(run)
        killed = _kill_when(proc, run, moment=what if kind == "moment" else None,
                            delay=what if kind == "delay" else None)
        if not killed:  # the run finished before that moment came (a kill after its last write, say)
            break
        kills.append(what)
        _check_invariants(run)
    assert len(kills) >= 9, kills
    out = _start(run).communicate(timeout=400)[0]
    assert _check_invariants(run) == EPOCHS, out[-3000:]
    assert [int(r["epoch"]) for r in csv.DictReader(open(run / "log.csv"))] == list(range(EPOCHS))
    metrics = json.loads((run / "metrics.json").read_text())
    rows = list(csv.DictReader(open(run / "log.csv")))  # every epoch once, whichever process trained it
    assert metrics["status"] == "completed" and metrics["best_val_accuracy"] == max(float(r["val_accuracy"])
                                                                                   for r in rows)
    assert metrics["train_seconds"] == pytest.approx(sum(float(r["epoch_seconds"]) for r in rows), abs=0.06)
    print(f"survived {len(kills)} kills: {kills}")
    out = whole.communicate(timeout=400)[0]
    assert whole.returncode == 0, out[-3000:]
    a, b = _weights(tmp_path / "whole" / "model.keras"), _weights(run / "model.keras")
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    # The same command on the finished run changes nothing and says so.
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    again = _start(run)
    out = again.communicate(timeout=200)[0]
    assert again.returncode == 0 and "already completed" in out, out[-3000:]
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
