"""Sources: where images and labels come from, before any decoding. Each returns train/validation/test Splits.

A Split is one of: image files (paths + labels), TFRecord shards of tf.Example, in-memory pixels (uint8 arrays),
or a tf.data.Dataset of decoded (image, label) pairs (TFDS). Splits a source does not have are held out of the
training split deterministically (every k-th item, so per-class order keeps them stratified).
"""
import glob
import json
import os
import pickle
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from keras_cls.data.decode import IMAGE_EXTENSIONS

DIGITS_NOTE = ("scikit-learn's 1,797 handwritten digits (8x8, 17 gray levels -> uint8 RGB); fixed split, stratified "
               "by class: numbering each class's images 0, 1, 2, ... in dataset order, test = k % 5 == 4 (355), "
               "validation = k % 10 == 3 (180), train = the other 1,262")


@dataclass
class Split:
    kind: str                       # "files" | "records" | "pixels" | "dataset"
    items: object                   # paths | TFRecord shard paths | uint8 array (N, H, W, 3) | tf.data.Dataset
    labels: Optional[np.ndarray] = None
    size: Optional[int] = None      # records: the count their manifest gives (labels unread)

    def __len__(self):
        return self.count() or 0

    def count(self):
        """How many images the split yields; None when unknown without reading it (TFDS, unscanned records)."""
        return len(self.labels) if self.labels is not None else self.size

    def subset(self, mask):
        return Split(self.kind, np.asarray(self.items)[mask], self.labels[mask])


@dataclass
class SourceData:
    train: Split
    validation: Optional[Split]
    test: Optional[Split]
    class_names: List[str]
    flip: bool = True               # whether a horizontal flip preserves the label (not for digits)
    note: str = ""
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # entries not read at all: (path, reason)


def holdout(n, fraction):
    """A mask choosing round(n * fraction) items spread evenly over the n (deterministic, stratified by order)."""
    i = np.arange(n)
    return np.floor((i + 1) * fraction) > np.floor(i * fraction)


def split_off(source, validation_fraction, test_fraction):
    """Fill missing validation/test splits from the training split."""
    train = source.train
    if train.kind in ("records", "dataset"):  # no index to hold out by; such sources bring their own splits
        return source
    if source.test is None and test_fraction > 0:
        mask = holdout(len(train), test_fraction)
        train, source.test = train.subset(~mask), train.subset(mask)
    if source.validation is None and validation_fraction > 0:
        mask = holdout(len(train), validation_fraction)
        train, source.validation = train.subset(~mask), train.subset(mask)
    source.train = train
    return source


ELPV_CLASSES = ("functional", "defective")
ELPV_NOTE = ("elpv-dataset (PyPI; Buerhop-Lutz, Deitsch et al. 2018, CC BY-NC-SA 4.0): 2,624 electroluminescence "
             "images of solar cells from 44 modules (300x300, 8-bit gray -> RGB), each with experts' defect "
             "probability 0, 1/3, 2/3 or 1: functional = below 1/2 (1,803), defective = 2/3 or 1 (821); fixed split, "
             "stratified by class as digits': test = k % 5 == 4 (524), validation = k % 10 == 3 (262), train = the "
             "other 1,838 (cells of one module can fall in different splits)")


def _fixed_split(labels):
    """(test, validation) masks: numbering each class's items 0, 1, 2, ... in order, test = k % 5 == 4 and
    validation = k % 10 == 3 (stratified, deterministic)."""
    rank = np.zeros(len(labels), dtype=np.int64)  # position of each item among its class, in order
    for c in np.unique(labels):
        rank[labels == c] = np.arange(np.sum(labels == c))
    return rank % 5 == 4, rank % 10 == 3


def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    pixels = np.repeat(np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None], 3, axis=-1)
    test, val = _fixed_split(d.target)
    split = lambda m: Split("pixels", pixels[m], d.target[m].astype(np.int64))  # noqa: E731
    return SourceData(split(~test & ~val), split(val), split(test), [str(n) for n in d.target_names], flip=False,
                      note=DIGITS_NOTE)


