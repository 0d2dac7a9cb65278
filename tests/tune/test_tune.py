"""Keras Tuner searches: bad spaces refused before any trial, resume after SIGKILL, chief/worker, memory, reports."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import keras_tuner as kt  # noqa: E402  (the [tune] extra, which `make test` installs: a broken import fails)

from keras_cls.data import DataConfig  # noqa: E402
from keras_cls.train import TrainConfig  # noqa: E402
from keras_cls.bench.scaling import free_ports  # noqa: E402
from keras_cls.tune import KerasClsHyperModel, SearchSpace, make_tuner  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--epochs=1", "--steps_per_epoch=2", "--recipe=fast", "--batch_size=16", "--image_size=32", "--verbose=0"]


def _env(**extra):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), **extra}


def _tune(project, *flags, env=None):
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "tune.py"), f"--project_dir={project}",
                             "--tuner=random", *TINY, *flags], env=env or _env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _status(project, trial):
    path = Path(project) / f"trial_{trial}" / "trial.json"
    return json.loads(path.read_text())["status"] if path.exists() else None


def _runs(project, trial):
    path = Path(project) / f"trial_{trial}" / "trained_by.txt"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("space, message", [
    ({"variants": ("resnet-18", "efficientnet-b9")}, "unknown model name 'efficientnet-b9'"),
    ({"optimizers": ()}, "'optimizers' is an empty list"),
    ({"augment": ("heavy",)}, r"'augment': unknown \['heavy'\]"),
    ({"learning_rate": (0.1, 0.01)}, "must be a range"),
])
def test_bad_space_is_refused(space, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(**space)


def test_only_make_tuner_makes_keras_tuner_write_whole_files(tmp_path):
    """Importing keras_cls.tune leaves Keras Tuner as it is; make_tuner installs the atomic writer, explicitly."""
    code = ("from keras_tuner.src import utils; original = utils.save_json; import keras_cls.tune as t; "
            "from keras_cls.train import TrainConfig as T; from keras_cls.data import DataConfig as D; "
            "tc, dc = T(), D(); untouched = utils.save_json is original; "
            "t.make_tuner('random', t.KerasClsHyperModel(t.SearchSpace(), tc, dc), sys.argv[1]); "
            "print(untouched, utils.save_json.__module__)")
    out = subprocess.run([sys.executable, "-c", "import sys; " + code, str(tmp_path / "p")], env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "keras_cls.tune.search"], out.stderr[-2000:]


def test_bad_objective_or_tuner_is_refused_before_any_trial(tmp_path):
    hypermodel = KerasClsHyperModel(SearchSpace(), TrainConfig(), DataConfig())
    with pytest.raises(ValueError, match="objective 'val_f1' is not reported by keras_cls training"):
        make_tuner("random", hypermodel, str(tmp_path / "p"), objective="val_f1")
    with pytest.raises(ValueError, match="unknown tuner 'grid'; choose from random, bayesian, hyperband"):
        make_tuner("grid", hypermodel, str(tmp_path / "p"))
    assert not (tmp_path / "p").exists()
    (tmp_path / "space.json").write_text(json.dumps({"variant": ["resnet-18"]}))
    with pytest.raises(ValueError, match=r"unknown search space field\(s\) \['variant'\]"):
        SearchSpace.from_file(str(tmp_path / "space.json"))


@pytest.mark.slow
def test_search_resumes_after_sigkill_keeps_finished_trials_and_reports(tmp_path):
    """scripts/tune.py as a user runs it: killed after its first trial, the same command finishes the search
    without training that trial again; then the reports, the tuner's memory per trial and the best config."""
    project, space = tmp_path / "search", tmp_path / "space.json"
    space.write_text(json.dumps({"variants": ["resnet-18"]}))  # quick trials (both families: the test below)
    # val_loss: the lowest is best (the oracle's direction, not the highest score)
    first = _tune(project, "--tuner=bayesian", "--max_trials=3", f"--space={space}", "--objective=val_loss")
    deadline = time.monotonic() + 400
    while _status(project, 0) != "COMPLETED" and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _status(project, 0) == "COMPLETED", first.communicate()[0][-3000:] if first.poll() is not None else ""
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = _tune(project, "--tuner=bayesian", "--max_trials=3", f"--space={space}", "--objective=val_loss")
    out = second.communicate(timeout=600)[0]
    assert second.returncode == 0, out[-3000:]
    assert [_status(project, i) for i in range(3)] == ["COMPLETED"] * 3
    assert len(_runs(project, 0)) == 1  # trained once: not run again after the restart
    assert "3 trials" in out
    rows = list(csv.DictReader(open(project / "trials.csv")))
    assert len(rows) == 3 and all(r["status"] == "COMPLETED" and r["rss_mb"] for r in rows)
    assert {r["family"] for r in rows} == {"resnet"} and {r["model"] for r in rows} == {"resnet-18"}
    scores = {r["trial"]: float(r["score"]) for r in rows}
    assert f"best val_loss {min(scores.values()):.4f} (trial {min(scores, key=scores.get)}, resnet-18)" in out
    # no memory growth per trial in the tuner process (trials 1 and 2 ran in the restarted one)
    assert float(rows[2]["rss_mb"]) <= 1.5 * float(rows[1]["rss_mb"]), [r["rss_mb"] for r in rows]
    assert (project / "objective.png").stat().st_size > 5000 and (project / "trials.md").exists()
    best = json.loads((project / "best_config.json").read_text())
    assert best["train"]["model"] == "resnet-18" and best["data"]["image_size"] == 32
    # the best config is a train.py config as it is: train's flags read it into the configs it trains with
    from absl import flags

    from keras_cls import configflags

    train_flags = flags.FlagValues()
    configflags.define(TrainConfig, DataConfig, flag_values=train_flags)
    train_flags([sys.argv[0], f"--config={project / 'best_config.json'}"])
    train = configflags.config_from_flags(TrainConfig, "train", flag_values=train_flags)
    data = configflags.config_from_flags(DataConfig, "data", flag_values=train_flags)
    assert (train.model, train.learning_rate, data.image_size) == ("resnet-18", best["train"]["learning_rate"], 32)


