import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["HF_HUB_OFFLINE"] = "1"  # tests never touch the network: hub downloads come from caches tests write

import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_cls.models import registry  # noqa: E402


# Repeats scaled by 0.26: one block in each stage but the sixth (B0's four become two), so the stand-in has one
# residual block (an Add after a drop-connect Dropout), which every exported, converted and quantized model must carry.
SHALLOW_DEPTH, SHALLOW_WIDTH = 0.26, 0.5


@contextlib.contextmanager
def shallow_b0():
    """`efficientnet-b0` built with one block per stage (two in stage 6) at half width inside the block: every kind
    of layer B0 has (expansion 1 and 6, 3x3 and 5x5 depthwise, squeeze-excite, swish, Rescaling and Normalization,
    a residual Add behind drop-connect) at about a third of the cost of tracing, exporting and converting it. The
    model keeps B0's name (the tf_keras bridge rebuilds the same shallow network inside the block)."""
    spec = registry.get_spec("efficientnet-b0")
    with registry.registered(dataclasses.replace(spec, depth=SHALLOW_DEPTH, width=SHALLOW_WIDTH), replace=True):
        yield spec.name


def residual_layers(model):
    """Names of the model's residual Adds and of its drop-connect Dropouts (noise shape per example)."""
    adds = [layer.name for layer in model.layers if type(layer).__name__ == "Add"]
    drops = [layer.name for layer in model.layers if type(layer).__name__ == "Dropout" and layer.name != "top_dropout"]
    return adds, drops


@pytest.fixture(scope="session")
def reference():
    with open(registry.REFERENCE_FILE) as f:
        return json.load(f)["models"]


def randomize(model, seed=0):
    """Give every weight a random value, with positive variances, so that outputs depend on all of them."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        path = w.path
        if "variance" in path:
            value = rng.uniform(0.5, 2.0, w.shape)
        elif "gamma" in path:
            value = rng.uniform(0.5, 1.5, w.shape)
        elif "mean" in path or "beta" in path or "bias" in path:
            value = rng.normal(0.0, 0.1, w.shape)
        else:  # kernels keep their random initialisation; `count` is bookkeeping
            continue
        w.assign(np.asarray(value, dtype=w.dtype))
    for layer in model.layers:
        if hasattr(layer, "finalize_state"):  # Normalization computes with constants made from its variables
            layer.finalize_state()
    return model


def images(size, batch=2, seed=1, channels=3):
    return np.random.default_rng(seed).uniform(0, 255, (batch, *size, channels)).astype("float32")


def pytest_collection_modifyitems(items):
    """Tests marked slow first: pytest-xdist hands tests out in this order, so the long ones start early and the
    short ones fill the workers' last minutes instead of one worker finishing a long test alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# Skips CI accepts: "<test id or the start of one> | <why it may skip>" a line in tests/allowed_skips.txt. Any other
# skip fails the run (a broken optional dependency must turn CI red, not quietly green).
ALLOWED_SKIPS = os.path.join(os.path.dirname(__file__), "allowed_skips.txt")
_skipped = []


def _allowed():
    with open(ALLOWED_SKIPS) as f:
        lines = [line.split("|")[0].strip() for line in f if line.strip() and not line.startswith("#")]
    return tuple(lines)


def pytest_runtest_logreport(report):
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason))


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller sees every report and decides
        return
    allowed = _allowed()
    unexpected = [(test, why) for test, why in _skipped if not test.startswith(allowed)]
    if unexpected:
        lines = "\n".join(f"  {test}: {why}" for test, why in unexpected)
        session.config.get_terminal_writer().line(
            f"\nskips not in tests/allowed_skips.txt (install what they need, or allow them there):\n{lines}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
