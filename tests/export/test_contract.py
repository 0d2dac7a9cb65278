"""One preprocessing contract from evaluation to serving: for the same photo, `evaluate`, every SavedModel
signature, the TFLite file and predict.py give the same scores; and hostile input is refused everywhere with an
error naming the problem (bombs before decoding, bad channels, NaN), one bad image named in a batch."""
import concurrent.futures
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_cls
from keras_cls.data import DataConfig, load
from keras_cls.data.contract import Preprocessing
from keras_cls.evaluate import predictions
from keras_cls.export import TFLiteModel, saved_model, tflite
from keras_cls.export.client import SavedModelClassifier, ServingError, classify_each
from tests.conftest import randomize

ROOT = Path(__file__).resolve().parents[2]
SIZE = 32
# Real photos (scikit-learn's sample JPEGs, 640x427), cut to several aspect ratios: (box, file name).
CUTS = [((0, 0, 640, 427), "full.jpg"), ((100, 0, 400, 420), "portrait.jpg"), ((200, 100, 456, 356), "square.jpg"),
        ((0, 150, 600, 300), "panorama.jpg")]


def _photos(root):
    from sklearn.datasets import load_sample_images

    folder = Path(load_sample_images().filenames[0]).parent
    for split in ("train", "test"):
        for label, photo in (("china", "china.jpg"), ("flower", "flower.jpg")):
            (root / split / label).mkdir(parents=True)
            image = Image.open(folder / photo)
            for box, name in CUTS:
                image.crop(box).save(root / split / label / name, "JPEG", quality=90)
    return root


