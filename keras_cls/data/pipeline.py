"""Source -> scan -> decode -> (cache) -> shuffle -> transform -> batch -> batch augment -> prefetch.

Everything after the scan is TensorFlow ops in the tf.data graph (parallel, AUTOTUNE); no Python runs per image.
Training transforms: random-resized-crop + optional flip with per-element stateless seeds (reproducible with
`deterministic=True`, different each epoch). Evaluation: resize + center crop. RandAugment, MixUp and CutMix are
keras.layers applied to whole batches.
"""
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf

from keras_cls.data import decode, sources
from keras_cls.data.config import DataConfig, _check  # noqa: F401 (pipeline.DataConfig: where callers find it)
from keras_cls.data.contract import Preprocessing, to_uint8

AUTOTUNE = tf.data.AUTOTUNE


@dataclass
class Data:
    train: tf.data.Dataset
    validation: Optional[tf.data.Dataset]
    test: Optional[tf.data.Dataset]
    class_names: List[str]
    sizes: Dict[str, Optional[int]]
    report: decode.DataReport = field(default_factory=decode.DataReport)
    note: str = ""
    contract: Optional[Preprocessing] = None     # the evaluation transform: what every export must apply
    raw: Dict[str, tf.data.Dataset] = field(default_factory=dict)  # validation/test as decoded (image, label)
    # (shards, index, batch) -> the training dataset of one of `shards` disjoint parts, at that batch size: what each
    # worker of a multi-worker run reads (a part taken before shuffling, so parts never overlap)
    train_shard: Optional[Callable[[int, int, int], tf.data.Dataset]] = None
    # (first_epoch, steps) -> the training stream from that epoch on: each epoch's batches from (seed, epoch) alone
    # where the source allows it (epoch_stream), else the training split repeated
    train_from: Optional[Callable[[int, int], tf.data.Dataset]] = None

    @property
    def num_classes(self):
        return len(self.class_names)


def read_source(config, arrays=None):
    if config.source == "digits":
        return sources.digits()
    if config.source == "elpv":
        return sources.elpv()
    if config.source == "lfw":
        return sources.lfw()
    if config.source == "arrays":
        _check(arrays is not None, "source 'arrays' needs arrays=(x, y) or (x, y, class_names)")
        return sources.arrays(*arrays)
    if config.source == "folder":
        return sources.folder(config.path)
    if config.source == "tfrecord":
        return sources.tfrecord(config.path, config.num_classes)
    if config.source == "cifar":
        return sources.cifar(config.path)
    return sources.tfds(config.path)


def count_classes(config, arrays=None):
    """How many classes the data has, without reading or listing its images (a folder's class folders are
    enough; TFRecords say nothing, so the config must)."""
    if config.num_classes:
        return config.num_classes
    if config.source == "folder":
        return len(sources.folder_classes(config.path))
    return len(read_source(config, arrays).class_names)


# ---- scanning -------------------------------------------------------------------------------------------------

_FEATURES = {"image/encoded": tf.io.FixedLenFeature([], tf.string),
             "image/class/label": tf.io.FixedLenFeature([], tf.int64)}


def _parse(record, offset):
    ex = tf.io.parse_single_example(record, _FEATURES)
    return ex["image/encoded"], ex["image/class/label"] + offset


def _records(shards, offset):
    files = tf.data.Dataset.from_tensor_slices(list(shards))
    return files.interleave(tf.data.TFRecordDataset, num_parallel_calls=AUTOTUNE, deterministic=True).map(
        lambda r: _parse(r, offset), num_parallel_calls=AUTOTUNE)


def _named_records(shards, offset):
    """(shard:record name, encoded image, label) of every record, shards read in parallel."""
    def shard(path):
        return tf.data.TFRecordDataset(path).enumerate().map(
            lambda i, r: (tf.strings.join([path, tf.strings.as_string(i)], ":"), *_parse(r, offset)))
    return tf.data.Dataset.from_tensor_slices(list(shards)).interleave(
        shard, num_parallel_calls=AUTOTUNE, deterministic=True)


