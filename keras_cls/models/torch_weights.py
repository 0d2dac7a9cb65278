"""PyTorch checkpoints into keras_cls models, tensor by tensor, without torch.

Files: `.safetensors` (read with the safetensors numpy API) and PyTorch pickles `.pth` / `.pt` / `.bin` (both
`torch.save` formats, read by torch_pickle's restricted unpickler: tensors only, any other global refused by name).
Training checkpoints that nest the weights ({"state_dict": ...}, {"model": ...}) and keys that all carry one
wrapper prefix (`module.`, `model.`, `backbone.`, `encoder.`) load as they are.
Where a tensor goes is the family's: a `Layout` maps each of our layer names to the checkpoint's module path
(ResNet: torchvision's, resnet.py; EfficientNet: efficientnet_pytorch's, efficientnet.py). Conversion: convolution
kernels OIHW -> HWIO, depthwise (C, 1, H, W) -> (H, W, C, 1), Linear weights transposed, BatchNorm
weight/bias/running statistics -> gamma/beta/moving mean/variance. Every tensor is checked by name and shape before
anything is assigned, so a checkpoint that does not fit changes nothing.
"""
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from keras_cls.models.weights import HEAD, WeightsMismatchError, WeightsUnavailableError, reachable, set_layer_weights

SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
HUB_FILE = "model.safetensors"
WRAPPERS = ("state_dict", "model")           # training checkpoints nest the weights under one of these
PREFIXES = ("module.", "model.", "backbone.", "encoder.")  # wrappers' prefixes on every key
_PARAMS = {"Conv2D": ("weight",), "DepthwiseConv2D": ("weight",), "Dense": ("weight", "bias"),
           "BatchNormalization": ("weight", "bias", "running_mean", "running_var")}
_IGNORED = ("num_batches_tracked",)


@dataclass(frozen=True)
class Layout:
    """How a family's layers are named in a PyTorch checkpoint."""
    prefix: Callable[[str], str]       # our layer name -> the checkpoint's module path
    head: str                          # the classifier's module path ("fc", "_fc")
    describe: Callable[[dict], str]    # what architecture a state dict is, in words


def is_checkpoint_file(weights):
    return str(weights).endswith(SUFFIXES)


def hub_file(name):
    """Download (once; cached and checksummed by the hub client) timm/<name>'s safetensors file; its local path."""
    try:
        import huggingface_hub
        from huggingface_hub import constants, errors
    except ImportError as e:
        raise WeightsUnavailableError("downloading timm/torchvision weights needs huggingface_hub: "
                                      "pip install 'keras_cls[pretrained]' (or pass a local .safetensors file)") from e
    repo = f"timm/{name}"
    offline = constants.HF_HUB_OFFLINE or not reachable(constants.ENDPOINT)
    try:  # offline: the cache answers at once, not the client after its retries
        return huggingface_hub.hf_hub_download(repo, HUB_FILE, local_files_only=offline)
    except errors.LocalEntryNotFoundError as e:  # offline, nothing cached (an EntryNotFoundError subclass)
        raise _offline(repo) from e
    except (errors.RepositoryNotFoundError, errors.EntryNotFoundError, errors.RevisionNotFoundError) as e:
        raise WeightsUnavailableError(f"the Hugging Face hub has no {HUB_FILE} in {repo!r}: check the name "
                                      "(timm.list_pretrained('resnet50*') lists them)") from e
    except (errors.HfHubHTTPError, OSError) as e:
        raise _offline(repo, e) from e


def _offline(repo, error=None):
    reason = f" ({type(error).__name__})" if error is not None else " (offline and not in the hub cache)"
    return WeightsUnavailableError(
        f"could not download {repo}/{HUB_FILE}{reason}; without a connection, fetch it elsewhere "
        f"(`hf download {repo} {HUB_FILE}`) and pass the file's path as weights, or point HF_HOME at a cache "
        "that holds it")


def _pickled_state(path):
    from keras_cls.models import torch_pickle

    state = torch_pickle.read(path)
    for wrapper in WRAPPERS:
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise WeightsMismatchError(f"{path!r} holds a {type(state).__name__}, not a state dict of tensors")
    return {k: v for k, v in state.items() if isinstance(v, np.ndarray)}