def png_bomb(side=20000, rows=100):
    """A real, decodable PNG of side x side black pixels (1.2 GB decoded at 20000), ~1 MB: one deflate block of
    `rows` rows, compressed once and repeated (a full flush makes each block stand alone)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    assert side % rows == 0
    raw = (b"\x00" * (1 + 3 * side)) * rows
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block, end = packer.compress(raw) + packer.flush(zlib.Z_FULL_FLUSH), packer.flush()
    adler = ((len(raw) * (side // rows)) % 65521) << 16 | 1  # Adler-32 of all-zero bytes: A stays 1, B counts them
    stream = b"\x78\xda" + block * (side // rows) + end + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def model():
    return randomize(keras_cls.build("resnet-18", num_classes=2, input_shape=(SIZE, SIZE, 3)), seed=5)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return _photos(tmp_path_factory.mktemp("photos"))


def _files(photos):
    return sorted((photos / "test").glob("*/*.jpg"))  # the order of the folder source: class, then file name


@pytest.mark.parametrize("eval_crop", [1.0, pytest.param(0.875, marks=pytest.mark.slow)])
def test_evaluate_and_every_artifact_agree_on_the_same_photos(model, photos, eval_crop, tmp_path):
    config = DataConfig(source="folder", path=str(photos), image_size=SIZE, eval_crop=eval_crop, batch_size=4,
                        validation_fraction=0, deterministic=True)  # evaluation in file order
    data = load(config)
    contract = Preprocessing.of_data(config)
    assert data.contract == contract
    evaluated, labels = predictions(model, data.test)
    files = _files(photos)
    encoded = [f.read_bytes() for f in files]
    assert len(evaluated) == len(files) == 8 and labels.tolist() == [0] * 4 + [1] * 4

    path = saved_model(model, root=str(tmp_path), class_names=data.class_names, top_k=2, preprocessing=contract)
    loaded = tf.saved_model.load(path)
    assert Preprocessing.from_json(loaded.signatures["preprocessing"]()["preprocessing"].numpy().decode()) == contract
    assert Preprocessing.from_json((Path(path) / "assets" / "preprocessing.json").read_text()) == contract
    served = loaded.signatures["serving_default"](images=tf.constant(encoded))["scores"].numpy()
    np.testing.assert_allclose(served, evaluated, atol=1e-4, rtol=0)
    for data_bytes, expected in zip(encoded, evaluated):  # serve_images, given the decoded image as it is
        decoded = tf.io.decode_jpeg(data_bytes, channels=3)[None]
        for signature, dtype in (("serve_images", tf.float32), ("serve_images_uint8", tf.uint8)):
            got = loaded.signatures[signature](images=tf.cast(decoded, dtype))["scores"].numpy()[0]
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    lite = TFLiteModel(tflite(model, str(tmp_path / "m.tflite"), data.class_names, 2, contract))
    assert lite.contract == contract
    np.testing.assert_allclose(lite.classify_bytes(encoded)["scores"], evaluated, atol=1e-4, rtol=0)
    if eval_crop != 1.0:
        return
    # predict.py on the same files (and a damaged one, named; the good ones still answered)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(300) + b"\xff\xd9")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "predict.py"), f"--model={path}",
                          *map(str, files), str(broken)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1 and f"{broken}:" in out.stderr, out.stderr[-2000:]
    blocks = out.stdout.split("\n" + str(photos))
    assert len(blocks) == len(files)
    for block, expected in zip(blocks, evaluated):
        printed = dict(re.findall(r"\d\. (\w+)\s+([0-9.]+)", block))
        for name, p in printed.items():
            assert abs(float(p) - expected[data.class_names.index(name)]) <= 1e-4 + 5e-5  # 4 decimals printed


@pytest.fixture(scope="module")
def served(model, tmp_path_factory):
    return saved_model(model, root=str(tmp_path_factory.mktemp("served")), class_names=["a", "b"], top_k=2)


def test_bombs_are_refused_before_decoding_with_bounded_memory(served, tmp_path):
    from keras_cls.bench.hardware import PeakMemory

    small = tf.io.decode_png(png_bomb(side=300, rows=50)).numpy()  # the construction decodes
    assert small.shape == (300, 300, 3) and not small.any()
    bomb = png_bomb()
    serve = tf.saved_model.load(served).signatures["serving_default"]
    normal = tf.io.encode_png(np.zeros((400, 400, 3), np.uint8)).numpy()
    serve(images=tf.constant([normal]))  # warm: the first call traces and allocates
    with PeakMemory() as normal_peak:
        serve(images=tf.constant([normal]))
    with PeakMemory() as bomb_peak, pytest.raises(tf.errors.InvalidArgumentError, match="max_pixels=50,000,000"):
        serve(images=tf.constant([bomb]))
    if bomb_peak.mb is not None:
        assert bomb_peak.mb <= normal_peak.mb + 50, (bomb_peak.mb, normal_peak.mb)  # 1.2 GB if it decoded
    lite = TFLiteModel(tflite(keras_cls.build("resnet-18", num_classes=2, input_shape=(SIZE, SIZE, 3)),
                              str(tmp_path / "m.tflite")))
    with pytest.raises(tf.errors.InvalidArgumentError, match="image 1: .*max_pixels=50,000,000"):
        lite.classify_bytes([normal, bomb])
    with pytest.raises(ValueError, match="more pixels than the limit max_pixels"):
        lite(np.zeros((1, 8000, 8000, 3), np.uint8))
    with pytest.raises(ValueError, match="finite"):
        lite(np.full((1, 40, 40, 3), np.nan, np.float32))


def test_signatures_check_their_inputs(model, served):
    from keras_cls.export.saved_model import ServingModule

    serve_images = tf.saved_model.load(served).signatures["serve_images"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="finite"):
        serve_images(images=tf.constant(np.full((1, 40, 40, 3), np.nan, np.float32)))
    module = ServingModule(model, ["a", "b"])  # what TF Serving runs does not enforce the signature's shape
    with pytest.raises(tf.errors.InvalidArgumentError, match="3 channels"):
        module._checked(tf.zeros([1, 40, 40, 1]))
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        ServingModule(model, ["a", "b"], top_k=0)
    with pytest.raises(ValueError, match="makes 64 px images; the model takes 32"):
        ServingModule(model, ["a", "b"], preprocessing=Preprocessing(64))


def test_per_image_mode_names_the_bad_images(served):
    client = SavedModelClassifier(served)
    good = tf.io.encode_jpeg(np.full((30, 50, 3), 90, np.uint8)).numpy()
    with pytest.raises(ServingError):
        client.classify([good, b"not an image", good])  # the whole batch fails, as TF Serving's does
    outputs, bad = classify_each(client, [good, b"not an image", good, png_bomb(9000)])
    assert outputs["index"].tolist() == [0, 2] and sorted(bad) == [1, 3]
    assert "max_pixels" in bad[3] and outputs["scores"].shape == (2, 2)


def test_concurrent_clients_get_the_single_threaded_answers(served):
    from tests.export import serving_double

    images = [tf.io.encode_jpeg(np.random.default_rng(i).integers(0, 256, (40 + i, 60, 3), np.uint8)).numpy()
              for i in range(4)]
    local = SavedModelClassifier(served)
    expected = local.classify(images)["scores"]
    server = serving_double.rest_server("m", served)
    try:
        from keras_cls.export.client import RestClient

        clients = [local, RestClient(f"127.0.0.1:{server.server_address[1]}", "m")]

        def hammer(client, offset, calls=4):
            """Each call asks in another order; returns the orders whose answers were not the single-threaded ones."""
            wrong = []
            for call in range(calls):
                order = np.roll(np.arange(4), offset + call)
                got = client.classify([images[i] for i in order])["scores"]
                if not np.allclose(got, expected[order], atol=1e-6, rtol=0):
                    wrong.append(order.tolist())
            return wrong

        # six threads at once, three on each client; a thread's exception comes back through its future
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(hammer, clients[i % 2], i) for i in range(6)]
            failures = [f.result(timeout=120) for f in futures]
    finally:
        server.shutdown()
    assert failures == [[]] * 6, failures



def test_a_trained_models_contract_is_its_runs():
    """Data settings that contradict a run's contract are refused naming both values; without a run they are the
    contract (assumed, and said so)."""
    from keras_cls.export.trained import Trained, data_for

    run = Trained(None, None, "resnet-18", Preprocessing(32, eval_crop=1.0), "the run's config.json")
    assert data_for(run, DataConfig(eval_crop=1.0)) == (DataConfig(eval_crop=1.0, image_size=32), run.preprocessing)
    with pytest.raises(ValueError, match=r"image_size 48 \(given\) vs 32 \(the run's\); eval_crop 0.875 \(given\) "
                                         r"vs 1.0 \(the run's\)"):
        data_for(run, DataConfig(image_size=48))
    assumed = run._replace(contract_from="assumed: no run config.json")
    assert data_for(assumed, DataConfig())[1] == Preprocessing(32, eval_crop=0.875)
