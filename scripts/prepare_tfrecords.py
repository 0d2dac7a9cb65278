"""An image folder to sharded TFRecords with a manifest (one pass, parallel, resumable).

The same job as `keras-cls prepare` (keras_cls/commands/prepare.py), for a checkout:
    python scripts/prepare_tfrecords.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("prepare", sys.argv[1:])
