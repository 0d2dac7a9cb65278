"""The absl apps end to end, as a user runs them (tiny budgets)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script, *flags):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *flags], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_demo_then_evaluate(tmp_path):
    out = _run("demo.py", "--models=resnet-18", "--epochs=1", f"--run_root={tmp_path}",
               f"--export_root={tmp_path / 'saved_models'}")
    assert "| efficientnetv2-xl | efficientnet | 512 |" in out  # the variant table
    assert "| sklearn SVC(gamma=0.001) |" in out and "| resnet-18 |" in out
    model = tmp_path / "resnet-18" / "model.keras"
    assert model.exists() and (tmp_path / "resnet-18" / "model.tflite").exists()
    assert (tmp_path / "saved_models" / "resnet-18" / "1" / "saved_model.pb").exists()
    result = json.loads(_run("evaluate.py", f"--model_path={model}", "--source=digits", "--image_size=32",
                             "--eval_crop=1", f"--out_dir={tmp_path / 'eval'}"))
    assert result["examples"] == 355 and 0 <= result["top1"] <= 1
    assert (tmp_path / "eval" / "confusion.png").stat().st_size > 1000


def test_train_script_reports_bad_flags_clearly():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), "--model=resnet-51"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "unknown model name 'resnet-51'" in out.stderr
