"""After a search: the trials table (Markdown + CSV), the best trial as a config file `keras-cls train` accepts,
and a plot of the objective by trial and by family."""
import csv
import dataclasses
import io
import os

from keras_cls import files
from keras_cls.models import get_spec
from keras_cls.tune.search import choose, configs

COLUMNS = ("trial", "status", "score", "family", "model", "image_size", "optimizer", "learning_rate",
           "weight_decay", "label_smoothing", "dropout_rate", "drop_connect_rate", "augment", "trained_by", "rss_mb")


def _values(hypermodel, hp):
    import keras_tuner as kt

    replay = kt.HyperParameters()  # choose() on a copy reads the trial's values without touching the trial
    replay.values.update(hp.values)
    return choose(hypermodel.space, replay)


def trial_rows(tuner):
    """One row per trial of the oracle, in trial order."""
    rows = []
    for trial in sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id) if t.trial_id.isdigit() else 0):
        values = _values(tuner.hypermodel, trial.hyperparameters)
        runs = _trained_by(tuner.get_trial_dir(trial.trial_id))
        rows.append({"trial": trial.trial_id, "status": trial.status, "score": trial.score,
                     "family": get_spec(values["model"]).family, **{k: values[k] for k in COLUMNS if k in values},
                     "trained_by": " ".join(r["tuner"] for r in runs),
                     "rss_mb": runs[-1]["rss_mb"] if runs else None})
    return rows


def _trained_by(trial_dir):
    """The trial's training runs as logged by the HyperModel: [{"tuner", "pid", "rss_mb"}]."""
    path = os.path.join(trial_dir, "trained_by.txt")
    if not os.path.exists(path):
        return []
    runs = []
    for line in open(path).read().splitlines():
        tuner, *fields = line.split()
        values = dict(field.split("=", 1) for field in fields)
        rss = values.get("rss_mb")
        runs.append({"tuner": tuner, "pid": values.get("pid"), "rss_mb": float(rss) if rss not in (None, "None")
                     else None})
    return runs


def best_config(tuner):
    """{"train": ..., "data": ...} of the best trial, run_dir runs/best: `keras-cls train --config` takes it as is."""
    hp = tuner.get_best_hyperparameters(1)[0]
    hypermodel = tuner.hypermodel
    train, data = configs(_values(hypermodel, hp), hypermodel.train_config, hypermodel.data_config, "runs/best",
                          epochs=hp.values.get("tuner/epochs"))
    return {"train": dataclasses.asdict(train), "data": dataclasses.asdict(data)}


def table(rows):
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS)
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else "" if v is None else str(v)  # noqa: E731
    return head + "".join("\n| " + " | ".join(cell(r.get(c)) for c in COLUMNS) + " |" for r in rows)


def plot(rows, path, objective):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["score"] is not None]
    families = sorted({r["family"] for r in done})
    fig, (by_trial, by_family) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    for i, family in enumerate(families):
        mine = [r for r in done if r["family"] == family]
        by_trial.scatter([int(r["trial"]) for r in mine], [r["score"] for r in mine], label=family, s=40)
        by_family.scatter([i] * len(mine), [r["score"] for r in mine], s=40, alpha=0.7)
    by_trial.set(xlabel="trial", ylabel=objective, title=f"{objective} by trial")
    by_trial.legend()
    by_family.set(xticks=range(len(families)), xticklabels=families, title=f"{objective} by family")
    fig.tight_layout()
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def write(tuner, out_dir, objective):
    """trials.md, trials.csv, best_config.json and objective.png in out_dir; returns the rows."""
    os.makedirs(out_dir, exist_ok=True)
    rows = trial_rows(tuner)
    files.write_text(os.path.join(out_dir, "trials.md"), table(rows) + "\n")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    files.write_text(os.path.join(out_dir, "trials.csv"), text.getvalue())
    files.write_json(os.path.join(out_dir, "best_config.json"), best_config(tuner))
    plot(rows, os.path.join(out_dir, "objective.png"), objective)
    return rows