def _scan(split, config):
    """Find bad inputs before training, in one streaming pass; returns (split without them, report).

    Records whose count a manifest gives are trusted unless verify="full" (they were checked when prepared);
    verify="none" reads nothing (records: the pipeline's header check still drops bad ones as they come, and the
    split's size stays unknown)."""
    trusted = split.kind == "records" and split.size is not None and config.verify != "full"
    if split.kind not in ("files", "records") or config.verify == "none" or trusted:
        return split, decode.DataReport(seen=split.count() or 0)
    if split.kind == "files":
        named = tf.data.Dataset.from_tensor_slices((split.items.astype(str), split.labels)).map(
            lambda p, y: (p, tf.io.read_file(p), y), num_parallel_calls=AUTOTUNE)
    else:
        named = _named_records(split.items, config.label_offset)
    names, labels, codes = decode.scan(named, config.max_pixels, full=config.verify == "full")
    keep, report = decode.report_of(names, codes)
    if split.kind == "files":
        return split.subset(np.asarray(keep, bool)), report
    kept = np.asarray(labels, np.int64)[np.asarray(keep, bool)] if labels else np.zeros(0, np.int64)
    return sources.Split("records", split.items, kept), report


def _check_labels(split, num_classes, name):
    labels = split.labels
    if labels is None or not len(labels):
        return
    bad = labels[(labels < 0) | (labels >= num_classes)]
    _check(not len(bad), f"{name} split has labels outside [0, {num_classes}): e.g. {sorted(set(bad.tolist()))[:5]}")


def _check_every_class_has_images(split, class_names):
    """A class folder whose every file was skipped: an error naming it, not a class the model can never predict."""
    if split.kind != "files":
        return
    counts = np.bincount(split.labels, minlength=len(class_names))
    empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
    _check(not empty, f"class(es) {empty} have no usable image in the train split (their files were skipped: "
                      "see the data report) and could never be learned; fix or remove them")


# ---- transforms -----------------------------------------------------------------------------------------------

def train_transform(image, seed, size, crop_scale, flip, pad_crop=0):
    """Random-resized-crop (area in crop_scale, aspect 3/4..4/3) to size x size, or with pad_crop > 0 the
    small-image recipe (resize, zero-pad by pad_crop, random crop back: a random translation); then a flip."""
    if pad_crop:
        image = tf.image.resize(image, (size, size), method="bilinear")
        image = tf.pad(image, [[pad_crop, pad_crop], [pad_crop, pad_crop], [0, 0]])
        image = tf.image.stateless_random_crop(image, [size, size, 3], seed=seed)
    else:
        begin, crop, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image), tf.zeros([1, 0, 4]), seed=seed, min_object_covered=0.0, area_range=crop_scale,
            aspect_ratio_range=(3 / 4, 4 / 3), max_attempts=10, use_image_if_no_bounding_boxes=True)
        image = tf.image.resize(tf.slice(image, begin, crop), (size, size), method="bilinear")
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=seed + 1)
    return to_uint8(image, size)


def batch_augment(config):
    """RandAugment / MixUp / CutMix (keras.layers) on whole batches; None when all are off."""
    import keras

    rand = keras.layers.RandAugment(value_range=(0, 255), num_ops=config.randaugment,
                                    factor=config.randaugment_factor, seed=config.seed) if config.randaugment else None
    mixers = [keras.layers.MixUp(alpha=config.mixup, seed=config.seed)] if config.mixup else []
    mixers += [keras.layers.CutMix(factor=config.cutmix, seed=config.seed)] if config.cutmix else []
    if not rand and not mixers:
        return None

    def apply(images, labels, seed):
        images = tf.cast(images, tf.float32)
        if rand:
            images = rand(images, training=True)
        if mixers:
            # With both on, each batch gets one of them at random (as timm does).
            pick = tf.random.stateless_uniform([], seed, maxval=len(mixers), dtype=tf.int32)
            branches = [lambda m=m: tuple(m({"images": images, "labels": labels}, training=True).values())
                        for m in mixers]
            images, labels = tf.switch_case(pick, branches)
        return images, labels
    return apply


# ---- assembly -------------------------------------------------------------------------------------------------

