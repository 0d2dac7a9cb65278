"""Evaluation: top-1, top-k, per-class accuracy and the confusion matrix (JSON, and a PNG plot)."""
import os

import numpy as np

from keras_cls import files


def predictions(model, dataset):
    """(probabilities, integer labels) over a dataset of (images, labels); labels may be one-hot.

    The model is called as one graph function rather than through predict_on_batch, which under a
    MirroredStrategy scope runs the whole batch on every replica and concatenates the copies."""
    from keras_cls.latency import compiled_call
    from keras_cls.data.contract import warn_unit_range

    call = compiled_call(model)
    probs, labels = [], []
    for images, y in dataset:
        if not probs:
            warn_unit_range(images, "evaluate")
        probs.append(np.asarray(call(images), dtype=np.float32))
        y = np.asarray(y)
        labels.append(y.argmax(axis=-1) if y.ndim == 2 else y.reshape(-1))
    return np.concatenate(probs), np.concatenate(labels).astype(np.int64)


def scores(probs, labels, class_names, top_k=5):
    n = len(class_names)
    order = np.argsort(-probs, axis=1)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (labels, order[:, 0]), 1)
    support = confusion.sum(axis=1)
    k = min(top_k, n)
    return {
        "examples": int(len(labels)),
        "top1": float(np.mean(order[:, 0] == labels)),
        f"top{k}": float(np.mean((order[:, :k] == labels[:, None]).any(axis=1))),
        "per_class": {name: (float(confusion[i, i] / support[i]) if support[i] else None)
                      for i, name in enumerate(class_names)},
        "confusion": confusion.tolist(),
        "class_names": list(class_names),
    }


def plot_confusion(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(result["confusion"])
    n = len(confusion)
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * n + 2), max(3.5, 0.45 * n + 1.5)))
    im = ax.imshow(confusion, cmap="Blues")
    if n <= 30:
        ax.set_xticks(range(n), result["class_names"], rotation=90)
        ax.set_yticks(range(n), result["class_names"])
        for (i, j), v in np.ndenumerate(confusion):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if v > confusion.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"top-1 {100 * result['top1']:.2f}% on {result['examples']} images")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def evaluate(model, dataset, class_names, out_dir=None, top_k=5):
    """Scores of `model` on `dataset`; with out_dir, writes evaluation.json and confusion.png there."""
    result = scores(*predictions(model, dataset), class_names, top_k=top_k)
    if out_dir:
        files.write_json(os.path.join(out_dir, "evaluation.json"), result)
        plot_confusion(result, os.path.join(out_dir, "confusion.png"))
    return result