def _unwrapped(state):
    """Keys that all carry one wrapper prefix (DataParallel's 'module.', a 'backbone.' ...) lose it."""
    for prefix in PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            return _unwrapped({k[len(prefix):]: v for k, v in state.items()})
    return state


def read_state(path):
    """{torch key: float32 array} of a checkpoint file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights file not found: {path!r}")
    if not path.endswith(".safetensors"):
        state = _pickled_state(path)  # torch_pickle's errors are ValueErrors naming the file and the problem
    else:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            state = load_file(path)
        except (SafetensorError, ValueError, OSError) as e:
            raise WeightsMismatchError(f"{path!r} is not a readable safetensors file ({e})") from e
    return _unwrapped({k: np.asarray(v, np.float32) for k, v in state.items()})


def _convert(kind, name, array):
    if kind == "Conv2D":
        return array.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    if kind == "DepthwiseConv2D":
        return array.transpose(2, 3, 0, 1)  # (C, 1, H, W) -> (H, W, C, 1)
    if kind == "Dense" and name == "weight":
        return array.T
    return array


def _prefix_hint(state, key):
    """Where every key starts with one unknown first part and the key is found without it: say to strip it."""
    first = {k.split(".", 1)[0] for k in state}
    if len(first) == 1 and f"{next(iter(first))}.{key}" in state:
        return f"; every key starts with {next(iter(first)) + '.'!r}: strip it"
    return ""


def _plan(model, state, source, layout):
    """(layer, arrays) for every layer, the keys used, and whether the head was left fresh; raises on any misfit."""
    plan, used, fresh_head = [], set(), False
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in _PARAMS or not layer.weights:
            continue
        prefix = layout.head if layer.name == HEAD else layout.prefix(layer.name)
        keys = [f"{prefix}.{p}" for p in _PARAMS[kind]]
        missing = [k for k in keys if k not in state]
        if missing and prefix == layout.head and len(missing) == len(keys):
            fresh_head = True  # a checkpoint saved without its classifier
            continue
        if missing:
            raise WeightsMismatchError(f"{source}: tensor {missing[0]!r} (for layer {layer.name!r}) is missing; the "
                                       f"checkpoint is {layout.describe(state)}, the model is {model.name}"
                                       f"{_prefix_hint(state, missing[0])}")
        arrays = [_convert(kind, k.rsplit(".", 1)[1], state[k]) for k in keys]
        shapes = [tuple(w.shape) for w in layer.weights]
        if prefix == layout.head and arrays[0].shape[0] == shapes[0][0] and arrays[0].shape[1] != shapes[0][1]:
            fresh_head = True  # another number of classes: the model keeps its new head
            used.update(keys)
            continue
        if [a.shape for a in arrays] != shapes:
            raise WeightsMismatchError(
                f"{source}: layer {layer.name!r} needs shapes {shapes}, the checkpoint's {prefix}.* hold "
                f"{[a.shape for a in arrays]}: the checkpoint is {layout.describe(state)}, the model is {model.name}")
        plan.append((layer, arrays))
        used.update(keys)
    return plan, used, fresh_head


def load(model, state, layout, source):
    """Load a checkpoint's `state` (read_state) into `model` through the family's `layout`; `source` names the
    checkpoint in errors. Returns a one-line account.

    The classifier is loaded only when the model has one with the same number of classes; otherwise the model
    keeps its freshly initialised head (and a model built without a top simply leaves the checkpoint's out).
    """
    plan, used, fresh_head = _plan(model, state, source, layout)
    skip_head = fresh_head or not _has_head(model)
    extra = sorted(k for k in set(state) - used
                   if not k.endswith(_IGNORED) and not (skip_head and k.startswith(layout.head + ".")))
    if extra:
        raise WeightsMismatchError(f"{source}: {len(extra)} tensor(s) have no place in {model.name}, first "
                                   f"{', '.join(extra[:3])}: the checkpoint is {layout.describe(state)}, the model "
                                   f"is {model.name}")
    for layer, arrays in plan:
        set_layer_weights(layer, arrays)
    head = "its head" if not skip_head else "a new head" if _has_head(model) else "no head"
    return f"{source} ({len(plan)} layers), {head}"


def _has_head(model):
    return any(layer.name == HEAD for layer in model.layers)
