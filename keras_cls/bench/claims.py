"""The source article's claims, each checked against what this run measured (or counted) on this machine.

A check returns (measured, verdict, why). Verdicts: "holds", "does not hold", "holds in part", "not measurable
here". Parameter and GMAC counts come from the builders (analytic, exact); sizes, speeds and accuracies come from
the comparison's measured rows (keras_cls.bench.rows) and say which rows.
"""
from keras_cls.bench.rows import Claim

HOLDS, FAILS, PART, NOT_HERE = "holds", "does not hold", "holds in part", "not measurable here"


def _near(value, claimed, tolerance=0.1):
    return abs(value - claimed) <= tolerance * claimed


def _info(name):
    from keras_cls.models import model_info

    return model_info(name)


def _pct(value):
    return "none" if value is None else f"{value:.1f}%"


def _img_s(result, name, runtime, batch=1):
    return next((r.img_s for r in result.latency if r.model == name and r.runtime == runtime
                 and r.batch == batch and r.role == "reference"), None)


def params(result):
    b0, r50 = _info("efficientnet-b0"), _info("resnet-50")
    measured = (f"B0 {b0['params'] / 1e6:.2f}M; ResNet-50 {r50['params_without_top'] / 1e6:.2f}M without top, "
                f"{r50['params'] / 1e6:.2f}M with it (v1.5; BN statistics included)")
    ok = _near(b0["params"], 5.3e6, 0.02) and _near(r50["params_without_top"], 23e6, 0.05) and \
        _near(r50["params"], 25.6e6, 0.02)
    return measured, HOLDS if ok else FAILS, "counted from the builders; equal to keras.applications/torchvision"


def flops(result):
    got = {n: _info(n)["gmacs"] for n in ("efficientnet-b0", "efficientnet-b7", "resnet-50", "resnet-152")}
    claimed = {"efficientnet-b0": 0.4, "efficientnet-b7": 37, "resnet-50": 4, "resnet-152": 11}
    measured = ", ".join(f"{n} {v:.2f}" for n, v in got.items()) + " GMACs at each model's own resolution"
    ok = all(_near(got[n], claimed[n], 0.1) for n in got)
    return measured, HOLDS if ok else FAILS, ("as multiply-adds, the papers' 'FLOPs'; in FLOPs (2 per MAC) "
                                              "each figure doubles")


def size(result):
    parts, matches = [], []
    for name, claimed in (("efficientnet-b0", 5), ("resnet-50", 98)):
        row = result.model_row(name, "reference")
        params = _info(name)["params"]
        sizes = row.mb if row and row.mb else {"float32 estimate (4 bytes/param)": 4 * params / 2**20,
                                                     "int8 estimate (1 byte/param)": params / 2**20}
        near = [fmt for fmt, mb in sizes.items() if _near(mb, claimed, 0.25)]  # "~" read as +-25%
        parts.append(f"{name}: " + ", ".join(f"{fmt} {mb:.1f} MB" for fmt, mb in sizes.items()))
        matches.append((name, claimed, near))
    float32 = all(any("float32" in fmt or fmt == "keras" for fmt in near) for _, _, near in matches)
    verdict = HOLDS if float32 else PART if all(near for _, _, near in matches) else FAILS
    why = "; ".join(f"{name} ~{claimed} MB matches " + (" / ".join(near) or "none of the formats")
                    for name, claimed, near in matches)
    return "; ".join(parts) + ("" if any(result.model_row(n, "reference") for n in ("efficientnet-b0", "resnet-50"))
                               else " (not measured in this run)"), verdict, why


def imagenet(result):
    from keras_cls.models.registry import reference

    names = ("efficientnet-b0", "efficientnet-b7", "resnet-50", "resnet-152")
    measured = "published: " + ", ".join(f"{n} {reference(n)['imagenet_top1_published']:.1f}%" for n in names)
    return measured, NOT_HERE, ("needs the ImageNet validation set (50,000 images) and ImageNet weights: "
                                "EfficientNet loads keras.applications' files (--weights imagenet); ResNet v1.5 "
                                "weights must be given as a file. Training them needs ~1.3M images and GPU-days")


def inference(result):
    rows = [(rt, _img_s(result, "efficientnet-b0", rt), _img_s(result, "resnet-50", rt))
            for rt in ("tf", "saved_model", "tflite_float32", "tflite_int8")]
    rows = [(rt, b0, r50) for rt, b0, r50 in rows if b0 and r50]
    if not rows:
        return "B0 and ResNet-50 not both measured in this run", NOT_HERE, "add both to --reference_models"
    ratio = _info("resnet-50")["gmacs"] / _info("efficientnet-b0")["gmacs"]
    faster = [rt for rt, b0, r50 in rows if b0 > r50]
    measured = "batch 1, B0 vs ResNet-50 img/s: " + ", ".join(f"{rt} {b0:.1f} vs {r50:.1f} ({b0 / r50:.2f}x)"
                                                              for rt, b0, r50 in rows)
    verdict = HOLDS if len(faster) == len(rows) else PART if faster else FAILS
    return measured, verdict, (f"B0 has {ratio:.1f}x fewer MACs at a higher published top-1 (77.1 vs 76.1%); "
                               "its speedup is smaller than the MAC ratio (depthwise convolutions and many small "
                               "layers use the CPU less well; see the MFU column)")


