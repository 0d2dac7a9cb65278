"""Transfer vs scratch without the internet: pretrain on digits 0-4, fine-tune on digits 5-9 with few labels.

The two tasks share no class, but they are the same kind of image (8x8 handwritten digits from the same writers,
scaled to 32 px): this measures what a backbone's features carry to new classes of a close domain, not ImageNet's
reach to photos. The pretraining task asks for the digit and its rotation (0-4 x 0/90/180/270 degrees: 20 classes):
a backbone trained to tell 5 classes apart keeps little else (its linear probe on 5-9 stayed under 40%), one that
must also see orientation keeps stroke features new digits can use. Upright target digits only; no rotated 0-4
looks like a 5-9 (a turned 6 is a 9, but both are target classes, never pretraining ones).
Each family: (1) pretrain from scratch on the rotated 0-4 (fast recipe); (2) fine-tune that backbone under a
new head on `shots` images a class of 5-9 (the finetune recipe, and a variant: ARMS); (3) the same architecture
from scratch on the same images with the same epochs, steps, batch and peak rate (fast recipe). Validation and
test: digits' own splits of 5-9.
"""
import os

import numpy as np

from keras_cls.data import DataConfig

# As the digits source: no flips (a mirrored digit is not that digit).
DATA = DataConfig(source="arrays", image_size=32, batch_size=16, pad_crop=4, flip=False, eval_crop=1.0)
PRETRAIN, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


def _task(split, classes, shots=None):
    """(images, labels 0..k-1) of `classes`; the first `shots` of each class when given (dataset order)."""
    keep = np.concatenate([np.flatnonzero(split.labels == c)[:shots] for c in classes])
    return split.items[keep], np.searchsorted(classes, split.labels[keep])


def _rotations(x, y):
    """Each image at 0, 90, 180 and 270 degrees, labelled digit * 4 + quarter turns."""
    return (np.concatenate([np.rot90(x, k, axes=(1, 2)) for k in range(4)]),
            np.concatenate([y * 4 + k for k in range(4)]))


def tasks(shots):
    """{"pretrain": arrays, "target": arrays} for Trainer(arrays=...): (x, y, names, test, validation)."""
    from keras_cls.data import sources

    d = sources.digits()
    target = (*_task(d.train, TARGET, shots), [str(c) for c in TARGET], _task(d.test, TARGET),
              _task(d.validation, TARGET))
    names = [f"{c}@{90 * k}" for c in PRETRAIN for k in range(4)]
    pretrain = (*_rotations(*_task(d.train, PRETRAIN)), names, _rotations(*_task(d.test, PRETRAIN)),
                _rotations(*_task(d.validation, PRETRAIN)))
    return {"pretrain": pretrain, "target": target}


def _train(name, run_dir, arrays, epochs, steps, **config):
    from keras_cls.train import TrainConfig, Trainer

    train = TrainConfig(model=name, run_dir=run_dir, epochs=epochs, steps_per_epoch=steps, verbose=0, **config)
    metrics = Trainer(train, DATA, arrays=arrays).run()
    return {"top1": metrics["top1"], "epochs": epochs, "seconds": metrics["train_seconds"]}


def _weights_file(run_dir):
    """The pretrained run's final model without its head (digits 0-4's classes) as a weights file."""
    import keras

    path = os.path.join(run_dir, "backbone.weights.h5")
    if not os.path.isfile(path):
        from keras_cls import files

        model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
        backbone = keras.Model(model.input, model.get_layer("avg_pool").output)
        with files.atomic_path(path) as tmp:
            backbone.save_weights(tmp)
    return path


# Transfer arms: the finetune recipe as it is, and with BatchNorm adapting and the backbone at the head's rate
# (a backbone from 5 classes of digits is far narrower than an ImageNet one). Both start at the scratch run's peak
# rate (the fast recipe's), so that the rate is not what differs.
ARMS = (("finetune recipe", {}), ("finetune, BN adapting, backbone_lr 1", {"backbone_lr": 1.0, "train_bn": True}))


def _arm(name, run_dir, seeds, **settings):
    """Mean, lowest and highest top-1 over seeds (training on a few images is noisy: single runs differ by
    several points), and the mean training seconds."""
    results = [_train(name, f"{run_dir}-seed{seed}", seed=seed, **settings) for seed in range(seeds)]
    top1 = [r["top1"] for r in results]
    return {"top1": float(np.mean(top1)), "top1_min": min(top1), "top1_max": max(top1), "seeds": seeds,
            "epochs": results[0]["epochs"], "seconds": float(np.mean([r["seconds"] for r in results]))}


def run(models, root, shots=10, pretrain_epochs=6, epochs=5, steps=10, seeds=3, log=print, pretrain_steps=None,
        arms=ARMS):
    """One row per (model, start): top-1 on digits 5-9's test split (mean over seeds), epochs, training seconds.
    pretrain_steps: steps per pretraining epoch (None: the whole split); arms: the transfer arms (of ARMS) to run."""
    from keras_cls.train.recipes import RECIPES

    data, rows, rate = tasks(shots), [], RECIPES["fast"].learning_rate
    for name in models:
        log(f"{name}: pretraining on digits 0-4 x 4 rotations ({len(data['pretrain'][0])} images, "
            f"{pretrain_epochs} epochs)")
        pre_dir = os.path.join(root, name, "pretrain")
        pre = _train(name, pre_dir, data["pretrain"], pretrain_epochs, pretrain_steps, recipe="fast")
        weights = _weights_file(pre_dir)
        common = dict(arrays=data["target"], epochs=epochs, steps=steps)
        log(f"{name}: digits 5-9 with {shots} images a class, {epochs} epochs x {steps} steps, transfer and "
            f"scratch, {seeds} seed(s) each")
        for i, (arm, settings) in enumerate(arms):
            result = _arm(name, os.path.join(root, name, f"transfer-{i + 1}"), seeds, **common, weights=weights,
                          learning_rate=rate, **settings)
            rows.append({"model": name, "start": f"digits 0-4 backbone, {arm}", **result,
                         "pretrain_top1": pre["top1"], "pretrain_seconds": pre["seconds"]})
        rows.append({"model": name, "start": "scratch (fast recipe)",
                     **_arm(name, os.path.join(root, name, "scratch"), seeds, **common, recipe="fast")})
        log("  " + ", ".join(f"{r['start']}: {100 * r['top1']:.1f}%" for r in rows[-len(arms) - 1:]))
    return rows


def table(rows):
    lines = ["| model | start | test top-1, mean (lowest-highest) | seeds | epochs | train s |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['start']} | {100 * r['top1']:.1f}% ({100 * r['top1_min']:.1f}-"
              f"{100 * r['top1_max']:.1f}) | {r['seeds']} | {r['epochs']} | {r['seconds']:.1f} |" for r in rows]
    return "\n".join(lines)


def gains(rows):
    """{model: (best transfer top-1 minus scratch top-1 in points, the arm that gave it)}."""
    out = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        scratch = next(r["top1"] for r in mine if r["start"].startswith("scratch"))
        best = max((r for r in mine if not r["start"].startswith("scratch")), key=lambda r: r["top1"])
        out[model] = (100 * (best["top1"] - scratch), best["start"])
    return out
