"""keras-cls prepare: an image folder to TFRecord shards with a manifest, in one pass, resumable; the tfrecord
source trusting the manifest, and its verify modes without one."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow as tf

from keras_cls.data import DataConfig, decode, load, prepare, sources
from keras_cls.data.config import PrepareConfig
from tests.data.images import bad_images, good_images, write_folder
from tests.data.test_sources import _example

ROOT = Path(__file__).resolve().parents[2]
GOOD = len(good_images())  # per class
BAD = len(bad_images())


def _config(tmp_path, **kwargs):
    return PrepareConfig(**{"path": str(tmp_path / "imgs"), "out_dir": str(tmp_path / "shards"),
                                    "images_per_shard": 4, "validation_fraction": 0.2, "workers": 2, **kwargs})


def _records(shard):
    parsed = []
    for record in tf.data.TFRecordDataset(str(shard)).as_numpy_iterator():
        f = tf.train.Example.FromString(record).features.feature
        parsed.append((f["image/filename"].bytes_list.value[0].decode(), f["image/class/label"].int64_list.value[0],
                       f["image/class/text"].bytes_list.value[0].decode()))
    return parsed


def test_a_folder_becomes_shards_and_a_manifest_the_source_trusts(tmp_path, monkeypatch):
    write_folder(tmp_path / "imgs")
    manifest = prepare.prepare(_config(tmp_path), log=lambda m: None)
    out = tmp_path / "shards"
    assert manifest["class_names"] == ["cat", "dog"] and not (out / prepare.WORK).exists()
    splits = manifest["splits"]
    assert splits["train"]["records"] + splits["validation"]["records"] == 2 * GOOD
    assert sorted(s["item"].rsplit("/", 1)[1] for s in manifest["skipped"]) == sorted(bad_images())
    assert {s["reason"] for s in manifest["skipped"]} >= {"empty (zero bytes)", "truncated (no end marker)"}
    seen = []
    for split, entry in splits.items():
        assert sum(entry["per_class"]) == entry["records"] == sum(s["records"] for s in entry["shards"])
        for shard in entry["shards"]:
            records = _records(out / shard["file"])
            assert len(records) == shard["records"] and shard["file"].startswith(f"{split}-")
            assert all(["cat", "dog"][label] == text for _, label, text in records)
            seen += [(text, name) for name, _, text in records]
    assert sorted(seen) == sorted((c, n) for c in ("cat", "dog") for n in good_images())  # each image once
    assert prepare.verify_shards(str(out)) == []
    # The source reads no record before training: counts and classes come from the manifest.
    monkeypatch.setattr(decode, "scan", lambda *a, **k: pytest.fail("the manifest's records were rescanned"))
    data = load(DataConfig(source="tfrecord", path=str(out), image_size=32, batch_size=1, test_fraction=0))
    assert data.class_names == ["cat", "dog"] and data.sizes["train"] == splits["train"]["records"]
    assert sum(1 for _ in data.train) == data.sizes["train"] and sum(1 for _ in data.validation) == \
        splits["validation"]["records"]
    (out / splits["train"]["shards"][0]["file"]).write_bytes(b"damaged")
    assert prepare.verify_shards(str(out)) == [splits["train"]["shards"][0]["file"]]
    # A damaged or hostile manifest is an error naming the file, never a traceback or a read outside the folder.
    good = (out / sources.MANIFEST).read_text()
    outside = json.loads(good)
    outside["splits"]["train"]["shards"][0]["file"] = "../imgs/cat/rgb.jpg"
    for text, reason in (("{not json", "JSONDecodeError"), (json.dumps({"format": "keras_cls.tfrecord/1"}), "KeyError"),
                         (json.dumps(outside), "plain file names")):
        (out / sources.MANIFEST).write_text(text)
        with pytest.raises(ValueError, match=f"manifest.json is not a keras_cls TFRecord manifest .*{reason}"):
            load(DataConfig(source="tfrecord", path=str(out), image_size=32))


def test_a_failed_run_continues_with_the_shards_not_yet_written(tmp_path, monkeypatch):
    write_folder(tmp_path / "imgs", bad=False)
    config = _config(tmp_path, workers=1)
    real, calls = prepare.write_shard, []

    def dies_on_the_third(shard, *args):
        calls.append(shard.file)
        if len(calls) == 3:
            raise OSError("disk full (injected)")
        return real(shard, *args)

    monkeypatch.setattr(prepare, "write_shard", dies_on_the_third)
    with pytest.raises(OSError, match="injected"):
        prepare.prepare(config, log=lambda m: None)
    out = tmp_path / "shards"
    first = {f: (out / f).stat().st_mtime_ns for f in calls[:2]}
    assert not (out / sources.MANIFEST).exists() and not any(p.name.startswith(".tmp-") for p in out.iterdir())
    monkeypatch.setattr(prepare, "write_shard", real)
    lines = []
    manifest = prepare.prepare(config, log=lines.append)
    assert int(lines[0].split("(")[1].split()[0]) >= 2  # at least the two before the failure: not written again
    assert {f: (out / f).stat().st_mtime_ns for f in first} == first  # not written again
    assert sum(e["records"] for e in manifest["splits"].values()) == 2 * GOOD
    prepare.prepare(config, log=lines.append)
    assert "nothing to do" in lines[-1]
    with pytest.raises(ValueError, match="path \\(the image folder\\) and out_dir are required"):
        PrepareConfig(path=str(tmp_path))


@pytest.mark.slow
def test_sigkill_while_shards_are_written_then_the_same_command_finishes(tmp_path):
    write_folder(tmp_path / "imgs", bad=False)
    out = tmp_path / "shards"
    cmd = [sys.executable, "-m", "keras_cls.cli", "prepare", f"--path={tmp_path / 'imgs'}", f"--out_dir={out}",
           "--images_per_shard=1", "--workers=1", "--validation_fraction=0"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:  # the moment a shard is being written
        if any(p.name.startswith(".tmp-") for p in out.glob(".tmp-*")) and list((out / prepare.WORK).glob("*-0*")):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before the kill"
    assert not (out / sources.MANIFEST).exists()
    # the same job through scripts/prepare_tfrecords.py, the checkout's wrapper of `keras-cls prepare`
    script = [sys.executable, str(ROOT / "scripts" / "prepare_tfrecords.py"), *cmd[4:]]
    again = subprocess.run(script, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {"train": 2 * GOOD, "skipped": 0}
    assert prepare.verify_shards(str(out)) == [] and not list(out.glob(".tmp-*"))


def test_records_without_a_manifest_honour_verify(tmp_path):
    """header: one streaming pass over the records; full: every image decoded in that pass; none: nothing read."""
    good = list(good_images().values())
    corrupt_body = good[0][:200] + bytes(range(256)) * 4 + b"\xff\xd9"  # a JPEG's header and end, garbage between
    with tf.io.TFRecordWriter(str(tmp_path / "train-00000-of-00001")) as w:
        for i, data in enumerate(good + [corrupt_body, b""]):
            w.write(_example(data, i % 2))
    base = dict(source="tfrecord", path=str(tmp_path), num_classes=2, image_size=32, batch_size=1,
                validation_fraction=0, test_fraction=0)
    header = load(DataConfig(**base))
    assert header.sizes["train"] == GOOD + 1 and header.report.skipped == [
        (f"{tmp_path}/train-00000-of-00001:{GOOD + 1}", "empty (zero bytes)")]
    full = load(DataConfig(**base, verify="full"))
    assert full.sizes["train"] == GOOD and [r for _, r in full.report.skipped] == [
        "undecodable image data", "empty (zero bytes)"]
    assert sum(1 for _ in full.train) == GOOD
    none = load(DataConfig(**base, verify="none"))
    assert none.sizes["train"] is None and none.report.seen == 0
    with pytest.raises(ValueError, match="has no manifest.json .* give num_classes"):
        load(DataConfig(**{**base, "num_classes": None}))
    assert sum(1 for _ in none.train) == GOOD  # unscanned: the pipeline drops the bad records as they come
