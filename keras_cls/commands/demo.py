"""The main job on the embedded default data (scikit-learn's digits), end to end, with progress output:
the variant table, scikit-learn's SVC as a baseline, then the comparison job (keras-cls compare): resnet-18 and
efficientnet-b0 trained from scratch with the fast recipe, evaluated, quantized to int8 TFLite, exported to
saved_models/ for TF Serving, measured beside ResNet-50 and EfficientNet-B0 at 224 px, the article's claims checked,
and the report (Markdown, HTML, CSV, JSON, plots) written to reports/demo/. Then real weights on real photos:
EfficientNet-Lite0 fine-tuned from Google's ImageNet checkpoint against the same network from scratch, the same
epochs, on scikit-image's LFW photos (a face or not; --photo_epochs 0 leaves it out).

Every flag of `keras-cls compare` works here too (e.g. --epochs 5 for a quick look).
"""
import time

from absl import flags, logging

from keras_cls import configflags
from keras_cls.bench.compare import CompareConfig
from keras_cls.bench.measure import MeasureConfig
from keras_cls.commands import fail, start_tensorflow
from keras_cls.data.config import DataConfig

configflags.define(CompareConfig, MeasureConfig, DataConfig)
# The demo's budget (<= 12 minutes on a 2-core machine, setup included): 10 epochs (both families pass 95% validation
# by epoch 6-10), no float16 files (their size is half the float32 file's; make bench measures them) and a sweep
# without the largest variants (make bench sweeps B0-B7 and ResNet-18-152).
DEMO = {"run_root": "runs/demo", "report_dir": "reports/demo", "image_size": "32", "pad_crop": "4", "eval_crop": "1.0",
        "epochs": "10", "batches": ["1", "8"], "train_batch": "8", "train_steps": "2", "repeats": "8",
        "batch_repeats": "3", "formats": ["keras", "tflite_float32", "tflite_int8"],
        "sweep": ["efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "resnet-18", "resnet-34", "resnet-50",
                  "resnet-101"]}
for _name, _value in DEMO.items():
    flags.FLAGS.set_default(_name, _value)
flags.DEFINE_integer("photo_epochs", 3, "epochs of the real-photo fine-tune, each arm (0: leave it out)", lower_bound=0)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the progress
    from keras_cls.models.info import variant_table

    start = time.perf_counter()
    try:
        config = configflags.config_from_flags(CompareConfig, "compare")
        data_config = configflags.config_from_flags(DataConfig, "data")
        measure_config = configflags.config_from_flags(MeasureConfig, "measure")
        print("keras_cls variants (counted analytically from the builders; GMACs at the default resolution)\n")
        print(variant_table(), "\n", flush=True)
        start_tensorflow()
        from keras_cls.bench import compare, digits
        from keras_cls.bench.report import headline

        svc = digits.svc_baseline()
        print(f"baseline: {svc['model']} test top-1 {100 * svc['top1']:.2f}% ({svc['train_seconds']} s)\n",
              flush=True)
        result, paths = compare.run(config, data_config, measure_config, log=compare.progress())
    except (ValueError, OSError) as e:
        fail("demo", e)
    print("\n" + headline(result))
    print("\n" + "\n".join(f"- {c.verdict}: {c.claim}" for c in result.claims))
    if result.exports:
        print(f"\nSavedModels (TF Serving layout): {', '.join(result.exports.values())}; int8 TFLite files: "
              f"{config.run_root}/<model>/model_int8.tflite")
        print(f"try: keras-cls predict --model={config.export_root}/{config.models[0]} <image files>")
    if flags.FLAGS.photo_epochs:
        _real_photos(config.run_root, flags.FLAGS.photo_epochs)
    print(f"\nreport: {paths['md']} and {paths['html']} ({time.perf_counter() - start:.0f} s in all)")


def _real_photos(run_root, epochs):
    """Lite0 from the ImageNet checkpoint against scratch on LFW (keras_cls/bench/photos.py), one seed an arm."""
    import os

    from keras_cls.bench import photos

    print(f"\nreal weights, real photos: {photos.MODEL} from ImageNet vs from scratch, {epochs} epochs each on "
          f"{photos.LFW.source} ({photos.TASKS['lfw']})", flush=True)
    try:
        rows = photos.fine_tune(os.path.join(run_root, "photos"), epochs, None, 1, data=photos.LFW, int8=False,
                                log=lambda line: print(f"  {line}", flush=True))
    except ValueError as e:  # the Lite0 checkpoint's or scikit-image's package missing: the main job is done
        print(f"  left out: {e}")
        return
    top1 = {row["start"]: 100 * row["top1"] for row in rows}
    print(f"  test top-1: pretrained {top1['pretrained']:.1f}%, scratch {top1['scratch']:.1f}% "
          f"({top1['pretrained'] - top1['scratch']:+.1f} points)")

