"""One worker of tests/train/test_processes.py's multi-worker run (TF_CONFIG names it): it records the ids of the
examples it is handed in one epoch of the pipeline the multi-worker loop steps through, then trains with the
Trainer on the same strategy (a process makes its multi-worker strategy once), ending as `keras-cls train` does.

Usage: python multiworker_worker.py <run_dir> <ids.json>"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_cls.commands import fail  # noqa: E402
from keras_cls.data import DataConfig, load  # noqa: E402
from keras_cls.train import TrainConfig, Trainer, WorkerLost, multiworker  # noqa: E402

IDS, BATCH = 64, 8


def record_ids(strategy):
    """The labels (= example ids: each of the 64 images is its own class) this worker trains on in one epoch."""
    images = np.random.default_rng(0).integers(0, 256, (IDS, 8, 8, 3), dtype=np.uint8)
    data = load(DataConfig(source="arrays", image_size=32, batch_size=BATCH, validation_fraction=0,
                           test_fraction=0, crop_scale=(0.6, 1.0), eval_crop=1.0),
                arrays=(images, np.arange(IDS)), one_hot=True)
    iterator, seen = multiworker.batches(strategy, data, BATCH), []
    for _ in range(IDS // BATCH):
        _, labels = next(iterator)
        for local in strategy.experimental_local_results(labels):
            seen += np.argmax(local.numpy(), -1).tolist()
    return seen


def main(run_dir, ids_path):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with open(ids_path, "w") as f:
        json.dump(record_ids(strategy), f)
    config = TrainConfig(model="resnet-18", run_dir=run_dir, strategy="multiworker", epochs=2, steps_per_epoch=3,
                         recipe="fast", verbose=0)
    data = DataConfig(source="digits", image_size=32, batch_size=16, crop_scale=(0.6, 1.0), eval_crop=1.0)
    try:
        print(json.dumps(Trainer(config, data).run(strategy=strategy)))
    except WorkerLost as e:  # as keras-cls train says it
        fail("train", e)


if __name__ == "__main__":
    main(*sys.argv[1:])
