"""Weight files: keras.applications' published ImageNet files and user files, loaded with every shape checked.

Two formats are read:
- legacy HDF5 (`.h5`, what keras.applications publishes and tf_keras writes): layers are addressed by name;
- Keras 3 `.weights.h5`: the format stores no layer names, it addresses each layer by its class and its order
  among the model's layers of that class (`layers/conv2d_3/vars/0`); we address ours the same way.
Every layer with weights must be found with the right shapes; extra layers in the file are an error unless they
are the head this model was built without. So a file for another variant fails loudly, naming the layer.
"""
import os
import re
from collections import Counter

import numpy as np

HEAD = "predictions"
_LEGACY_AUTONAMED = re.compile(r"^(normalization)(_\d+)?$")


CONNECT_TIMEOUT_S = 3


class WeightsMismatchError(ValueError):
    """A weights file does not fit the model (another variant, another head, or not a weights file)."""


class WeightsUnavailableError(ValueError):
    """Pretrained weights could not be fetched (offline, unknown name, or a missing optional package)."""


def reachable(url):
    """Whether `url`'s host takes a connection within a few seconds: without one, a download is refused at once,
    not after a client's retries (keras' get_file took 17 s, the hub client 39 s, to fail offline)."""
    import socket
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 443), timeout=CONNECT_TIMEOUT_S).close()
        return True
    except OSError:
        return False


def keras_home():
    """Where keras.utils.get_file keeps downloads: $KERAS_HOME, else ~/.keras."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def imagenet_file(spec, include_top):
    """Download (once, checksummed) keras.applications' ImageNet file for a spec; returns its local path."""
    import keras

    file_name = spec.weights_file + (".h5" if include_top else "_notop.h5")
    url, cached = spec.generation.weights_url + file_name, os.path.join(keras_home(), "models", file_name)
    fix = (f"download {url} where there is a connection and put it at {cached} (or set KERAS_HOME to a folder whose "
           "models/ holds it), or pass a weights file's path")
    if not os.path.exists(cached) and not reachable(url):
        raise WeightsUnavailableError(f"{spec.name}'s ImageNet weights are not cached and {url.split('/')[2]} "
                                      f"cannot be reached: {fix}")
    try:
        return keras.utils.get_file(file_name, url, cache_dir=keras_home(), cache_subdir="models",
                                    file_hash=spec.weights_md5[0 if include_top else 1])
    except Exception as e:  # keras raises a bare Exception for a failed fetch, ValueError for a bad checksum
        raise WeightsUnavailableError(f"could not fetch {file_name} ({str(e).splitlines()[0][:200]}): {fix}") from e


def absent_head(model):
    """The classifier a weights file may hold that `model` (built without a top) lacks: [(name, class)]."""
    return [] if any(layer.name == HEAD for layer in model.layers) else [(HEAD, "Dense")]


