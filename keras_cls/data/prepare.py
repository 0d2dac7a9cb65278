"""An image folder -> sharded TFRecords of tf.Example in the ImageNet layout the `tfrecord` source reads, in one pass.

    out_dir/train-00000-of-00004 ... validation-00000-of-00001 ... test-...
    out_dir/manifest.json     written last: class names, counts per split and class, per-shard record counts and
                              SHA-256, the files skipped and why; the tfrecord source trusts it (no pre-scan)
    out_dir/.prepare/         while running: the plan and one note per finished shard; removed at the end

Each file is read once: its header is checked (and, with verify="full", it is decoded) in the same pass that writes
it. Shards are written by parallel workers, each whole or not at all (keras_cls.files), so a killed run continues
with the same command, writing only the shards not yet finished. Records hold the original encoded bytes
(`image/encoded`), `image/format`, `image/filename`, `image/class/label` (0-based) and `image/class/text`.
"""
import dataclasses
import functools
import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np
import tensorflow as tf

from keras_cls import files
from keras_cls.data import decode, sources

WORK = ".prepare"


@dataclasses.dataclass
class Shard:
    split: str
    file: str
    paths: np.ndarray
    labels: np.ndarray


def plan(config):
    """(class names, shards, files skipped while listing): every split's files in a seeded order, cut into shards."""
    source = sources.split_off(sources.folder(config.path), config.validation_fraction, config.test_fraction)
    rng, shards = np.random.default_rng(config.seed), []
    for split in ("train", "validation", "test"):
        part = getattr(source, split)
        if part is None or not len(part):
            continue
        order = rng.permutation(len(part))
        n = -(-len(part) // config.images_per_shard)
        for i, chunk in enumerate(np.array_split(order, n)):
            shards.append(Shard(split, f"{split}-{i:05d}-of-{n:05d}", part.items[chunk], part.labels[chunk]))
    return source.class_names, shards, source.skipped


def _example(data, path, label, class_name):
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    feature = {"image/encoded": _bytes(data), "image/format": _bytes(fmt.encode()),
               "image/filename": _bytes(os.path.basename(path).encode()),
               "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
               "image/class/text": _bytes(class_name.encode())}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as e:
        return b"", f"unreadable ({e.strerror or e})"


@functools.lru_cache(maxsize=None)
def _checker(max_pixels, full):
    """The scan's verdict for each of a batch of encoded images (header check; decode with full), traced once per
    setting and shared by every shard (a tf.data pipeline per shard traced anew each time: 6x slower)."""
    return tf.function(lambda batch: tf.map_fn(lambda d: decode.verdict(d, max_pixels, full), batch,
                                               fn_output_signature=tf.int32, parallel_iterations=16),
                       input_signature=[tf.TensorSpec([None], tf.string)])


def _codes(contents, config):
    if not contents:
        return []
    return _checker(config.max_pixels, config.verify == "full")(tf.constant(contents, tf.string)).numpy().tolist()


def write_shard(shard, class_names, config):
    """Read, check and write one shard (whole or not at all); returns its note: records, per-class counts, SHA-256,
    skipped files."""
    read = [_read(p) for p in shard.paths]
    codes = _codes([data for data, _ in read], config)
    note = {"split": shard.split, "file": shard.file, "records": 0, "per_class": [0] * len(class_names),
            "skipped": []}
    target = os.path.join(config.out_dir, shard.file)
    with files.atomic_path(target) as tmp, tf.io.TFRecordWriter(tmp) as writer:
        for path, label, (data, unreadable), code in zip(shard.paths, shard.labels, read, codes):
            if unreadable or code != decode.OK:
                note["skipped"].append([str(path), unreadable or decode.REASONS[code]])
                continue
            writer.write(_example(data, str(path), label, class_names[label]))
            note["records"] += 1
            note["per_class"][int(label)] += 1
    note["bytes"], note["sha256"] = os.path.getsize(target), _sha256(target)
    files.write_json(os.path.join(config.out_dir, WORK, shard.file + ".json"), note)
    return note


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(config, class_names, shards):
    """What a resumed run must find unchanged: the settings and every file's place."""
    digest = hashlib.sha256(json.dumps([dataclasses.asdict(config) | {"workers": None, "out_dir": None},
                                        class_names]).encode())
    for shard in shards:
        digest.update(shard.file.encode())
        digest.update("\n".join(map(str, shard.paths)).encode())
    return digest.hexdigest()


def _start(config, class_names, shards):
    """The notes of shards a killed run finished (when the plan is the same); refuses other input's leftovers."""
    work = os.path.join(config.out_dir, WORK)
    fingerprint = _fingerprint(config, class_names, shards)
    saved = files.read_json(os.path.join(work, "plan.json"))
    if saved is not None and saved["fingerprint"] != fingerprint:
        raise ValueError(f"{config.out_dir} holds an unfinished preparation of other files or settings; remove "
                         f"{work} (and its shards) or choose another out_dir")
    files.remove_leftovers(config.out_dir)
    files.write_json(os.path.join(work, "plan.json"), {"fingerprint": fingerprint})
    done = {}
    for shard in shards:
        note = files.read_json(os.path.join(work, shard.file + ".json"))
        if note is not None and os.path.isfile(os.path.join(config.out_dir, shard.file)):
            done[shard.file] = note
    return done


def prepare(config, log=print):
    """Write the shards and the manifest; returns the manifest. A finished folder (manifest present) is left as
    it is; a killed run continues where it stopped."""
    done_manifest = sources.read_manifest(config.out_dir)
    if done_manifest is not None:
        log(f"{config.out_dir}: already prepared ({sources.MANIFEST} present); nothing to do")
        return done_manifest
    class_names, shards, skipped = plan(config)
    os.makedirs(config.out_dir, exist_ok=True)
    done = _start(config, class_names, shards)
    todo = [s for s in shards if s.file not in done]
    log(f"{sum(len(s.paths) for s in shards):,} images, {len(class_names)} classes -> {len(shards)} shards "
        f"({len(done)} already written), {config.workers} workers")
    pool = ThreadPoolExecutor(config.workers)
    try:
        for note in pool.map(lambda s: write_shard(s, class_names, config), todo):
            done[note["file"]] = note
            log(f"  {note['file']}: {note['records']} records, {len(note['skipped'])} skipped")
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure: the shards not started are left for the next run
    manifest = _manifest(config, class_names, [done[s.file] for s in shards], skipped)
    files.write_json(os.path.join(config.out_dir, sources.MANIFEST), manifest)
    shutil.rmtree(os.path.join(config.out_dir, WORK), ignore_errors=True)
    return manifest


def _manifest(config, class_names, notes, skipped):
    splits = {}
    for note in notes:
        entry = splits.setdefault(note["split"], {"records": 0, "per_class": [0] * len(class_names), "shards": []})
        entry["records"] += note["records"]
        entry["per_class"] = [a + b for a, b in zip(entry["per_class"], note["per_class"])]
        entry["shards"].append({k: note[k] for k in ("file", "records", "bytes", "sha256")})
    empty = [class_names[i] for i, n in enumerate(splits.get("train", {}).get("per_class", [])) if n == 0]
    if "train" not in splits or not splits["train"]["records"] or empty:
        raise ValueError(f"no usable training images{' for class(es) ' + ', '.join(empty) if empty else ''} "
                         f"in {config.path!r}")
    bad = [tuple(x) for x in skipped] + [tuple(x) for note in notes for x in note["skipped"]]
    return {"format": sources.MANIFEST_FORMAT, "source": os.path.abspath(config.path), "class_names": class_names,
            "label_offset": 0, "verify": config.verify, "max_pixels": config.max_pixels, "splits": splits,
            "skipped": [{"item": item, "reason": reason} for item, reason in bad]}


def verify_shards(out_dir, manifest: Optional[dict] = None):
    """Names of shards whose SHA-256 or size differs from the manifest (a damaged copy)."""
    manifest = manifest or sources.read_manifest(out_dir)
    return [s["file"] for entry in manifest["splits"].values() for s in entry["shards"]
            if not os.path.isfile(os.path.join(out_dir, s["file"]))
            or os.path.getsize(os.path.join(out_dir, s["file"])) != s["bytes"]
            or _sha256(os.path.join(out_dir, s["file"])) != s["sha256"]]
