"""Training as separate processes, the way users run it: MirroredStrategy over two logical CPUs,
MultiWorkerMirroredStrategy with two local workers (kill and resume: test_crash_safety.py)."""
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from keras_cls.bench.scaling import free_ports

ROOT = Path(__file__).resolve().parents[2]
BASE = ["--model=resnet-18", "--source=digits", "--image_size=32", "--batch_size=16", "--recipe=fast",
        "--crop_scale=0.6,1", "--eval_crop=1", "--verbose=0"]


def _env(**extra):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), **extra}


def _train(run_dir, *flags, **popen):
    cmd = [sys.executable, str(ROOT / "scripts" / "train.py"), *BASE, f"--run_dir={run_dir}", *flags]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _epochs(run_dir):
    path = Path(run_dir) / "log.csv"
    return [int(r["epoch"]) for r in csv.DictReader(open(path))] if path.exists() else []


def _finish(proc, timeout=400):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpu_devices(tmp_path):
    run = tmp_path / "run"
    _finish(_train(run, "--strategy=mirrored", "--cpu_devices=2", "--epochs=2", "--steps_per_epoch=10",
                   "--learning_rate=0.008",
                   env=_env()))
    assert json.loads((run / "config.json").read_text())["replicas"] == 2
    losses = [float(r["loss"]) for r in csv.DictReader(open(run / "log.csv"))]
    assert losses[-1] < losses[0]


def _workers(run, tmp_path):
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen([sys.executable, str(Path(__file__).parent / "multiworker_worker.py"),
                                       str(run), str(tmp_path / f"ids-{index}.json")],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env=_env(TF_CONFIG=tf_config)))
    return procs


def _committed(run_dir):
    path = Path(run_dir) / "progress.json"
    return json.loads(path.read_text())["epochs_done"] if path.exists() else 0


@pytest.mark.slow
def test_multi_worker_two_processes_read_disjoint_data_and_end_with_the_same_weights(tmp_path):
    """Two workers on 127.0.0.1: in one epoch each is handed a disjoint half of the examples (union = all); they
    train to identical weights, validating every epoch into the log.csv columns a fit run writes. Killed after the
    chief committed epoch 1 but before worker 1 did, the job restarted whole resumes where both had committed."""
    import keras

    run = tmp_path / "run"
    procs, deadline = _workers(run, tmp_path), time.monotonic() + 300
    while _committed(run) < 1 and all(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc in procs:  # a preempted worker: its peer waits in the all-reduce, so every worker is restarted
        proc.kill()
        out = proc.communicate()[0]
    assert _committed(run) == 1, out[-3000:]
    # the files a kill between the two workers' commits leaves: worker 1 has committed nothing yet
    (run / "worker-1" / "progress.json").unlink(missing_ok=True)
    for proc in _workers(run, tmp_path):
        _finish(proc)
    ids = [json.loads((tmp_path / f"ids-{i}.json").read_text()) for i in range(2)]
    assert len(ids[0]) == len(ids[1]) == 32 and sorted(ids[0] + ids[1]) == list(range(64))  # disjoint, complete
    chief, other = run, run / "worker-1"
    assert _epochs(chief) == [0, 1] and _epochs(other) == [0, 1]
    with open(chief / "log.csv") as f:
        header = f.readline().strip().split(",")
    assert header == ["epoch", "accuracy", "epoch_seconds", "images_per_s", "loss", "top5", "val_accuracy",
                      "val_loss", "val_top5"]  # as a fit run's log.csv
    rows = list(csv.DictReader(open(chief / "log.csv")))
    assert all(np.isfinite(float(r[k])) for r in rows for k in header) and (chief / "best.keras").exists()
    a = keras.models.load_model(chief / "model.keras").get_weights()
    b = keras.models.load_model(other / "model.keras").get_weights()
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert json.loads((chief / "metrics.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_same_seed_deterministic_runs_end_bit_identical_even_killed_and_resumed(tmp_path):
    """`--deterministic` (TensorFlow's deterministic kernels, the data in file order) with one --seed: two runs end
    with the same weights to the bit and the same log, though one was SIGKILLed after its first epoch and resumed
    by the same command (epoch 2's data order, augmentation and dropout come from (seed, 2), the optimizer from the
    backup); another seed gives other weights."""
    import keras
    import numpy as np

    flags = ["--epochs=2", "--steps_per_epoch=3", "--deterministic"]
    procs = {name: _train(tmp_path / name, *flags, f"--seed={seed}", env=_env())
             for name, seed in (("a", 0), ("b", 0), ("c", 1))}
    deadline = time.monotonic() + 300
    while _committed(tmp_path / "b") < 1 and procs["b"].poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    procs["b"].kill()
    out = procs["b"].communicate()[0]
    assert _committed(tmp_path / "b") == 1 and not (tmp_path / "b" / "metrics.json").exists(), out[-3000:]
    procs["b"] = _train(tmp_path / "b", *flags, "--seed=0", env=_env())
    for proc in procs.values():
        _finish(proc)
    weights = [[w.numpy() for w in keras.models.load_model(tmp_path / name / "model.keras").weights]
               for name in "abc"]
    assert all(np.array_equal(x, y) for x, y in zip(weights[0], weights[1]))
    assert not all(np.array_equal(x, y) for x, y in zip(weights[0], weights[2]))
    logs = [[{k: v for k, v in row.items() if k not in ("images_per_s", "epoch_seconds")}  # wall time varies
             for row in csv.DictReader(open(tmp_path / name / "log.csv"))] for name in "ab"]
    assert logs[0] == logs[1] and len(logs[0]) == 2
