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


def _killed_and_resumed(run, start, epochs):
    """start(): the command. SIGKILL it right after each epoch of `epochs` is committed (polled every 20 ms: the
    next write of the run is the epoch's tidy-up a second later) and start the same command again; returns the
    last process and the killed ones' output."""
    proc, outs = start(), []
    for k in epochs:
        deadline = time.monotonic() + 300
        while _committed(run) < k and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.kill()
        outs.append(proc.communicate()[0])
        assert _committed(run) == k and not (run / "metrics.json").exists(), outs[-1][-3000:]
        proc = start()
    return proc, outs


def _weights(run):
    import keras

    return [w.numpy() for w in keras.models.load_model(run / "model.keras").weights]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _log(run):
    """log.csv without the wall-time columns."""
    return [{k: v for k, v in row.items() if k not in ("images_per_s", "epoch_seconds")}
            for row in csv.DictReader(open(run / "log.csv"))]


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpu_devices_resumes_to_the_bit(tmp_path):
    """Two replicas on two logical CPUs, deterministic: a run SIGKILLed after epoch 1 and resumed ends with the
    weights and log of the run never stopped, to the bit (synchronized BatchNorm, the default with a strategy: each
    replica's own statistics gave the two runs other val_loss and val_top5), and its last val_loss is the saved
    model's."""
    flags = ["--strategy=mirrored", "--cpu_devices=2", "--epochs=2", "--steps_per_epoch=3", "--learning_rate=0.008",
             "--deterministic"]
    whole = _train(tmp_path / "a", *flags, env=_env())
    resumed, _ = _killed_and_resumed(tmp_path / "b", lambda: _train(tmp_path / "b", *flags, env=_env()), [1])
    _finish(whole)
    _finish(resumed)
    assert json.loads((tmp_path / "b" / "config.json").read_text())["replicas"] == 2
    losses = [float(r["loss"]) for r in csv.DictReader(open(tmp_path / "b" / "log.csv"))]
    assert losses[-1] < losses[0]
    assert _same(_weights(tmp_path / "a"), _weights(tmp_path / "b")) and _log(tmp_path / "a") == _log(tmp_path / "b")
    import keras

    from keras_cls.data import DataConfig, load

    model = keras.models.load_model(tmp_path / "b" / "model.keras")
    model.compile(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1))  # the fast recipe's
    validation = load(DataConfig(source="digits", image_size=32, batch_size=16, eval_crop=1.0), one_hot=True).validation
    assert model.evaluate(validation, verbose=0) == pytest.approx(float(_log(tmp_path / "b")[-1]["val_loss"]), rel=1e-5)


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
    train to identical weights, validating every epoch into the log.csv columns a fit run writes. Worker 1 SIGKILLed
    once the chief has committed epoch 1: the chief stops at its next all-reduce with one line saying what to do,
    and the same two commands resume the job where both workers had committed."""
    import keras

    run = tmp_path / "run"
    procs, deadline = _workers(run, tmp_path), time.monotonic() + 300
    while _committed(run) < 1 and all(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    procs[1].kill()  # preempted: its peer is left waiting in the all-reduce
    procs[1].communicate()
    out = procs[0].communicate(timeout=120)[0]
    assert procs[0].returncode == 1 and "Traceback" not in out, out[-3000:]
    assert "keras-cls train: error: worker-0: a peer of the multi-worker job stopped (" in out, out[-3000:]
    assert "with 1 of 2 epochs committed here. Start every worker again with the same command" in out
    # what a kill between the two workers' commits leaves: worker 1 had committed nothing yet
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
    flags = ["--epochs=2", "--steps_per_epoch=3", "--deterministic"]
    procs = {name: _train(tmp_path / name, *flags, f"--seed={seed}", env=_env()) for name, seed in (("a", 0), ("c", 1))}
    procs["b"], _ = _killed_and_resumed(tmp_path / "b", lambda: _train(tmp_path / "b", *flags, "--seed=0", env=_env()),
                                        [1])
    for proc in procs.values():
        _finish(proc)
    weights = {name: _weights(tmp_path / name) for name in "abc"}
    assert _same(weights["a"], weights["b"]) and not _same(weights["a"], weights["c"])
    assert _log(tmp_path / "a") == _log(tmp_path / "b") and len(_log(tmp_path / "a")) == 2


@pytest.mark.slow
def test_finetune_killed_at_its_phase_boundary_and_inside_phase_two_ends_bit_identical(tmp_path):
    """Fine-tuning from a weights file (head 1 epoch, then the backbone 2), with EMA: one run SIGKILLed right after
    the head phase's last commit (before phase 2 compiles its optimizer) and again after phase 2's first epoch,
    each time resumed by the same command, ends with the weights and log of the run never stopped. Each start
    says the phases it runs."""
    import keras_cls

    weights = tmp_path / "r18.weights.h5"  # 'pretrained' on 7 classes: the run trains a new 10-class head
    keras_cls.build("resnet-18", num_classes=7, input_shape=(32, 32, 3)).save_weights(weights)
    flags = ["--recipe=finetune", f"--weights={weights}", "--head_epochs=1", "--epochs=3", "--steps_per_epoch=3",
             "--ema=0.9", "--deterministic"]
    whole = _train(tmp_path / "a", *flags, env=_env())
    resumed, outs = _killed_and_resumed(tmp_path / "b", lambda: _train(tmp_path / "b", *flags,
                                                                     env=_env(PYTHONUNBUFFERED="1")), [1, 2])
    _finish(whole)
    outs.append(_finish(resumed))
    assert "phase 1 (head): epochs 1-1, 5,130 trainable parameters" in outs[0]  # 512 x 10 + 10
    assert "phase 1" not in outs[1] and "phase 2 (backbone): epochs 2-3" in outs[1]
    assert "phase 2 (backbone): epochs 3-3" in outs[2]
    rows = list(csv.DictReader(open(tmp_path / "b" / "log.csv")))
    assert [(int(r["epoch"]), r["phase"]) for r in rows] == [(0, "1"), (1, "2"), (2, "2")]
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["epochs_this_run"] == 1
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    assert config["recipe"]["head_fraction"] == 0.2 and config["train"]["weights"] == str(weights)
    assert _same(_weights(tmp_path / "a"), _weights(tmp_path / "b")) and _log(tmp_path / "a") == _log(tmp_path / "b")
