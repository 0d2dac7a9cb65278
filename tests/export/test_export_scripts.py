"""scripts/export.py and scripts/predict.py as a user runs them, on a run folder made like the Trainer makes it."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import keras_cls
from tests.conftest import randomize
from tests.data.images import png_header
from tests.export.conftest import NAMES, jpeg

ROOT = Path(__file__).resolve().parents[2]


def _run(script, *args, ok=True):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], env=env, capture_output=True,
                         text=True, timeout=600)
    assert (out.returncode == 0) == ok, out.stdout[-2000:] + out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    # ResNet-18 at 32 px: the scripts are what is tested here, and its TFLite conversion is 4x quicker than B0's
    run = tmp_path_factory.mktemp("run")
    randomize(keras_cls.build("resnet-18", num_classes=3, input_shape=(32, 32, 3)), seed=4).save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"train": {"model": "resnet-18"}, "class_names": NAMES}))
    return run


@pytest.mark.slow
def test_export_then_predict(run_dir, tmp_path):
    root, lite = tmp_path / "saved_models", tmp_path / "b0.tflite"
    paths = json.loads(_run("export.py", f"--model_path={run_dir / 'model.keras'}", f"--root={root}",
                            f"--tflite={lite}", "--top_k=2", "--batching").stdout)
    assert paths["saved_model"] == str(root / "resnet-18" / "1") and lite.exists()
    batching = open(paths["batching_parameters"]).read()
    assert paths["serve_with"] == f"--enable_batching --batching_parameters_file={root / 'batching_parameters.txt'}"
    assert re.search(r"max_batch_size \{ value: (1|2|4|8|16|32) \}", batching) and batching.count("value:") == 4
    assert paths["contract"].startswith("assumed: no run config.json") and "image_size 32, eval_crop 0.875" in \
        paths["contract"]  # a run config without a contract: the default at the model's size, said
    assert 'name: "resnet-18"' in open(paths["models_config"]).read()
    images = []
    for i, shape in enumerate([(40, 60), (100, 30)]):
        images.append(tmp_path / f"image{i}.jpg")
        images[-1].write_bytes(jpeg(i, shape))
    answers = [_run("predict.py", f"--model={target}", *map(str, images)).stdout
               for target in (root / "resnet-18", lite)]
    assert answers[0].count("  1. ") == 2 and answers[0].count("  2. ") == 2
    assert all(name in NAMES for name in re.findall(r"  \d\. (\w+)", answers[0]))
    ranked = [[line.split()[1] for line in a.splitlines() if line.startswith("  ")] for a in answers]
    assert ranked[0] == ranked[1]  # the TFLite file ranks the classes as the SavedModel does


def test_predict_names_the_bad_files(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"shopping list: milk, eggs")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "bomb.png").write_bytes(png_header(60000, 60000))
    out = _run("predict.py", f"--model={tmp_path}", str(bad), str(tmp_path / "empty.png"), str(tmp_path / "bomb.png"),
               ok=False)
    assert f"{bad}: not an image" in out.stderr and "empty.png: empty (zero bytes)" in out.stderr
    assert "bomb.png: too many pixels" in out.stderr
    out = _run("predict.py", f"--model={tmp_path}", str(tmp_path / "missing.png"), ok=False)
    assert "no such image file" in out.stderr
    out = _run("predict.py", f"--model={tmp_path}", "--top_k=-1", str(bad), ok=False)
    assert "--top_k must be >= 1" in out.stderr
