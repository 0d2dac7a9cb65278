"""Sources and the bad-input scan, on files and records the tests write."""
import pickle

import numpy as np
import pytest
import tensorflow as tf

from keras_cls.data import DataConfig, load, sources
from keras_cls.data.contract import Preprocessing
from tests.data.images import bad_images, good_images, png_header, write_folder


def _all(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def test_digits_fixed_split():
    data = load(DataConfig(source="digits", image_size=32, batch_size=64))
    assert data.sizes == {"train": 1262, "validation": 180, "test": 355}
    assert data.class_names == [str(i) for i in range(10)]
    x, y = _all(data.test)
    assert x.shape == (355, 32, 32, 3) and x.dtype == np.uint8 and x.max() > 200
    assert np.array_equal(x[..., 0], x[..., 2])  # gray digits become RGB
    assert np.bincount(y, minlength=10).min() >= 34  # stratified: every class 34-36 times
    assert "k % 5 == 4" in data.note


def test_elpv_real_photos_from_their_wheel():
    """ELPV's 2,624 solar-cell photos (elpv-dataset, [dev]), read as files with its labels: functional (defect
    probability 0 or 1/3) or defective (2/3 or 1), stratified as digits'."""
    d = sources.elpv()
    assert [len(d.train), len(d.validation), len(d.test)] == [1838, 262, 524]
    assert d.class_names == ["functional", "defective"] and "CC BY-NC-SA 4.0" in d.note
    assert [np.bincount(s.labels).tolist() for s in (d.train, d.validation, d.test)] == [[1263, 575], [180, 82],
                                                                                         [360, 164]]
    data = load(DataConfig(source="elpv", image_size=32, batch_size=8))
    x, _ = next(iter(data.test))
    assert x.shape == (8, 32, 32, 3) and np.array_equal(x[..., 0], x[..., 2])  # gray photos become RGB
    assert data.sizes == {"train": 1838, "validation": 262, "test": 524}
    assert data.report.as_dict() == {"seen": 2624, "kept": 2624, "skipped": 0, "files": []}


def test_folder_decodes_every_format_and_skips_bad_files(tmp_path):
    write_folder(tmp_path / "imgs")
    data = load(DataConfig(source="folder", path=str(tmp_path / "imgs"), image_size=32, batch_size=4,
                           validation_fraction=0, test_fraction=0))
    assert data.class_names == ["cat", "dog"]
    assert data.report.seen == 2 * len(good_images()) + len(bad_images())
    skipped = {p.split("/")[-1]: reason for p, reason in data.report.skipped}
    assert skipped == {"truncated.jpg": "truncated (no end marker)", "truncated.png": "truncated (no end marker)",
                       "empty.jpg": "empty (zero bytes)",
                       "notes.jpg": "not an image (no JPEG/PNG/GIF/BMP/WebP signature)"}
    x, y = _all(data.train)  # training batches drop the remainder: 20 images -> 5 batches of 4
    assert x.shape == (20, 32, 32, 3) and set(y) == {0, 1} and data.sizes["train"] == 20


def test_every_odd_entry_is_a_counted_skip_and_the_sizes_are_what_the_pipeline_yields(tmp_path):
    root = write_folder(tmp_path / "imgs", bad=False)
    cat = root / "cat"
    webp = good_images()["lossy.webp"]
    (cat / "webp_named.jpg").write_bytes(webp)  # kept: the contents decide, not the name
    (cat / "bomb.png").write_bytes(png_header(60000, 60000))
    (cat / "x.jpg").mkdir()
    (cat / "nested").mkdir()
    (cat / "nested" / "deep.jpg").write_bytes(webp)
    (cat / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    (cat / "notes.txt").write_text("not a picture")
    (cat / "scan.tif").write_bytes(b"II*\x00")
    with open(bytes(cat) + b"/caf\xe9.jpg", "wb") as f:  # a Latin-1 name: not valid UTF-8
        f.write(webp)
    data = load(DataConfig(source="folder", path=str(root), image_size=32, batch_size=1, validation_fraction=0,
                           test_fraction=0))
    reasons = {p.split("/")[-1]: reason for p, reason in data.report.skipped}
    assert reasons["bomb.png"].startswith("too many pixels") and reasons["broken.jpg"] == "broken link"
    assert reasons["x.jpg"].startswith("a folder") and reasons["nested"].startswith("a folder (images in nested")
    assert reasons["notes.txt"].startswith("not an image file name") and reasons["scan.tif"] == reasons["notes.txt"]
    assert reasons["caf\ufffd.jpg"].startswith("file name is not valid UTF-8")
    assert len(reasons) == 7 and data.report.seen == data.report.kept + 7
    kept = 2 * len(good_images()) + 1
    assert data.sizes["train"] == kept == len(_all(data.train)[0])  # what the pipeline yields, batch 1
    with pytest.raises(ValueError, match=r"max_pixels must be"):
        Preprocessing(32, max_pixels=10)


def test_a_class_whose_every_file_is_bad_is_an_error_naming_it(tmp_path):
    root = write_folder(tmp_path / "imgs", bad=False)
    (root / "bird").mkdir()
    for name, data in bad_images().items():
        (root / "bird" / name).write_bytes(data)
    with pytest.raises(ValueError, match=r"class\(es\) \['bird'\] have no usable image"):
        load(DataConfig(image_size=32, source="folder", path=str(root), validation_fraction=0, test_fraction=0))


def test_counting_classes_reads_no_image(tmp_path, monkeypatch):
    from keras_cls.data.pipeline import count_classes

    write_folder(tmp_path / "imgs")
    (tmp_path / "split" / "train" / "a").mkdir(parents=True)
    (tmp_path / "split" / "train" / "b").mkdir()
    (tmp_path / "split" / "val" / "a").mkdir(parents=True)
    monkeypatch.setattr(sources, "folder", lambda path: pytest.fail("count_classes listed the images"))
    assert count_classes(DataConfig(source="folder", path=str(tmp_path / "imgs"))) == 2
    assert count_classes(DataConfig(source="folder", path=str(tmp_path / "split"))) == 2
    assert count_classes(DataConfig(source="tfrecord", path=str(tmp_path), num_classes=1000)) == 1000
    assert count_classes(DataConfig(source="digits")) == 10


def test_every_good_format_decodes_to_the_same_pixels(tmp_path):
    from keras_cls.data.decode import decode_rgb

    reference = decode_rgb(good_images()["rgb8.png"]).numpy().astype(int)
    for name, data in good_images().items():
        image = decode_rgb(data).numpy()
        assert image.shape == (24, 20, 3) and image.dtype == np.uint8, name
        if name in ("rgb.jpg", "cmyk.jpg", "rgba.png", "rgb.bmp"):
            assert np.abs(image.astype(int) - reference).mean() < 12, name  # lossy JPEG, same picture


def test_strict_mode_names_the_file(tmp_path):
    write_folder(tmp_path / "imgs")
    with pytest.raises(ValueError, match=r"bad input '.*(truncated|empty|notes)\.(jpg|png)'.*strict=False"):
        load(DataConfig(image_size=32, source="folder", path=str(tmp_path / "imgs"), strict=True))


def test_folder_layout_with_splits_and_errors(tmp_path):
    write_folder(tmp_path / "ds" / "train", bad=False)
    write_folder(tmp_path / "ds" / "val", bad=False)
    data = load(DataConfig(image_size=32, source="folder", path=str(tmp_path / "ds"), batch_size=2, test_fraction=0))
    assert data.sizes == {"train": 20, "validation": 20}
    (tmp_path / "ds" / "train" / "bird").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*bird' has no images"):
        load(DataConfig(image_size=32, source="folder", path=str(tmp_path / "ds")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class folders"):
        load(DataConfig(image_size=32, source="folder", path=str(tmp_path / "empty")))
    only_bad = tmp_path / "bad" / "x"
    only_bad.mkdir(parents=True)
    (only_bad / "a.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="the train split is empty"):
        load(DataConfig(image_size=32, source="folder", path=str(tmp_path / "bad"), validation_fraction=0, test_fraction=0))


def _example(data, label):
    feature = {"image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
               "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_tfrecord_shard_with_a_corrupt_record(tmp_path):
    good = list(good_images().values())
    with tf.io.TFRecordWriter(str(tmp_path / "train-00000-of-00001")) as w:
        for i, data in enumerate(good):
            w.write(_example(data, i % 3))
        w.write(_example(bad_images()["truncated.jpg"], 1))
    with tf.io.TFRecordWriter(str(tmp_path / "validation-00000-of-00001")) as w:
        w.write(_example(good[0], 2))
    data = load(DataConfig(image_size=32, source="tfrecord", path=str(tmp_path), num_classes=3, batch_size=3))
    assert data.report.seen == len(good) + 2 and len(data.report.skipped) == 1
    assert data.report.skipped[0][0].endswith(f"train-00000-of-00001:{len(good)}")
    x, y = _all(data.train)
    assert x.shape == (9, 32, 32, 3) and sorted(set(y)) == [0, 1, 2]
    assert _all(data.validation)[1].tolist() == [2]
    with pytest.raises(ValueError, match=r"labels outside \[0, 2\)"):
        load(DataConfig(image_size=32, source="tfrecord", path=str(tmp_path), num_classes=2))


def test_cifar10_python_batches(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("data_batch_1", 20), ("data_batch_2", 20), ("test_batch", 10)):
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": [f"c{i}".encode() for i in range(10)]}))
    source = sources.cifar(str(tmp_path))
    assert source.train.items.shape == (40, 32, 32, 3) and source.class_names[3] == "c3"
    # the rows are R plane, G plane, B plane: pixel (0, 1) of image 0 is bytes 1, 1025, 2049
    raw = pickle.loads((tmp_path / "data_batch_1").read_bytes())[b"data"][0]
    assert source.train.items[0, 0, 1].tolist() == [raw[1], raw[1025], raw[2049]]
    data = load(DataConfig(image_size=32, source="cifar", path=str(tmp_path), batch_size=8))
    assert data.sizes == {"train": 36, "validation": 4, "test": 10}


def test_arrays_and_label_checks():
    x = np.random.default_rng(0).integers(0, 256, (40, 16, 16), dtype=np.uint8)
    y = np.arange(40) % 4
    data = load(DataConfig(image_size=32, source="arrays", batch_size=5, test_fraction=0.2), arrays=(x, y))
    assert data.sizes == {"train": 29, "validation": 3, "test": 8} and data.num_classes == 4
    with pytest.raises(ValueError, match=r"labels outside \[0, 3\)"):
        load(DataConfig(image_size=32, source="arrays", num_classes=3), arrays=(x, y))
    with pytest.raises(ValueError, match=r"arrays must be images"):
        load(DataConfig(image_size=32, source="arrays"), arrays=(x[:, 0], y))


def test_tfds_without_the_package_is_a_clear_error():
    import importlib.util

    if importlib.util.find_spec("tensorflow_datasets"):
        pytest.skip("tensorflow-datasets is installed here; this checks the message when it is not")
    with pytest.raises(ValueError, match="needs the tensorflow-datasets package"):
        load(DataConfig(image_size=32, source="tfds", path="mnist"))


@pytest.mark.parametrize("kwargs,message", [
    ({"source": "imagenet"}, "source must be one of"), ({"image_size": 16}, "at least 32"),
    ({"source": "folder"}, "needs a path"), ({"crop_scale": (0.9, 0.1)}, "crop_scale"),
    ({"verify": "maybe"}, "verify must be one of"),
])
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**kwargs)


def test_images_in_unit_range_get_one_warning(monkeypatch):
    """Every model takes RGB in [0, 255]: a float batch within [0, 1] is warned about once per place."""
    import warnings

    import keras_cls
    from keras_cls.data import contract
    from keras_cls.evaluate import predictions

    monkeypatch.setattr(contract, "_WARNED", set())
    x = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 3)).astype("float32")
    with pytest.warns(UserWarning, match=r"arrays: every value of this image batch lies in \[0, 1\].*multiply by 255"):
        sources.arrays(x, [0, 1, 0, 1])
    model = keras_cls.build("resnet-18", num_classes=2, input_shape=(32, 32, 3))
    with pytest.warns(UserWarning, match=r"evaluate: every value"):
        predictions(model, [(x, np.array([0, 1, 0, 1]))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per place; and [0, 255] images never warn
        sources.arrays(x, [0, 1, 0, 1])
        predictions(model, [(x * 255, np.array([0, 1, 0, 1]))])
        contract.warn_unit_range(x * 255, "elsewhere")
