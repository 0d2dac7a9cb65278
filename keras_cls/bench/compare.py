"""The comparison job: train each family on the user's data, evaluate, quantize (int8), export for serving, measure
them and reference architectures on this machine, check the article's claims, and write the report.

`run(CompareConfig, DataConfig, MeasureConfig)` is what `make demo` (digits) and keras-cls compare (any data
source) call. A completed training run with the same settings is reused, so a second run only re-measures.
"""
import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Optional, Tuple

from keras_cls.bench import measure
from keras_cls.bench.rows import Comparison, DataSummary, LatencyRow, ModelRow, SweepRow

SWEEP = ("efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3",
         "resnet-18", "resnet-34", "resnet-50", "resnet-101", "resnet-152")


@dataclass(frozen=True)
class CompareConfig:
    models: Tuple[str, ...] = ("resnet-18", "efficientnet-b0")   # trained on the data, one per family or more
    epochs: int = 20                              # training epochs per model
    steps_per_epoch: Optional[int] = None         # None: one pass over the training split
    recipe: Optional[str] = None                  # None: "finetune" with weights, "fast" without
    weights: Optional[str] = None                 # start the trained models from these ("imagenet": keras.applications'
    #                                               EfficientNet files, torchvision's ResNet checkpoints)
    model_weights: Tuple[str, ...] = ()           # per model, <model>=<source> (a weights source, or "scratch"),
    #                                               e.g. resnet-18=timm:resnet18.a1_in1k,efficientnet-b0=scratch
    reference_models: Tuple[str, ...] = ("efficientnet-b0", "resnet-50")  # random weights, full measurement
    reference_size: Optional[int] = None          # None: each model's own resolution
    sweep: Tuple[str, ...] = SWEEP                # batch-1 TF latency only, against published ImageNet top-1
    sweep_repeats: int = 5                        # timed calls per sweep variant
    run_root: str = "runs/compare"                # training runs: <run_root>/<model>
    export_root: str = "saved_models"             # TF Serving model root the trained models go to
    report_dir: str = "reports/compare"           # report.md, report.html, CSV, JSON, plots

    def __post_init__(self):
        from keras_cls.models import get_spec

        for name in (*self.models, *self.reference_models, *self.sweep):
            get_spec(name)
        if self.epochs < 1 or self.sweep_repeats < 1:
            raise ValueError("epochs and sweep_repeats must be >= 1")
        self._per_model()

    def _per_model(self):
        """{variant: its weights source (None: scratch)} from model_weights, each checked before anything runs."""
        from keras_cls.models import get_spec
        from keras_cls.models.building import check_weights

        trained, table = [get_spec(m).name for m in self.models], {}
        for item in self.model_weights:
            name, _, source = item.partition("=")
            if not source:
                raise ValueError(f"model_weights: {item!r} is not <model>=<source> (a weights source or 'scratch')")
            spec = get_spec(name)
            if spec.name not in trained:
                raise ValueError(f"model_weights: {spec.name} is not one of the trained models {trained}")
            table[spec.name] = None if source == "scratch" else source
            check_weights(spec, table[spec.name])
        return table

    def weights_for(self, name):
        """The weights a trained model starts from (None: from scratch): its own in model_weights, else weights."""
        from keras_cls.models import get_spec

        return self._per_model().get(get_spec(name).name, self.weights)

    def recipe_for(self, name):
        return self.recipe or ("finetune" if self.weights_for(name) else "fast")


def _completed(run_dir, name, config, data_config):
    """True when run_dir holds a finished run with the same model, epochs, steps, recipe, weights and data."""
    try:
        with open(os.path.join(run_dir, "metrics.json")) as f:
            done = json.load(f).get("status") == "completed"
        with open(os.path.join(run_dir, "config.json")) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return False
    train = saved.get("train", {})
    same = all(train.get(k) == v for k, v in (("epochs", config.epochs), ("steps_per_epoch", config.steps_per_epoch),
                                               ("recipe", config.recipe_for(name)),
                                               ("weights", config.weights_for(name))))
    return done and same and saved.get("data") == json.loads(json.dumps(dataclasses.asdict(data_config)))


def train(name, config, data_config, log):
    from keras_cls.train import TrainConfig, Trainer
    from keras_cls.train.callbacks import EpochLine

    run_dir = os.path.join(config.run_root, name)
    if _completed(run_dir, name, config, data_config):
        log(f"  {name}: reusing the completed run in {run_dir}")
        return run_dir
    start = f"from {config.weights_for(name)} weights" if config.weights_for(name) else "from scratch"
    log(f"  {name}: training {config.epochs} epochs at {data_config.image_size} px ({config.recipe_for(name)} "
        f"recipe, {start}) ...")
    metrics = Trainer(TrainConfig(model=name, run_dir=run_dir, epochs=config.epochs, recipe=config.recipe_for(name),
                                  steps_per_epoch=config.steps_per_epoch, weights=config.weights_for(name),
                                  verbose=0),
                      data_config).run(callbacks=[EpochLine(log, config.epochs, prefix=f"    {name} ")])
    log(f"  {name}: test top-1 {100 * metrics['top1']:.2f}% in {metrics['train_seconds']} s")
    return run_dir


