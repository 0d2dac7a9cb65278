"""EfficientNet vs ResNet on your data and this machine: train each model, evaluate, quantize to int8, export for
TF Serving, measure (sizes, latency per runtime, training throughput, memory, MFU), check the article's claims,
and write the report (Markdown, HTML, CSV, JSON, plots) to --report_dir.

Example (an image folder, one sub-folder per class):
  keras-cls compare --source folder --path flowers/ --image_size 128 --epochs 10 \
      --run_root runs/flowers --report_dir reports/flowers
`make demo` runs the same job on the embedded digits (keras-cls demo).
"""

from absl import logging

from keras_cls import configflags
from keras_cls.bench.compare import CompareConfig
from keras_cls.bench.measure import MeasureConfig
from keras_cls.commands import fail, start_tensorflow
from keras_cls.data.config import DataConfig

configflags.define(CompareConfig, MeasureConfig, DataConfig)


def configs():
    return (configflags.config_from_flags(CompareConfig, "compare"), configflags.config_from_flags(DataConfig, "data"),
            configflags.config_from_flags(MeasureConfig, "measure"))


def report(result, paths):
    from keras_cls.bench.report import headline

    print("\n" + headline(result))
    print("\nclaims: " + "; ".join(c.verdict for c in result.claims))
    print(f"\nreport: {paths['md']} and {paths['html']} (tables, plots, claims check); CSV and result.json beside")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the progress
    try:
        config, data_config, measure_config = configs()
        start_tensorflow()
        from keras_cls.bench import compare

        result, paths = compare.run(config, data_config, measure_config, log=compare.progress())
    except (ValueError, OSError) as e:
        fail("compare", e)
    report(result, paths)

