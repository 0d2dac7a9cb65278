"""Train a keras_cls model: flags (or --config) -> TrainConfig + DataConfig -> Trainer.run().

Example: keras-cls train --model resnet-18 --source digits --image_size 32 --epochs 20 --recipe fast
"""
import json
import os

from absl import flags

from keras_cls import configflags
from keras_cls.commands import fail, start_tensorflow
from keras_cls.data.config import DataConfig
from keras_cls.train.config import TrainConfig

configflags.define(TrainConfig, DataConfig)
flags.DEFINE_boolean("onednn", None, "set TF_ENABLE_ONEDNN_OPTS (oneDNN kernels) before TensorFlow starts")


def main(argv):
    del argv
    if flags.FLAGS.onednn is not None:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if flags.FLAGS.onednn else "0"
    try:
        configs = configflags.config_from_flags(TrainConfig, "train"), configflags.config_from_flags(DataConfig, "data")
    except ValueError as e:
        fail("train", e)
    start_tensorflow()  # after TF_ENABLE_ONEDNN_OPTS is set: TensorFlow reads it when it starts
    from keras_cls.train import Trainer, TrainingDiverged, WorkerLost

    try:
        metrics = Trainer(*configs).run()
    except (ValueError, TrainingDiverged, WorkerLost) as e:
        fail("train", e)
    print(json.dumps(metrics, indent=1))