def _decoded(split, config, training, cache=True, shard=None):
    """Dataset of (uint8 RGB image, label), shuffled when training; `shard` = (count, index): only that part."""
    cache = config.cache if cache else None
    shuffle_early = training and not cache
    part = (lambda ds: ds.shard(*shard)) if shard else (lambda ds: ds)
    if split.kind == "files":
        ds = part(tf.data.Dataset.from_tensor_slices((split.items.astype(str), split.labels)))
        if shuffle_early:
            ds = ds.shuffle(len(split), seed=config.seed, reshuffle_each_iteration=True)
        ds = _read_files(ds, config)
    elif split.kind == "records":
        by_file = shard is not None and len(split.items) >= shard[0]  # whole shards per part when there are enough
        files = tf.data.Dataset.from_tensor_slices(list(split.items))
        files = part(files) if by_file else files
        if shuffle_early:
            files = files.shuffle(len(split.items), seed=config.seed, reshuffle_each_iteration=True)
        ds = files.interleave(tf.data.TFRecordDataset, num_parallel_calls=AUTOTUNE, deterministic=shard is not None)
        ds = ds if by_file else part(ds)  # records in the same order on every part before one is taken
        ds = ds.map(lambda r: _parse(r, config.label_offset), num_parallel_calls=AUTOTUNE)
        ds = ds.filter(lambda d, y: tf.reduce_all([decode.problem(d, config.max_pixels) != c
                                                   for c in (decode.EMPTY, decode.NOT_IMAGE, decode.TOO_LARGE)]))
        ds = ds.map(lambda d, y: (decode.decode_rgb(d), y), num_parallel_calls=AUTOTUNE)
    elif split.kind == "pixels":
        ds = part(tf.data.Dataset.from_tensor_slices((split.items, split.labels)))
    else:
        ds = part(split.items).map(lambda x, y: (_rgb(x), tf.cast(y, tf.int64)), num_parallel_calls=AUTOTUNE)
    ds = ds.ignore_errors(log_warning=True)  # the scan found the bad inputs; this is the last safety net
    if cache:
        ds = ds.cache("" if cache == "memory" else cache)
    if training and (cache or split.kind in ("pixels", "dataset")):
        ds = ds.shuffle(config.shuffle_buffer, seed=config.seed, reshuffle_each_iteration=True)
    return ds


def _read_files(ds, config):
    """(path, label) -> (decoded RGB image, label). Unscanned files (verify="none") get the pixel limit here;
    scanned ones passed it already."""
    guard = (lambda d: decode.check_pixels(d, config.max_pixels)) if config.verify == "none" else tf.identity
    return ds.map(lambda p, y: (decode.decode_rgb(guard(tf.io.read_file(p))), y), num_parallel_calls=AUTOTUNE)


def _rgb(image):
    image = tf.cast(image, tf.uint8)
    return tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image


def make_dataset(split, config, training, flip, num_classes, one_hot, shard=None):
    ds, batch_seeds = _decoded(split, config, training, shard=shard), None
    if training:  # seed pairs for each image's and each batch's augmentation, others each iteration
        pairs = lambda offset: tf.data.Dataset.random(  # noqa: E731
            seed=config.seed + offset, rerandomize_each_iteration=True).batch(2)
        ds, batch_seeds = tf.data.Dataset.zip((ds, pairs(0))), pairs(1)
    return _finished(_batched(ds, config, training, flip, num_classes, one_hot, batch_seeds), config)


