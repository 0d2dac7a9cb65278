"""EfficientNet vs ResNet on your data and this machine: train, export, measure, report.

The same job as `keras-cls compare` (keras_cls/commands/compare.py), for a checkout: python scripts/compare.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("compare", sys.argv[1:])