def measure_model(model, role, config, peak_gflops, out_dir, *, saved_model_path=None, data=None, contract=None,
                  run_dir=None, class_names=None, calibration=None, **row_fields):
    """(ModelRow, LatencyRows, training curve) for one model; `row_fields`: its start and recipe. `contract`: the
    trained model's (its run's; `data` evaluated under it), None for the default at the model's input size."""
    from keras_cls.export import saved_model
    from keras_cls.models import flops, get_spec

    counts = flops.count_model(model)
    gmacs, size = counts.macs / 1e9, model.input_shape[1]
    row = {"model": model.name, "role": role, "family": get_spec(model.name).family, "size": size,
           "params": model.count_params(), "gmacs": gmacs, "activation_mb": counts.activation_bytes / 2**20}
    with tempfile.TemporaryDirectory() as workdir:
        lite = measure.tflite_files(model, config, out_dir, calibration, class_names, contract)
        row["mb"] = measure.sizes_mb(model, config, lite, workdir)
        if "saved_model" in config.runtimes and saved_model_path is None:
            saved_model_path = saved_model(model, root=workdir, class_names=class_names, preprocessing=contract)
        row["infer_peak_mb"] = measure.inference_peak_mb(model, config)
        row.update(measure.training(model, config, gmacs, peak_gflops))
        candidates = measure.runtimes(model, config, lite, saved_model_path)
        latency = [LatencyRow(**r, role=role)
                   for r in measure.latency_rows(model.name, candidates, config, size, gmacs, peak_gflops)]
    if data is not None:
        name = "test" if data.test is not None else "validation"
        row.update(measure.top1(model, {k: v for k, v in lite.items() if k == "tflite_int8"}, getattr(data, name),
                                data.raw[name]))
    epochs = measure.curve(run_dir) if run_dir else []
    row["epochs_to_target"], row["seconds_to_target"] = measure.time_to_target(epochs, config.target_accuracy)
    return ModelRow(**row, **row_fields), latency, epochs


def sweep(names, size, repeats, peak_gflops, log, spread=0.1, max_rounds=4):
    """Batch-1 TF-graph latency of many variants (random weights), with their published ImageNet top-1. All variants
    are timed in turns (keras_cls.latency.interleaved: the order reversed every round), so that a drift in the
    machine's load hits them alike; rounds of `repeats` calls are added until each median's interquartile range is
    within `spread` of it (at most `max_rounds`); the quartiles are kept (error bars in the plot)."""
    import keras

    from keras_cls.latency import Timing, compiled_call, interleaved
    from keras_cls.models import build, flops, model_info

    infos = {name: model_info(name) for name in names}
    sizes = {name: size or info["resolution"] for name, info in infos.items()}
    candidates = {name: (lambda _, call=compiled_call(build(name, input_shape=(px, px, 3))),
                         x=measure.images(1, px): call(x)) for name, px in sizes.items()}
    seconds = {name: [] for name in names}
    for round_ in range(max_rounds):
        for name, timing in interleaved(candidates, measure.images(1, 1), repeats, warmup=2 * (round_ == 0)).items():
            seconds[name] += timing.seconds
        if all(_spread(Timing(1, s)) <= spread for s in seconds.values()):
            break
    rows = []
    for name, info in infos.items():
        t, gmacs = Timing(1, seconds[name]), flops.count(name, sizes[name]).macs / 1e9
        q1, _, q3 = t.quartiles_ms
        rows.append(SweepRow(model=name, family=info["family"], size=sizes[name], params=info["params"], gmacs=gmacs,
                             p50_ms=t.median_ms, img_s=t.images_per_s, top1_published=info["imagenet_top1_published"],
                             mfu=gmacs * 2 * t.images_per_s / peak_gflops, p25_ms=q1, p75_ms=q3))
        log(f"  sweep {name} ({sizes[name]} px): {t.median_ms:.1f} ms (quartiles {q1:.1f}-{q3:.1f}, "
            f"{len(t.seconds)} calls)")
    keras.backend.clear_session()
    return rows


def _spread(timing):
    """Interquartile range over the median (infinite with fewer than 3 calls: not yet known)."""
    q1, median, q3 = timing.quartiles_ms
    return (q3 - q1) / median if len(timing.seconds) >= 3 else float("inf")


