"""`keras-cls prepare` on a synthetic folder of JPEGs of mixed sizes: images/s, and the ratio to plain read + write
of the same bytes measured in the same run; then the time from load() to the first batch of the prepared shards
(the manifest: no pre-scan) against the same shards without a manifest (one scan pass), at a small and the full
size, to show that with a manifest it does not grow with the data set."""
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("images", 20000, "JPEG files written for the test folder")
flags.DEFINE_integer("small", 2000, "the smaller data set of the load-time comparison")
flags.DEFINE_integer("workers", 4, "prepare's parallel shard writers")
flags.DEFINE_integer("images_per_shard", 1024, "records per shard")
flags.DEFINE_integer("batch_size", 64, "the first batch's images in the load-time comparison", lower_bound=1)
flags.DEFINE_string("json", None, "write the figures as JSON here")
FLAGS = flags.FLAGS


def _prepare(folder, out):
    import time

    from keras_cls.data.config import PrepareConfig
    from keras_cls.data.prepare import prepare

    start = time.perf_counter()
    manifest = prepare(PrepareConfig(path=folder, out_dir=out, images_per_shard=FLAGS.images_per_shard,
                                     workers=FLAGS.workers, validation_fraction=0), log=lambda m: None)
    return manifest["splits"]["train"]["records"] / (time.perf_counter() - start)


def _load_seconds(out, manifest):
    from keras_cls.bench.pipeline import first_batch_seconds
    from keras_cls.data import DataConfig

    path = os.path.join(out, "manifest.json")
    hidden = path + ".off"
    if not manifest:
        os.rename(path, hidden)
    try:
        return first_batch_seconds(DataConfig(source="tfrecord", path=out, num_classes=None if manifest else 4,
                                              image_size=224, batch_size=FLAGS.batch_size,
                                              validation_fraction=0, test_fraction=0))
    finally:
        if not manifest:
            os.rename(hidden, path)


def main(argv):
    del argv
    from keras_cls.bench.pipeline import copy_images_per_s, write_jpeg_folder

    rows = []
    with tempfile.TemporaryDirectory() as root:
        full, small = os.path.join(root, "full"), os.path.join(root, "small")
        print(f"writing {FLAGS.images:,} JPEGs (128-512 px sides) ...", flush=True)
        write_jpeg_folder(full, FLAGS.images, size=128, max_size=512)
        for d, _, names in os.walk(full):  # the small set: the first images, hard-linked
            for name in sorted(names)[: FLAGS.small // 4]:
                target = os.path.join(small, os.path.relpath(d, full))
                os.makedirs(target, exist_ok=True)
                os.link(os.path.join(d, name), os.path.join(target, name))
        copy = copy_images_per_s(full, os.path.join(root, "copy.bin"))
        speed = _prepare(full, os.path.join(root, "shards-full"))
        _prepare(small, os.path.join(root, "shards-small"))
        print(f"| prepare, {FLAGS.images:,} images, {FLAGS.workers} workers | {speed:.0f} img/s |")
        print(f"| plain read + write of the same bytes | {copy:.0f} img/s |")
        print(f"| ratio | {speed / copy:.2f}x |")
        rows.append({"name": "prepare", "images": FLAGS.images, "workers": FLAGS.workers,
                     "prepare_img_s": round(speed, 1), "copy_img_s": round(copy, 1), "ratio": round(speed / copy, 3)})
        for name, count in (("small", FLAGS.small), ("full", FLAGS.images)):
            out = os.path.join(root, f"shards-{name}")
            with_manifest, without = _load_seconds(out, True), _load_seconds(out, False)
            print(f"| load -> first batch, {count:,} records | manifest {with_manifest:.2f} s | scan {without:.2f} s |")
            rows.append({"name": f"first_batch_{count}", "records": count, "manifest_s": round(with_manifest, 3),
                         "scan_s": round(without, 3)})
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "prepare", rows)


if __name__ == "__main__":
    app.run(main)