def _snake(class_name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _decode(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _read_legacy(group):
    if "model_weights" in group:  # a whole-model .h5 file keeps its weights one level down
        group = group["model_weights"]
    out = {}
    for layer_name in (_decode(n) for n in group.attrs["layer_names"]):
        names = [_decode(n) for n in group[layer_name].attrs["weight_names"]]
        if names:
            key = _LEGACY_AUTONAMED.sub(r"\1", layer_name)
            out[key] = [(n.split("/")[-1].split(":")[0], np.asarray(group[layer_name][n])) for n in names]
    return out


def _read_keras3(group):
    out = {}
    for key, layer in group["layers"].items():
        variables = layer.get("vars", {})
        if len(variables):
            out[key] = [(None, np.asarray(variables[str(i)])) for i in range(len(variables))]
    return out


def read_file(path):
    """{layer key: [(variable name or None, array), ...]} and the addressing ('name' or 'class')."""
    import h5py

    if not os.path.isfile(path):
        raise ValueError(f"weights file not found: {path!r}; pass None, 'imagenet' or an existing file path")
    try:
        with h5py.File(path, "r") as f:
            if "layer_names" in f.attrs or "model_weights" in f:
                return _read_legacy(f), "name"
            if "layers" in f:
                return _read_keras3(f), "class"
    except OSError as e:
        raise WeightsMismatchError(f"{path!r} is not a readable HDF5 weights file ({e})") from e
    raise WeightsMismatchError(f"{path!r} is HDF5 but neither a legacy .h5 nor a Keras 3 .weights.h5 weights file")


def _model_keys(model, addressing):
    """Our layers with weights, keyed the way the file addresses them."""
    keys, used = {}, {}
    for layer in model.layers:
        if addressing == "class":
            base = _snake(type(layer).__name__)
            n = used.get(base, -1) + 1
            used[base] = n
            key = base if n == 0 else f"{base}_{n}"
        else:
            key = layer.name
        if layer.weights:
            keys[key] = layer
    return keys


def _arrays_for(layer, entries):
    """Pick the file's arrays for a layer: in order, dropping variables the layer does not have (e.g. `count`)."""
    wanted = [w.name.split("/")[-1].split(":")[0] for w in layer.weights]
    if len(entries) != len(wanted) and all(name is not None for name, _ in entries):
        entries = [(name, a) for name, a in entries if name in wanted]
    return [a for _, a in entries]


def _unexpected(extra, addressing, droppable):
    """File layers the model lacks that are not the head it was built without."""
    if addressing == "name":
        return sorted(set(extra) - {name for name, _ in droppable})
    # Class addressing: each dropped head layer leaves one more key of its class in the file.
    base = lambda key: re.sub(r"_\d+$", "", key)  # noqa: E731
    allowed, found = Counter(_snake(cls) for _, cls in droppable), Counter(base(k) for k in extra)
    return sorted(k for k in extra if found[base(k)] > allowed[base(k)])


def set_layer_weights(layer, arrays):
    """set_weights, then let preprocessing layers (Normalization) rebuild the constants they compute with."""
    layer.set_weights(arrays)
    if hasattr(layer, "finalize_state"):
        layer.finalize_state()


def _fresh_head(layer, arrays):
    """The classifier stays as built when the file has none, or one for another number of classes (same input)."""
    if layer.name != HEAD:
        return False
    if arrays is None:
        return True
    return len(arrays) == len(layer.weights) and arrays[0].shape[:-1] == tuple(layer.weights[0].shape[:-1])


def load(model, path, droppable=()):
    """Load a weights file into `model`; `droppable` lists (name, class) of head layers the model was built without.

    The classifier ('predictions') is loaded only when its shapes match: a file without one, or with another number
    of classes, leaves the model's new head as initialised. Returns a one-line account of what was loaded.
    """
    stored, addressing = read_file(path)
    ours = _model_keys(model, addressing)
    values, fresh = [], False
    for key, layer in ours.items():
        arrays = _arrays_for(layer, stored[key]) if key in stored else None
        shapes = [tuple(w.shape) for w in layer.weights]
        if (arrays is None or [a.shape for a in arrays] != shapes) and _fresh_head(layer, arrays):
            fresh = True
            continue
        if arrays is None:
            raise WeightsMismatchError(
                f"layer {layer.name!r} ({key!r} in the file's addressing) is missing from {os.path.basename(path)!r}: "
                "the file is for another variant, or was saved from a model with features_only=True")
        if [a.shape for a in arrays] != shapes:
            raise WeightsMismatchError(
                f"layer {layer.name!r}: the file holds shapes {[a.shape for a in arrays]}, the model needs "
                f"{shapes}: the file is for another variant")
        values.append((layer, arrays))
    unexpected = _unexpected(set(stored) - set(ours), addressing, droppable)
    if unexpected:
        raise WeightsMismatchError(
            f"the weights file has {len(unexpected)} layer(s) this model lacks, first {unexpected[0]!r}: "
            "it was saved from another variant or configuration")
    for layer, arrays in values:
        set_layer_weights(layer, arrays)
    head = "a new head" if fresh else "its head" if any(l.name == HEAD for l in ours.values()) else "no head"
    return f"{os.path.basename(path)} ({len(values)} layers), {head}"