def elpv():
    """Real labelled photos that ship inside a wheel: solar cells, functional or defective (ELPV_NOTE)."""
    try:
        import elpv_dataset
    except ImportError:
        raise ValueError("source 'elpv' needs the elpv-dataset package, whose wheel holds the images "
                         "(pip install elpv-dataset)") from None
    root = os.path.join(os.path.dirname(elpv_dataset.__file__), "data")
    with open(os.path.join(root, "labels.csv")) as f:
        rows = [line.split() for line in f if line.strip()]
    paths = np.array([os.path.join(root, row[0]) for row in rows])
    labels = (np.array([float(row[1]) for row in rows]) > 0.5).astype(np.int64)
    test, val = _fixed_split(labels)
    split = lambda m: Split("files", paths[m], labels[m])  # noqa: E731
    return SourceData(split(~test & ~val), split(val), split(test), list(ELPV_CLASSES), note=ELPV_NOTE)


LFW_CLASSES = ("face", "other")
LFW_NOTE = ("scikit-image's LFW subset (in its wheel; Labeled Faces in the Wild, Huang et al. 2007): 200 real "
            "photo crops, 25x25 gray -> RGB, 100 faces and 100 other crops; fixed split as digits': test 40, "
            "validation 20, train 140")


def lfw():
    """Real labelled photos that ship inside a wheel: faces or not (LFW_NOTE)."""
    try:
        import skimage.data
    except ImportError:
        raise ValueError("source 'lfw' needs scikit-image, whose wheel holds the photos (pip install scikit-image)")\
            from None
    pixels = np.repeat(np.round(skimage.data.lfw_subset() * 255).astype(np.uint8)[..., None], 3, axis=-1)
    labels = np.repeat(np.arange(len(LFW_CLASSES), dtype=np.int64), 100)  # the faces come first
    test, val = _fixed_split(labels)
    split = lambda m: Split("pixels", pixels[m], labels[m])  # noqa: E731
    return SourceData(split(~test & ~val), split(val), split(test), list(LFW_CLASSES), note=LFW_NOTE)


def arrays(x, y, class_names=None, test=None, validation=None):
    """In-memory images (N, H, W[, C]) in [0, 255] and integer labels; `test` and `validation` are optional (x, y)
    pairs (without `validation`, the data config's validation_fraction is held out of the training images)."""
    def split(xs, ys):
        xs, ys = np.asarray(xs), np.asarray(ys).reshape(-1).astype(np.int64)
        if xs.ndim == 3:
            xs = xs[..., None]
        if xs.ndim != 4 or xs.shape[-1] not in (1, 3) or len(xs) != len(ys):
            raise ValueError(f"arrays must be images (N, H, W), (N, H, W, 1) or (N, H, W, 3) with N labels; got "
                             f"x {xs.shape} and y {ys.shape}")
        from keras_cls.data.contract import warn_unit_range

        warn_unit_range(xs, "arrays")
        xs = np.clip(np.round(xs), 0, 255).astype(np.uint8) if xs.dtype != np.uint8 else xs
        return Split("pixels", np.repeat(xs, 3, axis=-1) if xs.shape[-1] == 1 else xs, ys)

    train = split(x, y)
    names = class_names or [str(c) for c in range(int(train.labels.max()) + 1 if len(train) else 0)]
    return SourceData(train, split(*validation) if validation is not None else None,
                      split(*test) if test is not None else None, list(names))


def _class_folders(root):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise ValueError(f"no class folders in {root!r}: expected one sub-folder per class (root/<class>/<image>)")
    return classes


