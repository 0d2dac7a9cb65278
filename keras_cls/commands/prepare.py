"""An image folder -> sharded TFRecords (ImageNet layout) with a manifest the tfrecord source trusts.

Example: keras-cls prepare --path photos/ --out_dir shards/ --images_per_shard 1024 --workers 8
Then: keras-cls train --source tfrecord --path shards/ ... (class names and split sizes come from the manifest).
A killed run continues with the same command, writing only the shards not yet finished.
"""
import json

from absl import logging

from keras_cls import configflags
from keras_cls.commands import fail, start_tensorflow
from keras_cls.data.config import PrepareConfig

configflags.define(PrepareConfig)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    try:
        config = configflags.config_from_flags(PrepareConfig, "prepare")
        start_tensorflow()
        from keras_cls.data.prepare import prepare

        manifest = prepare(config, log=lambda m: print(m, flush=True))
    except (ValueError, OSError) as e:
        fail("prepare", e)
    print(json.dumps({split: entry["records"] for split, entry in manifest["splits"].items()} |
                     {"skipped": len(manifest["skipped"])}))
