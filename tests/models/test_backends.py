"""`keras_cls.build` and the weight loaders are backend-agnostic Keras 3 and never import
TensorFlow, so the models run where no TensorFlow wheel goes (the GPU check runs them on JAX)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import numpy as np
import keras
import keras_cls
from tests.models.test_torch_weights import random_state, save, torchvision_layout

tv = save(random_state(torchvision_layout("basic", (2, 2, 2, 2), num_classes=3)), sys.argv[1] + "/tv.safetensors")
model = keras_cls.build("resnet-18", num_classes=3, input_shape=(32, 32, 3), weights=tv)
model.save_weights(sys.argv[1] + "/r18.weights.h5")
again = keras_cls.build("resnet-18", num_classes=3, input_shape=(32, 32, 3), weights=sys.argv[1] + "/r18.weights.h5")
assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights()))
x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
b0 = keras_cls.build("efficientnet-b0")
again.compile("adam", "sparse_categorical_crossentropy")
# one order of batches (ResNet has no dropout): the same losses every run, not a shuffle's luck
loss = again.fit(x, np.arange(8) % 3, epochs=4, batch_size=4, verbose=0, shuffle=False).history["loss"]
assert all(np.isfinite(loss)) and loss[-1] < loss[0] and again.predict(x, verbose=0).shape == (8, 3), loss
print(keras.backend.backend(), "tensorflow" in sys.modules, b0.count_params())
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax (pip install jax; the dev extra has it)")
def test_build_load_weights_and_fit_on_jax_without_tensorflow(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["jax", "False", "5330571"]  # no TensorFlow was imported; B0's published count


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax (pip install jax; the dev extra has it)")
def test_gpu_check_runs_on_tiny_settings_and_names_what_it_skips():
    """scripts/gpu_check.py as the accelerator machine runs it, on the CPU with tiny settings: one JSON line."""
    import importlib.util as util
    import json

    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--tiny", "--models=resnet-50",
                          "--precisions=mixed_bfloat16"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax" and result["tensorflow_imported"] is False
    run = result["ours"]["resnet-50 mixed_bfloat16"]
    # the ratio is rounded from the unrounded img/s (8.33 img/s: 0.004, where 8.3 / 2375 rounds to 0.003)
    assert 0.5 < run["img_s"] < 5000 and run["batch"] == 2  # a ResNet-50 step on 2 images at 32 px, on a CPU
    assert run["vs_nvidia_1xa100_amp"] == pytest.approx(run["img_s"] / 2375, abs=6e-4)
    if util.find_spec("timm") is None:
        assert result["timm"]["resnet-50"].startswith("skipped: needs")


def test_gpu_check_sh_says_it_needs_a_gpu(tmp_path):
    """scripts/gpu_check.sh is for the accelerator machine; where nvidia-smi lists no GPU (here: a stand-in that
    fails as nvidia-smi does without a driver) it says so and how to run the check on a CPU, before installing
    anything."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver'\n"
                    "exit 9\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--tiny"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("gpu_check.sh: needs an NVIDIA GPU") and "gpu_check.py --tiny" in out.stderr