def _unusable(path, name):
    """Why a class folder entry cannot be read as an image file, or None when it can be."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8 (rename it)"
    if os.path.islink(path) and not os.path.exists(path):
        return "broken link"
    if os.path.isdir(path):
        return "a folder (images in nested folders are not read: one folder per class)"
    if not name.lower().endswith(IMAGE_EXTENSIONS):
        return f"not an image file name (allowed: {', '.join(IMAGE_EXTENSIONS)})"
    if not os.path.isfile(path):
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "unreadable (permission denied)"
    return None


def _files_split(root, class_names, skipped, require_images=False):
    """The image files of each class folder; every other entry goes to `skipped` with its reason."""
    paths, labels = [], []
    for label, name in enumerate(class_names):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            continue
        files = []
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            reason = _unusable(path, entry)
            if reason:
                skipped.append((os.fsencode(path).decode("utf-8", "replace"), reason))
            else:
                files.append(path)
        if not files and require_images:
            raise ValueError(f"class folder {folder!r} has no images ({', '.join(IMAGE_EXTENSIONS)})")
        paths += files
        labels += [label] * len(files)
    return Split("files", np.array(paths, dtype=object), np.array(labels, dtype=np.int64))


def _check_split_classes(root, class_names):
    extra = sorted(set(_class_folders(root)) - set(class_names))
    if extra:
        raise ValueError(f"{root!r} has class folders that the training split lacks: {extra}")


def _split_roots(path):
    if not os.path.isdir(path):
        raise ValueError(f"image folder not found: {path!r}")
    return {name: os.path.join(path, name) for name in ("train", "val", "validation", "test")
            if os.path.isdir(os.path.join(path, name))}


def folder_classes(path):
    """The class names of an image folder from its folder names alone (no image file is listed)."""
    return _class_folders(_split_roots(path).get("train", path))


def folder(path):
    """root/<class>/<image>, or root/train|val|validation|test/<class>/<image> (ImageNet's layout)."""
    sub = _split_roots(path)
    train_root = sub.get("train", path)
    class_names, skipped = _class_folders(train_root), []
    splits = {"train": _files_split(train_root, class_names, skipped, require_images=True)}
    for split, names in (("validation", ("validation", "val")), ("test", ("test",))):
        root = next((sub[n] for n in names if n in sub), None)
        if root is not None:
            _check_split_classes(root, class_names)
            splits[split] = _files_split(root, class_names, skipped)
    return SourceData(splits["train"], splits.get("validation"), splits.get("test"), class_names,
                      skipped=skipped)


def _shards(path, split):
    found = []
    for pattern in (f"{split}-*", f"{split}.tfrecord*", f"{split}*.tfrecord*", f"{split}*.tfrec"):
        found = sorted(set(found) | set(glob.glob(os.path.join(path, pattern))))
    return found


MANIFEST = "manifest.json"
MANIFEST_FORMAT = "keras_cls.tfrecord/1"


def read_manifest(path):
    """The manifest `keras-cls prepare` writes last into a TFRecord folder, or None (no folder, no manifest)."""
    file = os.path.join(path, MANIFEST)
    if not os.path.isfile(file):
        return None
    try:
        with open(file) as f:
            return _checked(json.load(f))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{file} is not a keras_cls TFRecord manifest ({type(e).__name__}: {e}); rerun keras-cls "
                         "prepare into a new folder") from None


def _checked(manifest):
    """The manifest, after checking the fields the tfrecord source reads (KeyError / TypeError / ValueError)."""
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    if "train" not in manifest["splits"] or not isinstance(manifest["class_names"], list):
        raise ValueError("it needs class_names and a train split")
    for entry in manifest["splits"].values():
        int(entry["records"])
        for shard in entry["shards"]:
            int(shard["records"])
            if not isinstance(shard["file"], str) or os.path.basename(shard["file"]) != shard["file"]:
                raise ValueError(f"shard {shard['file']!r}: shards are plain file names in the manifest's folder")
    return manifest


def _from_manifest(path, manifest, num_classes):
    names = manifest["class_names"]
    if num_classes and num_classes != len(names):
        raise ValueError(f"num_classes={num_classes} but the manifest in {path!r} lists {len(names)} classes")
    splits = {}
    for split, entry in manifest["splits"].items():
        missing = [s["file"] for s in entry["shards"] if not os.path.isfile(os.path.join(path, s["file"]))]
        if missing:
            raise ValueError(f"{path!r}: shards listed in its manifest are missing: {', '.join(missing[:3])}")
        shards = np.array([os.path.join(path, s["file"]) for s in entry["shards"]], dtype=object)
        splits[split] = Split("records", shards, size=entry["records"])
    return SourceData(splits["train"], splits.get("validation"), splits.get("test"), list(names),
                      note=f"TFRecords prepared from {manifest.get('source')} ({MANIFEST}: counts trusted)")


