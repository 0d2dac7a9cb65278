"""ResNet weights from PyTorch checkpoints: torchvision's and timm's ResNets match ours tensor for tensor.

Sources (`weights=`):
- "torchvision" (or "imagenet" for a ResNet): torchvision's default ImageNet weights (V1 for ResNet-18/34, V2 for
  50/101/152), as timm republishes them on the Hugging Face hub in safetensors (`timm/resnet50.tv2_in1k`);
- "timm:<name>": any timm checkpoint of the same architecture, e.g. "timm:resnet50.a1_in1k";
- a local `.safetensors` file (read with the safetensors numpy API: no PyTorch needed) or `.pth` / `.pt` / `.bin`
  (PyTorch pickles: needs torch).
Conversion: convolution kernels OIHW -> HWIO, Linear weights transposed, BatchNorm weight/bias/running statistics
-> gamma/beta/moving mean/variance. Every tensor is checked by name and shape before anything is assigned, so a
checkpoint that does not fit changes nothing.
"""
import os
import re

import numpy as np

from keras_cls.models.weights import HEAD, WeightsMismatchError, set_layer_weights

TORCHVISION = {"resnet-18": "resnet18.tv_in1k", "resnet-34": "resnet34.tv_in1k", "resnet-50": "resnet50.tv2_in1k",
               "resnet-101": "resnet101.tv2_in1k", "resnet-152": "resnet152.tv2_in1k"}
SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
HUB_FILE = "model.safetensors"
# Our layer names are torchvision's module paths with '.' written '_', except these.
_RENAMES = (("_downsample_conv", ".downsample.0"), ("_downsample_bn", ".downsample.1"))
_HEAD = "fc"
_PARAMS = {"Conv2D": ("weight",), "Dense": ("weight", "bias"),
           "BatchNormalization": ("weight", "bias", "running_mean", "running_var")}
_IGNORED = ("num_batches_tracked",)
_TIMM_NAME = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")  # a hub repository below timm/, nothing else
_BLOCK = re.compile(r"^layer(\d)\.(\d+)\.(conv\d)")


class WeightsUnavailableError(ValueError):
    """Pretrained weights could not be fetched (offline, unknown name, or a missing optional package)."""


def is_torch_source(weights):
    return isinstance(weights, (str, os.PathLike)) and (
        str(weights) == "torchvision" or str(weights).startswith("timm:") or str(weights).endswith(SUFFIXES))


def timm_name(spec, weights):
    """The timm checkpoint name a source means for this variant; refuses another architecture."""
    name = TORCHVISION[spec.name] if weights in ("torchvision", "imagenet") else str(weights)[len("timm:"):]
    if not _TIMM_NAME.match(name):
        raise WeightsMismatchError(f"{weights!r} is not a timm checkpoint name: expected 'timm:<architecture>.<tag>' "
                                   f"of letters, digits, '_' and '-' (e.g. 'timm:{TORCHVISION[spec.name]}')")
    arch = name.split(".")[0]
    ours = spec.name.replace("-", "")
    if arch != ours:
        raise WeightsMismatchError(
            f"timm checkpoint {name!r} is a {arch!r}, not a {ours!r}: this {spec.name} loads timm names "
            f"'{ours}.<tag>' (e.g. {TORCHVISION[spec.name]!r}); variants with another stem, width or block "
            "(resnet50d, wide_resnet, resnext, ...) are other architectures")
    return name


def hub_file(name):
    """Download (once; cached and checksummed by the hub client) timm/<name>'s safetensors file; its local path."""
    try:
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError as e:
        raise WeightsUnavailableError("downloading timm/torchvision weights needs huggingface_hub: "
                                      "pip install 'keras_cls[pretrained]' (or pass a local .safetensors file)") from e
    repo = f"timm/{name}"
    try:
        return huggingface_hub.hf_hub_download(repo, HUB_FILE)
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


def _torch_state(path):
    try:
        import torch
    except ImportError as e:
        raise WeightsUnavailableError(f"{os.path.basename(path)!r} is a PyTorch pickle: reading it needs torch "
                                      "(pip install torch), or convert it to .safetensors") from e
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds (UnpicklingError, RuntimeError, EOFError, ...)
        raise WeightsMismatchError(f"{path!r} is not a readable PyTorch checkpoint ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0][:200]})") from e
    for wrapper in ("state_dict", "model"):  # training checkpoints nest the weights
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise WeightsMismatchError(f"{path!r} holds a {type(state).__name__}, not a state dict of tensors")
    return _unwrapped({k: v.detach().float().numpy() for k, v in state.items() if hasattr(v, "detach")})


def _unwrapped(state):
    """Keys saved from a DataParallel / DistributedDataParallel model carry a 'module.' prefix: drop it."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def read_state(path):
    """{torch key: float32 array} of a checkpoint file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights file not found: {path!r}")
    if not path.endswith(".safetensors"):
        return _torch_state(path)
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        state = load_file(path)
    except (SafetensorError, ValueError, OSError) as e:
        raise WeightsMismatchError(f"{path!r} is not a readable safetensors file ({e})") from e
    return _unwrapped({k: np.asarray(v, np.float32) for k, v in state.items()})


