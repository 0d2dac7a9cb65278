"""The GPU check: our builders on Keras' JAX backend (no TensorFlow) against timm on PyTorch, on one device.

For efficientnet-b0 and resnet-50 at 224 px: training images/s under mixed_bfloat16, mixed_float16 and float32
with the largest batch that fits (tried from --max_batch down by halves), on a batch already on the device; the
same architectures in timm (PyTorch, AMP bfloat16, channels_last) as the peer reference in the same run; and our
ResNet-50's logits against torchvision's on the same weights (torchvision's state dict loaded by keras_cls).
Prints one JSON line of figures. `--tiny` runs every part on small settings (CPU, a test); parts whose packages
are absent are reported as skipped with the reason.

Run: KERAS_BACKEND=jax python scripts/gpu_check.py   (scripts/gpu_check.sh installs the carried wheels first)
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODELS = {"efficientnet-b0": "efficientnet_b0", "resnet-50": "resnet50"}  # ours -> timm
NVIDIA_1XA100_AMP = {"efficientnet-b0": 3454, "resnet-50": 2375}  # DeepLearningExamples, TF2, img/s
PRECISIONS = ("mixed_bfloat16", "mixed_float16", "float32")


def _ours_step(model, batch, size, steps):
    """images/s of model.train_on_batch on one batch that stays on the device (after two warm-up steps)."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.integers(0, 256, (batch, size, size, 3)).astype("float32"))
    y = keras.ops.convert_to_tensor(np.eye(1000, dtype="float32")[np.arange(batch) % 1000])
    for _ in range(2):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(loss)  # waits for the device
    return batch * steps / (time.perf_counter() - start)


def ours(name, precision, size, max_batch, steps):
    """(images/s, batch) at the largest batch from max_batch down that fits."""
    import keras

    import keras_cls

    keras.mixed_precision.set_global_policy(precision)
    batch = max_batch
    while batch >= 1:
        try:
            keras.backend.clear_session()
            model = keras_cls.build(name, input_shape=(size, size, 3))
            model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="categorical_crossentropy",
                          jit_compile=True)
            return _ours_step(model, batch, size, steps), batch
        except Exception as e:  # out of device memory: try half the batch
            if "RESOURCE_EXHAUSTED" not in str(e) and "out of memory" not in str(e).lower():
                raise
            batch //= 2
    raise RuntimeError(f"{name} does not fit even at batch 1")


def timm_peer(name, size, batch, steps):
    import timm
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = timm.create_model(MODELS[name], num_classes=1000).to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(batch, 3, size, size, device=device).to(memory_format=torch.channels_last)
    y = torch.arange(batch, device=device) % 1000

    def step():
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(2):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    float(loss)
    return batch * steps / (time.perf_counter() - start)


def resnet50_vs_torchvision(size):
    """Max abs difference of the logits, torchvision's ResNet-50 and ours with its weights, same images."""
    import numpy as np
    import torch
    import torchvision

    import keras_cls

    torch.manual_seed(0)
    reference = torchvision.models.resnet50().eval()
    with torch.no_grad():  # BatchNorm statistics other than 0/1, so that they are checked too
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "resnet50.pth")
        torch.save(reference.state_dict(), path)
        ours_model = keras_cls.build("resnet-50", input_shape=(size, size, 3), weights=path,
                                     classifier_activation=None)
    images = np.random.default_rng(1).uniform(0, 255, (4, size, size, 3)).astype("float32")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    with torch.no_grad():
        theirs = reference(torch.from_numpy(((images / 255 - mean) / std).transpose(0, 3, 1, 2)).float()).numpy()
    mine = np.asarray(ours_model.predict(images, verbose=0))
    return float(np.abs(mine - theirs).max()), float(np.abs(theirs).max())


def _available(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return f"skipped: needs {', '.join(missing)}" if missing else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="small settings (CPU test): 32 px, batch <= 2, 1 step")
    parser.add_argument("--max_batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: efficientnet-b0,resnet-50")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated Keras policies")
    args = parser.parse_args(argv)
    size, max_batch, steps = (32, 2, 1) if args.tiny else (224, args.max_batch, args.steps)
    import keras

    result = {"backend": keras.backend.backend(), "tensorflow_imported": None, "size": size, "ours": {}, "timm": {}}
    try:
        import jax
        result["device"] = str(jax.devices()[0])
    except ImportError:
        result["device"] = "unknown"
    precisions = args.precisions.split(",")
    for name in args.models.split(","):
        for precision in precisions:
            img_s, batch = ours(name, precision, size, max_batch, steps)
            result["ours"][f"{name} {precision}"] = {"img_s": round(img_s, 1), "batch": batch,
                                                     "vs_nvidia_1xa100_amp": round(img_s / NVIDIA_1XA100_AMP[name], 3)}
        first = result["ours"][f"{name} {precisions[0]}"]
        skip = _available("torch", "timm")
        result["timm"][name] = skip or {"img_s": round(timm_peer(name, size, first["batch"], steps), 1),
                                        "batch": first["batch"]}
        if not skip:  # the peer runs AMP bfloat16: set against our first precision (mixed_bfloat16 by default)
            result["timm"][name]["ours_vs_timm"] = round(first["img_s"] / result["timm"][name]["img_s"], 3)
    keras.mixed_precision.set_global_policy("float32")
    skip = _available("torch", "torchvision")
    result["resnet50_logits_vs_torchvision"] = skip or dict(zip(("max_abs_diff", "max_abs_logit"),
                                                                resnet50_vs_torchvision(size)))
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    print(json.dumps(result))


if __name__ == "__main__":
    main()
