"""The digits benchmark: both families trained from scratch with the fast recipe vs scikit-learn's SVC,
on the same fixed split (keras_cls.data.sources.DIGITS_NOTE)."""
import os
import time

from keras_cls.data import DataConfig

DIGITS_DATA = DataConfig(source="digits", image_size=32, batch_size=32, pad_crop=4, eval_crop=1.0)


def svc_baseline():
    """SVC(gamma=0.001) as in scikit-learn's digits example, fit on train + validation, scored on test."""
    import numpy as np
    from sklearn.svm import SVC

    from keras_cls.data import sources

    split = sources.digits()
    flat = lambda s: s.items[..., 0].reshape(len(s), -1) / 255.0 * 16.0  # noqa: E731  (back to 0..16)
    x = np.concatenate([flat(split.train), flat(split.validation)])
    y = np.concatenate([split.train.labels, split.validation.labels])
    start = time.perf_counter()
    model = SVC(gamma=0.001).fit(x, y)
    return {"model": "sklearn SVC(gamma=0.001)", "top1": float(model.score(flat(split.test), split.test.labels)),
            "train_seconds": round(time.perf_counter() - start, 2)}


def train_one(name, run_root, epochs, data_config=DIGITS_DATA):
    from keras_cls.train import TrainConfig, Trainer

    config = TrainConfig(model=name, run_dir=os.path.join(run_root, name), epochs=epochs, recipe="fast", verbose=0)
    metrics = Trainer(config, data_config).run()
    return {"model": name, "top1": metrics["top1"], "train_seconds": metrics["train_seconds"],
            "images_per_s": metrics["images_per_s"]}


def run(models, run_root, epochs, progress=print):
    """The SVC baseline, then each model trained; returns the rows (baseline first)."""
    rows = [svc_baseline()]
    for name in models:
        progress(f"training {name} ({epochs} epochs, {DIGITS_DATA.image_size} px) ...")
        rows.append(train_one(name, run_root, epochs))
        progress(f"  {name}: test top-1 {100 * rows[-1]['top1']:.2f}% in {rows[-1]['train_seconds']} s")
    return rows


def table(rows):
    """Markdown table of benchmark rows; the first row is the baseline the others are compared with."""
    base = rows[0]["top1"]
    lines = ["| model | test top-1 | vs SVC | train s | train img/s |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        ips = f"{r['images_per_s']:.0f}" if r.get("images_per_s") else ""
        lines.append(f"| {r['model']} | {100 * r['top1']:.2f}% | {100 * (r['top1'] - base):+.2f} pt "
                     f"| {r['train_seconds']} | {ips} |")
    return "\n".join(lines)
