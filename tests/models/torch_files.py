"""`torch.save`'s two file formats, written without torch for the reader's tests: the zip archive (torch >= 1.6:
archive/data.pkl, archive/data/<key>, archive/version, archive/byteorder) and the legacy stream (magic number,
protocol, system info, the pickle, the storage keys, each storage's element count and bytes). Tensors pickle as
torch does: torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks), the storage as a
persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel)."""
import collections
import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
            np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage"}


@contextlib.contextmanager
def _torch_names():
    """Modules named torch and torch._utils, for pickle to write the globals torch writes (and nothing else)."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called: only its name is pickled")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2, torch._utils = _rebuild_tensor_v2, utils
    for name in STORAGES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _Tensor:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2,
                (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))


def _tensors(state, transpose_last=()):
    """{key: _Tensor}, one storage each; keys in `transpose_last` are stored non-contiguous (a transposed view)."""
    storages, tensors = [], collections.OrderedDict()
    for key, value in state.items():
        value = np.asarray(value)
        stored = np.array(value.T if key in transpose_last else value, order="C")  # 0-d stays 0-d
        storage = _Storage(str(len(storages)), stored)
        storages.append(storage)
        stride = tuple(s // stored.itemsize for s in stored.strides)
        if key in transpose_last:
            stride = stride[::-1]
        tensors[key] = _Tensor(storage, 0, tuple(value.shape), stride)
    return tensors, storages


class _Pickler(pickle.Pickler):
    def __init__(self, file, torch, legacy):
        super().__init__(file, protocol=2)
        self.torch, self.legacy = torch, legacy

    def persistent_id(self, obj):
        if not isinstance(obj, _Storage):
            return None
        kind = getattr(self.torch, STORAGES[obj.array.dtype])
        return ("storage", kind, obj.key, "cpu", obj.array.size) + ((None,) if self.legacy else ())


def save(state, path, legacy=False, transpose_last=(), wrap=None):
    """Write `state` ({key: array}) as torch.save would; `wrap`: nest it under this key (a training checkpoint)."""
    return write(*_tensors(state, transpose_last), path, legacy=legacy, wrap=wrap)


def write(tensors, storages, path, legacy=False, wrap=None):
    """Write tensors (_Tensor: any offset, shape and stride, as a hostile file may claim) and their storages."""
    obj = {wrap: tensors, "epoch": 3} if wrap else tensors
    with _torch_names() as torch:
        body = io.BytesIO()
        _Pickler(body, torch, legacy).dump(obj)
    if legacy:
        with open(path, "wb") as f:
            for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
                pickle.dump(header, f, protocol=2)
            f.write(body.getvalue())
            pickle.dump([s.key for s in storages], f, protocol=2)
            for s in storages:
                f.write(struct.pack("<q", s.array.size) + s.array.tobytes())
        return str(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", body.getvalue())
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for s in storages:
            archive.writestr(f"archive/data/{s.key}", s.array.tobytes())
    return str(path)