def describe(state, specs):
    """What architecture a torchvision-layout state dict is among the ResNet rows `specs`, e.g. 'resnet-34 (basic
    blocks 3, 4, 6, 3)'."""
    blocks, kinds = {}, set()
    for key in state:
        m = _BLOCK.match(key)
        if m:
            stage, index, conv = int(m.group(1)), int(m.group(2)), m.group(3)
            blocks[stage] = max(blocks.get(stage, 0), index + 1)
            kinds.add("bottleneck" if conv == "conv3" else "basic")
    if not blocks:
        return f"not a torchvision-layout ResNet (first keys: {', '.join(list(state)[:3])})"
    kind = "bottleneck" if "bottleneck" in kinds else "basic"
    repeats = tuple(blocks.get(i, 0) for i in range(1, 5))
    match = next((s.name for s in specs if s.block == kind and s.repeats == repeats), "an unknown ResNet")
    return f"{match} ({kind} blocks {', '.join(map(str, repeats))})"


def _torch_prefix(layer_name):
    """Our layer name -> the checkpoint's module path: layer1_0_downsample_conv -> layer1.0.downsample.0."""
    if layer_name == HEAD:
        return _HEAD
    for ours, theirs in _RENAMES:
        layer_name = layer_name.replace(ours, theirs)
    return re.sub(r"^layer(\d)_(\d+)[_.]", r"layer\1.\2.", layer_name)


def _convert(kind, name, array):
    if kind == "Conv2D":
        return array.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    if kind == "Dense" and name == "weight":
        return array.T
    return array


def _plan(model, state, source, specs):
    """(layer, arrays) for every layer, the keys used, and whether the head was left fresh; raises on any misfit."""
    found = describe(state, specs)
    plan, used, fresh_head = [], set(), False
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in _PARAMS or not layer.weights:
            continue
        prefix = _torch_prefix(layer.name)
        keys = [f"{prefix}.{p}" for p in _PARAMS[kind]]
        missing = [k for k in keys if k not in state]
        if missing and prefix == _HEAD and len(missing) == len(keys):
            fresh_head = True  # a checkpoint saved without its classifier
            continue
        if missing:
            raise WeightsMismatchError(f"{source}: tensor {missing[0]!r} (for layer {layer.name!r}) is missing; "
                                       f"the checkpoint is {found}, the model is {model.name}")
        arrays = [_convert(kind, k.rsplit(".", 1)[1], state[k]) for k in keys]
        shapes = [tuple(w.shape) for w in layer.weights]
        if prefix == _HEAD and arrays[0].shape[0] == shapes[0][0] and arrays[0].shape[1] != shapes[0][1]:
            fresh_head = True  # another number of classes: the model keeps its new head
            used.update(keys)
            continue
        if [a.shape for a in arrays] != shapes:
            raise WeightsMismatchError(
                f"{source}: layer {layer.name!r} needs shapes {shapes}, the checkpoint's {prefix}.* hold "
                f"{[a.shape for a in arrays]}: the checkpoint is {found}, the model is {model.name}")
        plan.append((layer, arrays))
        used.update(keys)
    return plan, used, fresh_head


def load(model, spec, weights, specs):
    """Load a torchvision/timm ResNet checkpoint (hub name or local file) into `model`, built from `spec`, one of the
    ResNet rows `specs` (which name what a checkpoint that does not fit is); returns a one-line account.

    The classifier is loaded only when the model has one with the same number of classes; otherwise the model
    keeps its freshly initialised head (and a model built without a top simply leaves the checkpoint's `fc` out).
    """
    path = weights if str(weights).endswith(SUFFIXES) else hub_file(timm_name(spec, weights))
    source = os.path.basename(os.fspath(path)) if path == weights else f"timm/{timm_name(spec, weights)}"
    state = read_state(path)
    plan, used, fresh_head = _plan(model, state, source, specs)
    skip_head = fresh_head or not _has_head(model)
    extra = sorted(k for k in set(state) - used
                   if not k.endswith(_IGNORED) and not (skip_head and k.startswith(_HEAD + ".")))
    if extra:
        raise WeightsMismatchError(f"{source}: {len(extra)} tensor(s) have no place in {model.name}, first "
                                   f"{', '.join(extra[:3])}: the checkpoint is {describe(state, specs)}, the model is "
                                   f"{model.name}")
    for layer, arrays in plan:
        set_layer_weights(layer, arrays)
    head = "its head" if not skip_head else "a new head" if _has_head(model) else "no head"
    return f"{source} ({len(plan)} layers), {head}"


def _has_head(model):
    return any(layer.name == HEAD for layer in model.layers)
