"""Train a model (flags from TrainConfig and DataConfig); a killed run resumes with the same command.

The same job as `keras-cls train` (keras_cls/commands/train.py), for a checkout: python scripts/train.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("train", sys.argv[1:])
