#!/usr/bin/env bash
# The GPU check (scripts/gpu_check.py) on the accelerator machine: Python 3.12 with JAX, PyTorch, torchvision and
# timm, no TensorFlow, no package registry. Keras and its small dependencies that machine lacks travel as wheels in
# the ignored folder .wheels/ (make gpu-wheels fetches them here); keras_cls itself runs from the working tree.
# Usage (from the repository root): bash scripts/gpu_check.sh [--tiny]   -> one JSON line; < 8 minutes on one H200
set -euo pipefail
cd "$(dirname "$0")/.."
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check.sh: needs an NVIDIA GPU (nvidia-smi -L lists none here); on a CPU run the same check with" \
       "tiny settings: KERAS_BACKEND=jax python scripts/gpu_check.py --tiny" >&2
  exit 2
fi
if ! compgen -G ".wheels/*.whl" >/dev/null; then
  echo "gpu_check.sh: no wheels in .wheels/: run 'make gpu-wheels' on a machine with a registry, and carry .wheels" >&2
  exit 2
fi
python3 -m pip install -q --no-index --no-deps --target /tmp/keras_cls_wheels .wheels/*.whl
export PYTHONPATH="/tmp/keras_cls_wheels:$PWD${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=3
timeout 470 python3 scripts/gpu_check.py "$@"