def deeper_resnets(result):
    sweep = {r.model: r for r in result.sweep}
    resnets = sorted((r for r in sweep.values() if r.family == "resnet"), key=lambda r: r.gmacs)
    effs = [r for r in sweep.values() if r.family == "efficientnet"]
    if len(resnets) < 2 or not effs:
        return "no latency sweep over both families in this run", NOT_HERE, "set --sweep to both families"
    slowdown = all(a.p50_ms < b.p50_ms for a, b in zip(resnets, resnets[1:]))
    budget = max(r.p50_ms for r in effs)
    best = {fam: max((r.top1_published for r in sweep.values() if r.family == fam and r.p50_ms <= budget),
                     default=None) for fam in ("efficientnet", "resnet")}
    measured = ("batch-1 TF latency: " + ", ".join(f"{r.model} {r.p50_ms:.0f} ms" for r in resnets) +
                f"; within {budget:.0f} ms the best published top-1: EfficientNet {_pct(best['efficientnet'])}, "
                f"ResNet {_pct(best['resnet'])}")
    suited = best["resnet"] is None or (best["efficientnet"] or 0) > best["resnet"]
    verdict = HOLDS if slowdown and suited else PART if slowdown or suited else FAILS
    return measured, verdict, "latency measured here; accuracies are the published ImageNet figures"


def training(result):
    b0, r50 = result.model_row("efficientnet-b0", "reference"), result.model_row("resnet-50", "reference")
    trained = [r for r in result.models if r.role == "trained" and r.seconds_to_target]
    parts, checks = [], []
    if b0 and r50:
        parts.append(f"training at {b0.size} px: B0 {b0.train_img_s:.1f} img/s vs ResNet-50 {r50.train_img_s:.1f}")
        checks.append(b0.train_img_s > r50.train_img_s)
    eff = [r for r in trained if r.family == "efficientnet"]
    res = [r for r in trained if r.family == "resnet"]
    if eff and res:
        e, r = eff[0], res[0]
        parts.append(f"on {result.data.name} ({result.data.train_images} training images) to "
                     f"{100 * result.target_accuracy:.0f}% validation: {e.model} {e.seconds_to_target:.0f} s "
                     f"/ {e.epochs_to_target} epochs vs {r.model} {r.seconds_to_target:.0f} s / "
                     f"{r.epochs_to_target} epochs")
        checks.append(e.seconds_to_target > r.seconds_to_target)  # the "slower on small datasets" half
    if not checks:
        return "no training measurements in this run", NOT_HERE, "train both families (--models) or measure both"
    verdict = HOLDS if all(checks) else PART if any(checks) else FAILS
    return "; ".join(parts), verdict, ("first half: training throughput per image; second half: wall time to the "
                                       "target on this run's data, one seed per model (noisy: see the curves)")


def cifar10(result):
    rows = [r for r in result.models if r.role == "trained" and r.top1 is not None]
    if result.data.source == "cifar" and rows:
        measured = ", ".join(f"{r.model} {100 * r.top1:.1f}% (from {r.start or 'scratch'})" for r in rows)
        return measured, "measured", ("on the CIFAR files of this run; compare with 97% (B0) and 95.5% "
                                      "(ResNet-50), which are fine-tuned from ImageNet weights")
    return ("not run: no CIFAR-10 files given", NOT_HERE,
            "fine-tuned ImageNet models: run keras-cls compare --source cifar --path <cifar-10-batches-py> "
            "--image_size 224 --models efficientnet-b0,resnet-50 --weights imagenet --epochs 10 (keras.applications' "
            "EfficientNet and torchvision's ResNet weights, finetune recipe; needs the internet once)")


CLAIMS = (
    ("EfficientNet-B0 has ~5.3M parameters; ResNet-50 ~23M (~25.6M with its top)", params),
    ("FLOPs: ~0.4B for B0, ~37B for B7; ~4B for ResNet-50, ~11B for ResNet-152", flops),
    ("Model size: EfficientNet-B0 ~5 MB; ResNet-50 ~98 MB", size),
    ("ImageNet top-1: 77.1% (B0) to 84.4% (B7); 76.2% (ResNet-50) to 78.3% (ResNet-152)", imagenet),
    ("EfficientNet has faster inference due to fewer FLOPs for comparable accuracy", inference),
    ("ResNet is slower for deeper variants and less suited to strict latency budgets", deeper_resnets),
    ("EfficientNet trains faster with fewer parameters, but trains slower on small datasets", training),
    ("CIFAR-10 (transfer from ImageNet): B0 ~97%, ResNet-50 ~95.5%", cifar10),
)


def check(result):
    """One Claim per claim of the article, checked against a rows.Comparison."""
    return [Claim(claim, *fn(result)) for claim, fn in CLAIMS]