def _trained(config, data_for, measure_config, peak, log):
    from keras_cls.compress.run import first_images
    from keras_cls.export import saved_model, write_models_config
    from keras_cls.export.trained import data_for as contract_data, load_trained

    models, latency, curves, exports = [], [], {}, {}
    for name in config.models:
        data_config, data = data_for(name)
        calibration = first_images(data.validation if data.validation is not None else data.train,
                                   measure_config.calibration_images)
        run_dir = train(name, config, data_config, log)
        trained = load_trained(os.path.join(run_dir, "model.keras"))
        model, class_names, contract = trained.model, trained.class_names, trained.preprocessing
        contract_data(trained, data_config)  # the data it is measured on is evaluated under the run's contract
        exports[name] = saved_model(model, root=config.export_root, name=name, class_names=class_names,
                                    preprocessing=contract)
        log(f"  {name}: exported {exports[name]}; measuring ...")
        row, lat, curves[name] = measure_model(model, "trained", measure_config, peak, run_dir,
                                               saved_model_path=exports[name], data=data, contract=contract,
                                               run_dir=run_dir, class_names=class_names, calibration=calibration,
                                               start=config.weights_for(name) or "scratch",
                                               recipe=config.recipe_for(name))
        models.append(row)
        latency += lat
    if exports:
        write_models_config(config.export_root)
    return models, latency, curves, exports


def _reference(config, measure_config, peak, log):
    from keras_cls.models import build, model_info

    models, latency = [], []
    for name in config.reference_models:
        px = config.reference_size or model_info(name)["resolution"]
        log(f"  {name} at {px} px (random weights): converting, timing, training steps ...")
        with tempfile.TemporaryDirectory() as out_dir:
            row, lat, _ = measure_model(build(name, input_shape=(px, px, 3)), "reference", measure_config, peak,
                                        out_dir)
        models.append(row)
        latency += lat
    return models, latency


def progress():
    """A log function that prints each message after the minutes since it was made."""
    start = time.perf_counter()
    return lambda message: print(f"[{(time.perf_counter() - start) / 60:4.1f} min] {message}", flush=True)


def _rescale_mfu(models, latency, sweep_rows, factor):
    """MFU figures computed against the start's peak, set against the final (best of start and end) one."""
    for row in latency + sweep_rows:
        if row.mfu is not None:
            row.mfu *= factor
    for row in models:
        row.train_mfu *= factor


def _data_per_model(names, data_config):
    """name -> (its DataConfig, its loaded data): each model at data_config.image_size, or at its own resolution
    when that is None; one load per distinct size."""
    from keras_cls.data import pipeline
    from keras_cls.models import get_spec

    loaded = {}

    def data_for(name):
        resolved = data_config.for_model(get_spec(name).resolution)
        if resolved not in loaded:
            loaded[resolved] = pipeline.load(resolved, one_hot=True)
        return resolved, loaded[resolved]
    return data_for


def run(config, data_config, measure_config=None, log=print):
    """The whole job; returns the Comparison and the report's file paths."""
    from keras_cls.bench import claims, hardware, report

    measure_config = measure_config or measure.MeasureConfig()
    data_for = _data_per_model(config.models, data_config)
    data = data_for(config.models[0])[1]  # first: a wrong path or a bad folder is named at once
    log(f"data: {data.note}")
    log("measuring this machine's float32 peak (matmul at several sizes, 3x3 convolution) ...")
    start_peaks = hardware.matmul_gflops(seconds=measure_config.peak_seconds)
    peak, _ = hardware.peak(("start", start_peaks))
    log(f"  best {peak:.1f} GFLOP/s")
    trained, latency, curves, exports = _trained(config, data_for, measure_config, peak, log)
    log("reference architectures:")
    reference, ref_latency = _reference(config, measure_config, peak, log)
    log("latency sweep:")
    sweep_rows = sweep(config.sweep, config.reference_size, config.sweep_repeats, peak, log)
    # again at the end: the MFU denominator is the best of both
    end_peaks = hardware.matmul_gflops(seconds=measure_config.peak_seconds)
    final, source = hardware.peak(("start", start_peaks), ("end", end_peaks))
    _rescale_mfu(trained + reference, latency + ref_latency, sweep_rows, peak / final)
    log(f"peak used for MFU: {final:.1f} GFLOP/s, {source}")
    result = Comparison(
        machine={**hardware.machine(), "matmul_peak_gflops": final, "peak_source": source,
                 "matmul_gflops": {"start": start_peaks, "end": end_peaks}},
        data=DataSummary(name=data_config.path or data_config.source, source=data_config.source,
                         image_size=data_config.image_size, train_images=data.sizes.get("train"),
                         skipped_inputs=len(data.report.skipped), note=data.note),
        target_accuracy=measure_config.target_accuracy, models=trained + reference, latency=latency + ref_latency,
        sweep=sweep_rows, curves=curves, exports=exports,
        config={"compare": dataclasses.asdict(config), "data": dataclasses.asdict(data_config),
                "measure": dataclasses.asdict(measure_config)})
    result.claims = claims.check(result)
    return result, report.write(config.report_dir, result)
