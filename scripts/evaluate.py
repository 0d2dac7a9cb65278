"""Top-1, top-5, per-class accuracy and confusion matrix of a .keras model on a data set.

The same job as `keras-cls evaluate` (keras_cls/commands/evaluate.py), for a checkout: python scripts/evaluate.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("evaluate", sys.argv[1:])
