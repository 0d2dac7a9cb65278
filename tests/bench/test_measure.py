"""The comparison's parts: configs, machine measurements, time to target, claims, the report files."""
import csv
import dataclasses
import json

import numpy as np
import pytest

from keras_cls.bench import claims, hardware, measure, report
from keras_cls.bench.compare import CompareConfig
from keras_cls.bench.rows import Comparison, DataSummary, LatencyRow, ModelRow, SweepRow


def test_configs_reject_bad_input():
    with pytest.raises(ValueError, match=r"unknown runtime\(s\) \['onnx'\]; choose from tf, saved_model"):
        measure.MeasureConfig(runtimes=("tf", "onnx"))
    with pytest.raises(ValueError, match=r"unknown format\(s\) \['h5'\]"):
        measure.MeasureConfig(formats=("h5",))
    with pytest.raises(ValueError, match="batches must be >= 1"):
        measure.MeasureConfig(batches=(0,))
    with pytest.raises(ValueError, match="target_accuracy must be in"):
        measure.MeasureConfig(target_accuracy=95)
    with pytest.raises(ValueError, match="resnet-50"):  # the registry's error names the nearest variant
        CompareConfig(reference_models=("resnet50x",))


def test_peak_memory_sees_an_allocation():
    with hardware.PeakMemory() as peak:
        block = np.ones(300 * 2**20 // 8)  # 300 MiB, touched
        del block
    if peak.mb is None:
        pytest.skip("needs Linux's /proc/self/clear_refs (peak RSS reset) to be writable")
    assert 250 <= peak.mb <= 1000
    with hardware.PeakMemory() as quiet:
        sum(range(1000))
    assert quiet.mb < 100


def test_peak_is_the_best_kernel_at_several_sizes_at_start_and_end():
    peaks = hardware.matmul_gflops(sizes=(128, 256), seconds=0.2)
    assert set(peaks) == {"tensorflow matmul 128", "numpy matmul 128", "tensorflow matmul 256", "numpy matmul 256",
                          "tensorflow conv3x3 56x56x256"}
    # GFLOP/s: a core does a few, no machine here 100 TFLOP/s. One kernel alone can collapse while other processes
    # hold the cores (numpy's 128 matmul measured 0.2 beside two busy processes: its BLAS threads wait on each
    # other), which is why the peak is the best of several kernels.
    assert all(0 < p < 1e5 for p in peaks.values()) and max(peaks.values()) > 5, peaks
    # however short the time given, each kernel is timed once at least (no infinite time, no zero peak)
    assert all(p > 0 for p in hardware.matmul_gflops(sizes=(64,), seconds=0).values())
    best, source = hardware.peak(("start", {"numpy matmul 256": 90.0}), ("end", {"tensorflow conv3x3": 120.0}))
    assert (best, source) == (120.0, "tensorflow conv3x3 (end)")


def test_curve_and_time_to_target(tmp_path):
    with open(tmp_path / "log.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "accuracy", "epoch_seconds", "loss", "val_accuracy", "val_loss"])
        writer.writerow([0, 0.5, 10.0, 1.0, 0.5, 1.0])
        writer.writerow([1, 0.99, 99.0, 1.0, 0.99, 1.0])  # killed after logging; the resumed run redoes epoch 1
        for epoch, val in enumerate([0.8, 0.96, 0.97], start=1):
            writer.writerow([epoch, val, 10.0 + epoch, 1.0, val, 1.0])
    epochs = measure.curve(str(tmp_path))
    assert [e["seconds"] for e in epochs] == [10.0, 21.0, 33.0, 46.0]
    assert measure.time_to_target(epochs, 0.95) == (3, 33.0)
    assert measure.time_to_target(epochs, 0.99) == (None, None)
    assert measure.curve(str(tmp_path / "missing")) == []


def _result(b0_tf=40.0, source="digits"):
    """A comparison result as compare.run makes it, with chosen figures."""
    def model(name, role, family, mb, train, top1=None, seconds=None):
        return ModelRow(model=name, role=role, family=family, size=224 if role == "reference" else 32, params=5e6,
                        gmacs=0.4, activation_mb=1.0, mb=mb, infer_peak_mb=50.0, train_img_s=train, train_mfu=0.1,
                        train_peak_mb=300.0, top1=top1, top1_tflite_int8=top1,
                        epochs_to_target=5 if seconds else None, seconds_to_target=seconds,
                        start="scratch" if role == "trained" else None, recipe="fast" if role == "trained" else None)

    def lat(name, role, runtime, img_s):
        return LatencyRow(model=name, role=role, runtime=runtime, batch=1, p50_ms=1000 / img_s, p90_ms=1100 / img_s,
                          img_s=img_s, mfu=0.2)

    def sweep(name, family, ms, top1):
        return SweepRow(model=name, family=family, size=224, params=1e7, gmacs=1.0, p50_ms=ms, img_s=1000 / ms,
                        top1_published=top1, mfu=0.3, p25_ms=0.9 * ms, p75_ms=1.1 * ms)

    return Comparison(
        machine={"cpu": "test cpu", "cpus": 2, "tensorflow": "2", "keras": "3", "matmul_peak_gflops": 100.0},
        data=DataSummary(name=source, source=source, image_size=32, train_images=1262, skipped_inputs=0,
                         note="test data"),
        target_accuracy=0.95,
        models=[model("resnet-18", "trained", "resnet", {"keras": 43.0}, 250.0, 0.99, 60.0),
                model("efficientnet-b0", "trained", "efficientnet", {"keras": 16.0}, 300.0, 0.99, 90.0),
                model("efficientnet-b0", "reference", "efficientnet",
                      {"keras": 20.6, "tflite_float32": 20.2, "tflite_int8": 5.4}, 8.0),
                model("resnet-50", "reference", "resnet",
                      {"keras": 98.5, "tflite_float32": 97.4, "tflite_int8": 24.8}, 2.5)],
        latency=[lat("efficientnet-b0", "reference", "tf", b0_tf),
                 lat("efficientnet-b0", "reference", "tflite_int8", 90.0),
                 lat("resnet-50", "reference", "tf", 10.0), lat("resnet-50", "reference", "tflite_int8", 16.0),
                 lat("resnet-18", "trained", "tf", 200.0)],
        curves={"resnet-18": [{"epoch": 1, "seconds": 10.0, "val_accuracy": 0.9}],
                "efficientnet-b0": [{"epoch": 1, "seconds": 12.0, "val_accuracy": 0.8}]},
        sweep=[sweep("efficientnet-b0", "efficientnet", 25, 77.1), sweep("efficientnet-b1", "efficientnet", 40, 79.1),
               sweep("resnet-18", "resnet", 30, 69.8), sweep("resnet-50", "resnet", 100, 76.1),
               sweep("resnet-152", "resnet", 280, 78.3)],
        exports={})


def test_claims_verdicts_follow_the_measurements():
    rows = {r.claim.split()[0]: r for r in claims.check(_result())}
    assert len(claims.check(_result())) == len(claims.CLAIMS) == 8
    assert rows["EfficientNet-B0"].verdict == "holds" and "5.33M" in rows["EfficientNet-B0"].measured
    assert rows["FLOPs:"].verdict == "holds" and "resnet-152 11.51" in rows["FLOPs:"].measured
    size = rows["Model"]
    assert size.verdict == "holds in part" and "efficientnet-b0 ~5 MB matches tflite_int8" in size.why
    assert "resnet-50 ~98 MB matches keras / tflite_float32" in size.why
    assert rows["ImageNet"].verdict == "not measurable here" and "77.1%" in rows["ImageNet"].measured
    faster = [r for r in claims.check(_result()) if r.claim.startswith("EfficientNet has faster")][0]
    assert faster.verdict == "holds" and "tf 40.0 vs 10.0 (4.00x)" in faster.measured
    slower_tf = [r for r in claims.check(_result(b0_tf=5.0)) if r.claim.startswith("EfficientNet has")][0]
    assert slower_tf.verdict == "holds in part"
    assert rows["ResNet"].verdict == "holds" and "resnet-152 280 ms" in rows["ResNet"].measured
    training = [r for r in claims.check(_result()) if r.claim.startswith("EfficientNet trains")][0]
    assert training.verdict == "holds" and "efficientnet-b0 90 s / 5 epochs vs resnet-18 60 s" in \
        training.measured
    assert rows["CIFAR-10"].verdict == "not measurable here" and "--source cifar" in rows["CIFAR-10"].why
    assert [r for r in claims.check(_result(source="cifar")) if r.claim.startswith("CIFAR")][0].verdict == \
        "measured"


def test_claims_without_measurements_say_so():
    result = dataclasses.replace(_result(), models=[], latency=[], sweep=[])
    rows = claims.check(result)
    assert [r.verdict for r in rows][4:7] == ["not measurable here"] * 3
    assert "estimate" in rows[2].measured and "not measured in this run" in rows[2].measured


def test_report_writes_tables_plots_and_one_html_page(tmp_path):
    result = _result()
    result.claims = claims.check(result)
    paths = report.write(str(tmp_path), result)
    for kind in ("md", "html", "json", "models.csv", "latency.csv", "sweep.csv", "claims.csv"):
        assert (tmp_path / paths[kind].split("/")[-1]).stat().st_size > 0, kind
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == sorted(file for file, _ in report_plots())
    assert all((tmp_path / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs) and "src='accuracy" not in page
    md = (tmp_path / "report.md").read_text()
    assert all(c.claim in md for c in result.claims) and "| efficientnet-b0 | reference | random weights | 224 |" in md
    with open(tmp_path / "models.csv") as f:
        models = list(csv.DictReader(f))
    assert len(models) == 4 and models[3]["tflite_int8 MB"] == "24.80" and models[0]["top-1"] == "99.00%"
    assert models[0]["start"] == "scratch (fast)" and models[3]["start"] == "random weights"
    assert "TF b1 ms" in report.headline(result).splitlines()[0]
    saved = json.loads((tmp_path / "result.json").read_text())  # the typed rows, a key per field
    assert saved == json.loads(json.dumps(result.as_dict())) and saved["models"][3]["mb"]["tflite_int8"] == 24.8
    assert saved["claims"][0]["verdict"] == "holds" and saved["data"]["train_images"] == 1262


def report_plots():
    from keras_cls.bench import plots

    return plots.PLOTS.values()
