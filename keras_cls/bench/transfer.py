"""Transfer vs scratch without the internet: pretrain on digits 0-4, fine-tune on digits 5-9 with few labels.

The two tasks share no class, but they are the same kind of image (8x8 handwritten digits from the same writers,
scaled to 32 px): this measures what a backbone's features carry to new classes of a close domain, not ImageNet's
reach to photos. Each family: (1) pretrain from scratch on 0-4 (fast recipe); (2) fine-tune that backbone under a
new head on `shots` images a class of 5-9 (finetune recipe); (3) the same architecture from scratch on the same
images with the same epochs, steps and batch (fast recipe). Validation and test: digits' own splits of 5-9.
"""
import os

import numpy as np

from keras_cls.data import DataConfig

DATA = DataConfig(source="arrays", image_size=32, batch_size=16, pad_crop=4, eval_crop=1.0)
PRETRAIN, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


def _task(split, classes, shots=None):
    """(images, labels 0..k-1) of `classes`; the first `shots` of each class when given (dataset order)."""
    keep = np.concatenate([np.flatnonzero(split.labels == c)[:shots] for c in classes])
    return split.items[keep], np.searchsorted(classes, split.labels[keep])


def tasks(shots):
    """{"pretrain": arrays, "target": arrays} for Trainer(arrays=...): (x, y, names, test, validation)."""
    from keras_cls.data import sources

    d = sources.digits()
    out = {}
    for key, classes, n in (("pretrain", PRETRAIN, None), ("target", TARGET, shots)):
        out[key] = (*_task(d.train, classes, n), [str(c) for c in classes], _task(d.test, classes),
                    _task(d.validation, classes))
    return out


def _train(name, run_dir, arrays, epochs, steps, **config):
    from keras_cls.train import TrainConfig, Trainer

    train = TrainConfig(model=name, run_dir=run_dir, epochs=epochs, steps_per_epoch=steps, verbose=0, **config)
    metrics = Trainer(train, DATA, arrays=arrays).run()
    return {"top1": metrics["top1"], "epochs": epochs, "seconds": metrics["train_seconds"]}


def _weights_file(run_dir):
    """The pretrained run's final model without its head (digits 0-4's classes) as a weights file."""
    import keras

    import keras_cls.train  # noqa: F401  (registers the schedule and optimizers saved with the model)

    path = os.path.join(run_dir, "backbone.weights.h5")
    if not os.path.isfile(path):
        from keras_cls import files

        model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
        backbone = keras.Model(model.input, model.get_layer("avg_pool").output)
        with files.atomic_path(path) as tmp:
            backbone.save_weights(tmp)
    return path


def run(models, root, shots=10, pretrain_epochs=15, epochs=15, steps=10, learning_rate=None, log=print):
    """One row per (model, start): top-1 on digits 5-9's test split, epochs, training seconds."""
    data, rows = tasks(shots), []
    for name in models:
        log(f"{name}: pretraining on digits 0-4 ({len(data['pretrain'][0])} images, {pretrain_epochs} epochs)")
        pre_dir = os.path.join(root, name, "pretrain")
        pre = _train(name, pre_dir, data["pretrain"], pretrain_epochs, None, recipe="fast")
        weights = _weights_file(pre_dir)
        common = dict(arrays=data["target"], epochs=epochs, steps=steps)
        log(f"{name}: digits 5-9 with {shots} images a class, {epochs} epochs x {steps} steps, transfer and scratch")
        transfer = _train(name, os.path.join(root, name, "transfer"), **common, weights=weights,
                          learning_rate=learning_rate)
        scratch = _train(name, os.path.join(root, name, "scratch"), **common, recipe="fast")
        rows += [{"model": name, "start": "digits 0-4 backbone (finetune recipe)", **transfer,
                  "pretrain_top1": pre["top1"], "pretrain_seconds": pre["seconds"]},
                 {"model": name, "start": "scratch (fast recipe)", **scratch}]
        log(f"  transfer {100 * transfer['top1']:.1f}% vs scratch {100 * scratch['top1']:.1f}%")
    return rows


def table(rows):
    lines = ["| model | start | test top-1 | epochs | train s |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['start']} | {100 * r['top1']:.2f}% | {r['epochs']} | {r['seconds']:.1f} |"
              for r in rows]
    return "\n".join(lines)


def gains(rows):
    """{model: transfer top-1 minus scratch top-1, in points}."""
    by = {}
    for r in rows:
        by.setdefault(r["model"], {})["transfer" if "backbone" in r["start"] else "scratch"] = r["top1"]
    return {m: 100 * (v["transfer"] - v["scratch"]) for m, v in by.items()}
