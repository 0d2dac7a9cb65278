import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_cls import cli

ROOT = Path(__file__).resolve().parents[1]


def test_list_info_table(capsys):
    cli.main(["list", "--family", "resnet"])
    assert capsys.readouterr().out.split() == ["resnet-18", "resnet-34", "resnet-50", "resnet-101", "resnet-152"]
    cli.main(["info", "EfficientNetB0"])
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == 5330571 and info["resolution"] == 224
    cli.main(["table"])
    assert "| efficientnetv2-xl | efficientnet | 512 |" in capsys.readouterr().out


def test_unknown_name_exits_with_the_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["info", "resnet-51"])
    assert e.value.code == 2
    assert "did you mean resnet-50" in capsys.readouterr().err


def test_help_lists_every_job(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(job in out for job in [*cli.commands.JOBS, "list", "info", "table"])


def test_jobs_run_from_the_installed_command_and_from_the_scripts():
    """`keras-cls train ...` (the console entry, keras_cls.cli:main) and scripts/train.py are the same job: the same
    flags, the same one-line errors naming the job."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    entry = [sys.executable, "-c", "import sys; from keras_cls.cli import main; sys.argv[0] = 'keras-cls'; main()"]
    for command in ([*entry, "train"], [sys.executable, str(ROOT / "scripts" / "train.py")]):
        out = subprocess.run([*command, "--model=resnet-51", "--epochs=abc"], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode != 0 and "--epochs" in out.stderr and "abc" in out.stderr, out.stderr[-2000:]
        out = subprocess.run([*command, "--model=resnet-51"], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 1 and out.stderr.strip().splitlines()[-1].startswith("keras-cls train: error:")
        assert "unknown model name 'resnet-51'" in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]
        assert "I0000" not in out.stderr and "oneDNN" not in out.stderr  # TensorFlow's start-up lines held back
    # the flags are checked before TensorFlow starts: no job module imports it
    for job in cli.commands.JOBS:  # one process each (absl flags)
        loaded = subprocess.run([sys.executable, "-c", f"import sys, keras_cls.commands.{job}; print('tensorflow' in "
                                 "sys.modules, 'keras' in sys.modules)"], env=env, capture_output=True, text=True,
                                timeout=120)
        assert loaded.stdout.split() == ["False", "False"], (job, loaded.stdout + loaded.stderr[-2000:])
    out = subprocess.run([*entry, "predict", "--model=m", "--top_k=0", "x.jpg"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1 and "keras-cls predict: error: --top_k must be >= 1" in out.stderr, out.stderr[-2000:]