def _wait_until_listening(port, proc, timeout=300):
    import socket

    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    said = proc.communicate()[0][-3000:] if proc.poll() is not None else "timed out"
    raise AssertionError(f"the chief never listened on {port}: {said}")


@pytest.mark.slow
def test_chief_and_workers_share_one_search(tmp_path):
    project, port, space = tmp_path / "search", str(free_ports(1)[0]), tmp_path / "space.json"
    space.write_text(json.dumps({"variants": ["resnet-18"]}))  # quick trials (both families: the test below)
    common = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": port}
    # trials long enough that a worker starting a little later still gets one
    flags = ("--max_trials=3", "--steps_per_epoch=4", f"--space={space}")
    chief = _tune(project, *flags, env=_env(KERASTUNER_TUNER_ID="chief", **common))
    _wait_until_listening(int(port), chief)  # the oracle's server is up before any worker asks it for a trial
    workers = [_tune(project, *flags, env=_env(KERASTUNER_TUNER_ID=f"tuner{i}", **common)) for i in range(2)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    out = chief.communicate(timeout=120)[0]
    assert all(w.returncode == 0 for w in workers), [o[-3000:] for o in outputs]
    assert chief.returncode == 0, out[-3000:]
    trained = {line.split()[0] for i in range(3) for line in _runs(project, i)}
    assert trained == {"tuner0", "tuner1"}, [o[-3000:] for o in outputs]  # both trained trials of one search
    assert [_status(project, i) for i in range(3)] == ["COMPLETED"] * 3 and "3 trials" in out, \
        [o[-3000:] for o in outputs]


def test_the_hypermodel_builds_either_family():
    """What a trial trains: the chosen variant at the data's size, with the chosen dropout and stochastic depth."""
    for variant in ("efficientnet-b0", "resnet-18"):
        hp = kt.HyperParameters()
        model = KerasClsHyperModel(SearchSpace(variants=(variant,), dropout=(0.2, 0.2)), TrainConfig(),
                                   DataConfig(image_size=32)).build(hp)
        assert model.name == variant and model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
        assert hp.values["family"] == variant.split("-")[0] and hp.values["dropout"] == 0.2
