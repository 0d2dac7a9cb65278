"""The comparison's plots (matplotlib, Agg) of a Comparison (keras_cls.bench.rows): accuracy vs latency, accuracy
vs GMACs, size per runtime, MFU per runtime, training curves. Colours by family, the same in every plot."""
import os

from keras_cls import files

PALETTE = ("tab:green", "tab:blue", "tab:orange", "tab:purple", "tab:brown")  # by family, in registry order


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    fig.tight_layout()
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    _pyplot().close(fig)
    return path


def colour(family):
    """A family's colour, the same in every plot."""
    from keras_cls.models.registry import FAMILIES

    order = list(FAMILIES)
    return PALETTE[order.index(family) % len(PALETTE)] if family in order else "tab:olive"


def _family(name):
    from keras_cls.models import get_spec

    return get_spec(name).family


MARKERS = {"tf": "o", "saved_model": "D", "tflite_float32": "^", "tflite_int8": "s"}


def _trained_panel(ax, result):
    """Top-1 of each trained model against its batch-1 latency per runtime (int8 with the int8 file's top-1)."""
    from matplotlib.lines import Line2D

    trained = [r for r in result.models if r.role == "trained" and r.top1 is not None]
    colours = {}
    for r in trained:
        own = colour(r.family)
        colours[r.model] = own if own not in colours.values() else f"C{len(colours) + 2}"
        for x in result.latency:
            if x.model == r.model and x.role == "trained" and x.batch == 1:
                top1 = r.top1_tflite_int8 if x.runtime == "tflite_int8" else r.top1
                if top1 is not None:
                    ax.scatter(x.p50_ms, 100 * top1, color=colours[r.model], marker=MARKERS[x.runtime], s=60,
                               alpha=0.8)
    runtimes = sorted({x.runtime for x in result.latency if x.role == "trained"}, key=list(MARKERS).index)
    handles = [Line2D([], [], color=c, marker="o", linestyle="", label=m) for m, c in colours.items()] + \
        [Line2D([], [], color="grey", marker=MARKERS[rt], linestyle="", label=rt) for rt in runtimes]
    ax.legend(handles=handles, fontsize=8)
    ax.set(xlabel="batch-1 latency, ms (measured here)", ylabel="test top-1, % (trained here)",
           title=f"on {result.data.name} at {result.data.image_size or 'each model’s own'} px")


def accuracy_vs_latency(result, path):
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    _trained_panel(left, result)
    for family in dict.fromkeys(r.family for r in result.sweep):
        rows = sorted((r for r in result.sweep if r.family == family), key=lambda r: r.p50_ms)
        right.errorbar([r.p50_ms for r in rows], [r.top1_published for r in rows], fmt="o-", color=colour(family),
                       xerr=[[r.p50_ms - r.p25_ms for r in rows], [r.p75_ms - r.p50_ms for r in rows]], capsize=3,
                       label=family)
        for r in rows:
            right.annotate(r.model.split("-", 1)[1], (r.p50_ms, r.top1_published), fontsize=8, xytext=(3, 3),
                           textcoords="offset points")
    right.set(xlabel="batch-1 latency, ms (TF graph, measured here, interleaved; bars: quartiles)",
              ylabel="ImageNet top-1, % (published)", title="ImageNet accuracy vs latency on this machine")
    if result.sweep:
        right.legend()
    return _save(fig, path)


def accuracy_vs_gmacs(result, path):
    from keras_cls.models import list_models, model_info

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.6))
    for family, prefix in (("efficientnet", "efficientnet-b"), ("efficientnetv2", "efficientnetv2-"),
                           ("resnet", "resnet-")):
        infos = sorted((model_info(n) for n in list_models() if n.startswith(prefix)), key=lambda i: i["gmacs"])
        infos = [i for i in infos if i["imagenet_top1_published"]]
        ax.plot([i["gmacs"] for i in infos], [i["imagenet_top1_published"] for i in infos], "o-",
                color=colour(family), label=family)
        for i in infos:
            ax.annotate(i["name"].split("-", 1)[1], (i["gmacs"], i["imagenet_top1_published"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set(xlabel="GMACs at the model's resolution (counted by keras_cls)", ylabel="ImageNet top-1, % (published)",
           title="accuracy vs compute")
    ax.legend()
    return _save(fig, path)


def _grouped_bars(ax, groups, series, values, ylabel, title):
    width = 0.8 / max(len(series), 1)
    for k, name in enumerate(series):
        xs = [i + k * width for i in range(len(groups))]
        ax.bar(xs, [values.get((g, name), 0) for g in groups], width, label=name)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))], groups, rotation=15, fontsize=8)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=8)


def size_per_format(result, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.4))
    groups = [f"{r.model} ({r.role}, {r.size} px)" for r in result.models]
    values = {(g, f): r.mb[f] for g, r in zip(groups, result.models) for f in r.mb}
    _grouped_bars(ax, groups, result.formats(), values, "MB", "file size per format")
    return _save(fig, path)


def mfu_per_runtime(result, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.4))
    rows = [r for r in result.latency if r.role == "reference" and r.mfu is not None] or \
        [r for r in result.latency if r.mfu is not None]  # int8 runtimes have speed-ups, not MFU
    groups = list(dict.fromkeys(f"{r.model} b{r.batch}" for r in rows))
    runtimes = list(dict.fromkeys(r.runtime for r in rows))
    values = {(f"{r.model} b{r.batch}", r.runtime): 100 * r.mfu for r in rows}
    _grouped_bars(ax, groups, runtimes, values, "% of the float32 matmul peak",
                  f"model FLOP utilisation (peak {result.machine['matmul_peak_gflops']:.0f} GFLOP/s)")
    return _save(fig, path)


def training_curves(result, path):
    plt = _pyplot()
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    for name, epochs in result.curves.items():
        if not epochs:
            continue
        line = colour(_family(name))
        acc = [100 * e.get("val_accuracy", float("nan")) for e in epochs]
        by_epoch.plot([e["epoch"] for e in epochs], acc, "o-", color=line, label=name, markersize=3)
        by_time.plot([e["seconds"] for e in epochs], acc, "o-", color=line, label=name, markersize=3)
    target = 100 * result.target_accuracy
    for ax, xlabel in ((by_epoch, "epoch"), (by_time, "training seconds (wall, incl. validation)")):
        ax.axhline(target, color="grey", linestyle=":", label=f"target {target:.0f}%")
        ax.set(xlabel=xlabel, title=f"validation accuracy on {result.data.name}")
        ax.legend(fontsize=8)
    by_epoch.set_ylabel("validation accuracy, %")
    return _save(fig, path)


PLOTS = {"accuracy vs latency": ("accuracy_vs_latency.png", accuracy_vs_latency),
         "accuracy vs GMACs": ("accuracy_vs_gmacs.png", accuracy_vs_gmacs),
         "size per format": ("size_per_format.png", size_per_format),
         "MFU per runtime": ("mfu_per_runtime.png", mfu_per_runtime),
         "training curves": ("training_curves.png", training_curves)}


def write_all(out_dir, result):
    """{plot name: path} of every plot."""
    return {name: fn(result, os.path.join(out_dir, file)) for name, (file, fn) in PLOTS.items()}
