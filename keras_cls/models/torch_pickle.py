"""PyTorch checkpoints (`torch.save`'s pickles: the zip format of torch >= 1.6 and the legacy stream before it) read
into numpy arrays without torch, and without running anything the file names.

A pickle can call any importable function; this reader's unpickler resolves only the globals that build tensors
(`torch._utils._rebuild_tensor_v2` and its kin, the typed storage classes, `collections.OrderedDict`) and refuses
any other with an error naming it — what `torch.load(weights_only=True)` promises, without torch. Tensors are
rebuilt from their storage, offset, size and stride (views and non-contiguous tensors included), as float32.
"""
import collections
import io
import math
import os
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
MAX_RATIO = 100  # a zip entry inflating more than this is refused (torch.save stores its data uncompressed)
_DTYPES = {"DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
           "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
_REBUILDERS = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter")


class UnsafePickleError(ValueError):
    """The checkpoint's pickle names a global that is not part of a tensor (code it would run on loading)."""


class _Storage:
    """A storage named by the pickle; its bytes come later (legacy) or from the zip entry data/<key>."""

    def __init__(self, dtype, key):
        self.dtype, self.key, self.array = dtype, key, None


def _storage_class(name):
    return type(name, (), {"dtype": _DTYPES[name]})


class _Pending:
    """A tensor named while unpickling; its storage's bytes are read after the pickle (`_resolve` builds it)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    del unused  # requires_grad, backward hooks, metadata
    if not isinstance(storage, _Storage):
        raise UnsafePickleError(f"a tensor rebuilt from {type(storage).__name__}, not from a storage")
    return _Pending(storage, offset, size, stride)


def _checked_layout(pending, flat):
    """A tensor's offset, size and stride, refused unless every element lies inside its storage and the tensor has
    no more elements than the storage (no negative or zero strides that would read outside it or blow it up)."""
    numbers = (pending.offset, *pending.size, *pending.stride)
    if not all(isinstance(n, int) and n >= 0 for n in numbers) or len(pending.size) != len(pending.stride):
        raise ValueError(f"a tensor with offset {pending.offset}, size {pending.size} and stride {pending.stride}: "
                         "only non-negative integers, one stride a dimension, are a tensor's layout")
    count = math.prod(pending.size)
    last = pending.offset + sum((n - 1) * s for n, s in zip(pending.size, pending.stride))
    if count and (last >= flat.size or count > flat.size):
        raise ValueError(f"a tensor of size {pending.size} reaches past its storage ({flat.size} elements)")
    return count


def _tensor(pending):
    """The elements at offset + sum(index * stride) of the storage, as torch lays them out."""
    storage, offset, size, stride = pending.storage, pending.offset, pending.size, pending.stride
    flat = storage.array
    if flat is None:
        raise ValueError(f"storage {storage.key!r} has no data in the checkpoint")
    itemsize = flat.dtype.itemsize
    if _checked_layout(pending, flat) == 0:
        return np.zeros(size, flat.dtype)
    if not size:
        return np.array(flat[offset])
    view = np.lib.stride_tricks.as_strided(flat[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride), writeable=False)
    return np.array(view)


def _rebuild_parameter(data, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name in _REBUILDERS:
            return _rebuild_parameter if name == "_rebuild_parameter" else _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _storage_class(name)
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise UnsafePickleError(f"the checkpoint's pickle refers to {module}.{name}, which is not part of a tensor; "
                                "only tensors, storages and dicts are read (a pickle can run the code it names)")

    def persistent_load(self, saved_id):
        if not isinstance(saved_id, tuple) or not saved_id or saved_id[0] != "storage":
            raise UnsafePickleError(f"unknown persistent id {str(saved_id)[:80]} in the checkpoint's pickle")
        storage_type, key = saved_id[1], str(saved_id[2])
        if not isinstance(storage_type, type) or not hasattr(storage_type, "dtype"):
            raise UnsafePickleError(f"storage {key!r} has type {storage_type!r}, not a torch storage type")
        return self.storages.setdefault(key, _Storage(storage_type.dtype, key))


def _as_array(raw, dtype):
    if dtype == "bfloat16":  # the upper half of a float32
        return (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
    return np.frombuffer(raw, dtype)


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise ValueError(f"{path}: a zip file without data.pkl is not a PyTorch checkpoint")
        prefix = pkl[: -len("data.pkl")]
        storages = {}
        result = _Unpickler(io.BytesIO(archive.read(pkl)), storages).load()
        for key, storage in storages.items():
            entry = archive.getinfo(f"{prefix}data/{key}")
            if entry.file_size > MAX_RATIO * max(entry.compress_size, 1) + (1 << 20):  # torch stores, uncompressed
                raise ValueError(f"{path}: data/{key} would inflate {entry.compress_size} bytes to "
                                 f"{entry.file_size}: a zip bomb, not a checkpoint")
            storage.array = _as_array(archive.read(entry), storage.dtype)
        return _resolve(result)


def _read_legacy(path):
    with open(path, "rb") as f:
        magic = pickle.load(f) if f.peek(1)[:1] == b"\x80" else None
        if magic != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a PyTorch checkpoint (no zip archive, no legacy magic number)")
        for _ in range(2):  # protocol version, system info: plain ints and dicts, read by the safe unpickler
            _Unpickler(f, {}).load()
        storages = {}
        result = _Unpickler(f, storages).load()
        keys = _Unpickler(f, {}).load()
        left = os.fstat(f.fileno()).st_size
        for key in keys:
            storage = storages[str(key)]
            count = struct.unpack("<q", f.read(8))[0]
            size = np.dtype(np.uint16 if storage.dtype == "bfloat16" else storage.dtype).itemsize
            raw = f.read(count * size) if 0 <= count * size <= left else b""
            if len(raw) != count * size:
                raise ValueError(f"{path}: truncated (storage {key!r} needs {count * size} bytes)")
            storage.array = _as_array(raw, storage.dtype)
        return _resolve(result)


def _resolve(value):
    """`value` with every pending tensor built (dicts, lists and tuples walked)."""
    if isinstance(value, _Pending):
        return _tensor(value)
    if isinstance(value, dict):
        return type(value)((k, _resolve(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(v) for v in value)
    return value


def read(path):
    """The object a `torch.save` file holds (a state dict, or a dict around one), with tensors as numpy arrays."""
    try:
        return _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, IndexError, TypeError, AttributeError, struct.error,
            zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e
