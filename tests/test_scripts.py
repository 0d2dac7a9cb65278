"""The training script's errors (the demo, compare and evaluate scripts run end to end in tests/bench)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_script_reports_bad_flags_clearly():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), "--model=resnet-51"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "unknown model name 'resnet-51'" in out.stderr