def tfrecord(path, num_classes=None):
    """TFRecord shards of ImageNet-style tf.Example (image/encoded, image/class/label): `train-*`,
    `validation-*`, `test-*` in a folder (or one glob of training shards). With the manifest `keras-cls prepare`
    writes, class names and split sizes come from it and nothing is read before training."""
    manifest = read_manifest(path)
    if manifest is not None:
        return _from_manifest(path, manifest, num_classes)
    if not num_classes:
        raise ValueError(f"source 'tfrecord' at {path!r} has no {MANIFEST} (keras-cls prepare writes one): give "
                         "num_classes (TFRecords carry no class list)")
    shards = {s: _shards(path, s) for s in ("train", "validation", "test")} if os.path.isdir(path) else \
        {"train": sorted(glob.glob(path)), "validation": [], "test": []}
    if not shards["train"]:
        raise ValueError(f"no TFRecord training shards at {path!r}: expected train-* (or a glob of shard files)")
    make = lambda files: Split("records", np.array(files, dtype=object)) if files else None  # noqa: E731
    return SourceData(make(shards["train"]), make(shards["validation"]), make(shards["test"]),
                      [str(i) for i in range(num_classes)])


def _unpickle(path):
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def _cifar_batch(paths, label_key):
    xs, ys = [], []
    for p in paths:
        batch = _unpickle(p)
        xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(batch[label_key], dtype=np.int64))
    return Split("pixels", np.concatenate(xs), np.concatenate(ys))


def cifar(path):
    """The CIFAR-10 (data_batch_1..5, test_batch, batches.meta) or CIFAR-100 (train, test, meta) python files."""
    if os.path.isfile(os.path.join(path, "data_batch_1")):
        train = [os.path.join(path, f"data_batch_{i}") for i in range(1, 6) if os.path.isfile(
            os.path.join(path, f"data_batch_{i}"))]
        test, meta, label_key, names_key = "test_batch", "batches.meta", b"labels", b"label_names"
    elif os.path.isfile(os.path.join(path, "train")):
        train, test, meta = [os.path.join(path, "train")], "test", "meta"
        label_key, names_key = b"fine_labels", b"fine_label_names"
    else:
        raise ValueError(f"no CIFAR python batches in {path!r}: expected data_batch_1..5 + test_batch (CIFAR-10) "
                         "or train + test (CIFAR-100), as in cifar-10-batches-py / cifar-100-python")
    meta_path = os.path.join(path, meta)
    names = [n.decode() for n in _unpickle(meta_path)[names_key]] if os.path.isfile(meta_path) else None
    train_split = _cifar_batch(train, label_key)
    test_path = os.path.join(path, test)
    test_split = _cifar_batch([test_path], label_key) if os.path.isfile(test_path) else None
    names = names or [str(i) for i in range(int(train_split.labels.max()) + 1)]
    return SourceData(train_split, None, test_split, names)


def tfds(name, data_dir=None):
    """A TensorFlow Datasets dataset already downloaded (nothing is downloaded here)."""
    try:
        import tensorflow_datasets as tfds_lib
    except ImportError as e:
        raise ValueError("source 'tfds' needs the tensorflow-datasets package (pip install tensorflow-datasets)") from e
    builder = tfds_lib.builder(name, data_dir=data_dir)
    splits = builder.info.splits
    if "train" not in splits:
        raise ValueError(f"TFDS dataset {name!r} has no 'train' split; it has {sorted(splits)}")
    load = lambda s: Split("dataset", builder.as_dataset(split=s, as_supervised=True))  # noqa: E731
    validation = next((load(s) for s in ("validation", "val") if s in splits), None)
    test = load("test") if "test" in splits else None
    if validation is None:
        validation, train = load("train[90%:]"), load("train[:90%]")
    else:
        train = load("train")
    return SourceData(train, validation, test, list(builder.info.features["label"].names))