def _batched(ds, config, training, flip, num_classes, one_hot, batch_seeds, augment=None):
    """Training: ((image, label), seed pair) -> transformed; evaluation: (image, label) -> the contract. Then
    batched, one-hot, and batch-augmented with one seed pair of `batch_seeds` each (`augment`: batch_augment(config)
    when made already: its Keras layers hold variables)."""
    size = config.image_size
    if training:
        ds = ds.map(lambda xy, s: (train_transform(xy[0], s, size, config.crop_scale, flip, config.pad_crop), xy[1]),
                    num_parallel_calls=AUTOTUNE)
    else:
        contract = Preprocessing.of_data(config)  # what every export of a model trained on this data applies
        ds = ds.map(lambda x, y: (contract.apply(x), y), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(config.batch_size, drop_remainder=training, num_parallel_calls=AUTOTUNE)
    if one_hot:
        ds = ds.map(lambda x, y: (x, tf.one_hot(y, num_classes)), num_parallel_calls=AUTOTUNE)
    augment = (augment or batch_augment(config)) if training else None
    if augment:
        ds = tf.data.Dataset.zip((ds, batch_seeds)).map(lambda xy, s: augment(xy[0], xy[1], s),
                                                        num_parallel_calls=AUTOTUNE)
    return ds


def _finished(ds, config):
    options = tf.data.Options()
    options.deterministic = config.deterministic
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.prefetch(AUTOTUNE).with_options(options)


def exact_epochs(split, config):
    """Whether epoch_stream can make the split's epochs from (seed, epoch) alone: files and in-memory pixels, read
    without a cache (TFRecords, tf.data sources and caches are shuffled through a buffer, whose seeds TensorFlow
    draws from the process)."""
    return split.kind in ("files", "pixels") and not config.cache


def epoch_stream(split, config, flip, num_classes, one_hot, first_epoch, steps):
    """The training batches from epoch `first_epoch` on, `steps` an epoch (exact_epochs splits). Epoch k's order
    and augmentation come from (config.seed, k) alone, stateless: passes over the split, each a permutation
    (index_shuffle) and per-image seeds keyed by (seed, k, pass), until `steps` batches; so a run resumed at epoch
    k sees what the run that was never stopped saw (with deterministic=True: parallel reads otherwise reorder)."""
    items = tf.constant(split.items.astype(str) if split.kind == "files" else split.items)
    labels, last, augment = tf.constant(split.labels), len(split) - 1, batch_augment(config)

    def one_pass(epoch, repeat):
        key = tf.stack([tf.constant(config.seed, tf.int64) * 1_000_003 + epoch, repeat])  # index_shuffle's seed
        base = key[0] * 1_000_003 + repeat
        def pick(i):  # the i-th image of this pass: one stateless permutation index, then its item and label
            j = tf.random.experimental.index_shuffle(i, key, last)
            return tf.gather(items, j), tf.gather(labels, j)

        ds = tf.data.Dataset.range(last + 1).map(pick, num_parallel_calls=AUTOTUNE)
        ds = (_read_files(ds, config) if split.kind == "files" else ds).ignore_errors(log_warning=True)
        ds = ds.enumerate().map(lambda i, xy: (xy, tf.stack([base, i])))
        batch_seeds = tf.data.Dataset.range(ENDLESS).map(lambda i: tf.stack([base + 1, i]))
        return _batched(ds, config, True, flip, num_classes, one_hot, batch_seeds, augment)

    def epoch(k):  # a pass gives a batch at least (Trainer checks), so `steps` passes are enough
        return tf.data.Dataset.range(steps).flat_map(lambda r: one_pass(k, r)).take(steps)

    return _finished(tf.data.Dataset.range(first_epoch, ENDLESS).flat_map(epoch), config)


ENDLESS = 2**62  # "for ever" for Dataset.range


def load(config, arrays=None, one_hot=False):
    """Train / validation / test tf.data.Datasets of (uint8 RGB batch, label) at config.image_size.

    Bad inputs (empty, not an image, truncated, undecodable) are skipped and listed in `Data.report`, or, with
    `strict=True`, stop with an error naming the first one. `one_hot=True` gives float one-hot labels (MixUp and
    CutMix need them).
    """
    _check(config.image_size is not None, "image_size is not set (None stands for a model's own resolution, and "
           "there is no model here): give image_size, or config.for_model(resolution)")
    _check(one_hot or not (config.mixup or config.cutmix), "MixUp/CutMix mix labels: load with one_hot=True")
    source = sources.split_off(read_source(config, arrays), config.validation_fraction, config.test_fraction)
    num_classes = config.num_classes or len(source.class_names)
    _check(num_classes > 0, "the dataset has no classes")
    names = source.class_names or [str(i) for i in range(num_classes)]
    report, splits = decode.DataReport(seen=len(source.skipped), skipped=list(source.skipped)), {}
    for name in ("train", "validation", "test"):
        split = getattr(source, name)
        if split is None:
            continue
        split, split_report = _scan(split, config)
        report.merge(split_report)
        _check(split.count() is None or split.count() > 0, f"the {name} split is empty: no usable images")
        _check_labels(split, num_classes, name)
        splits[name] = split
    _check_every_class_has_images(splits["train"], names)
    if config.strict and report.skipped:
        item, reason = report.skipped[0]
        raise ValueError(f"bad input {item!r}: {reason} ({len(report.skipped)} bad in all; strict=False skips them)")
    flip = source.flip if config.flip is None else config.flip
    datasets = {name: make_dataset(split, config, name == "train", flip, num_classes, one_hot)
                for name, split in splits.items()}
    sizes = {name: split.count() for name, split in splits.items()}
    # Evaluation splits before the contract, one image at a time: for runtimes that apply the contract themselves
    # (a TFLite file or a SavedModel measured on the same images as the Keras model).
    raw = {name: _decoded(split, config, False, cache=False) for name, split in splits.items() if name != "train"}
    train_shard = lambda count, index, batch: make_dataset(  # noqa: E731
        splits["train"], replace(config, batch_size=batch), True, flip, num_classes, one_hot, shard=(count, index))
    train = splits["train"]
    train_from = ((lambda first, steps: epoch_stream(train, config, flip, num_classes, one_hot, first, steps))
                  if exact_epochs(train, config) else (lambda first, steps: datasets["train"].repeat()))
    return Data(datasets["train"], datasets.get("validation"), datasets.get("test"), names, sizes, report,
                source.note, Preprocessing.of_data(config), raw, train_shard, train_from)


def steps_per_epoch(data, batch_size):
    size = data.sizes.get("train")
    return None if size is None else max(1, size // batch_size)

