"""Search EfficientNet and ResNet settings with Keras Tuner.

The same job as `keras-cls tune` (keras_cls/commands/tune.py), for a checkout: python scripts/tune.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("tune", sys.argv[1:])
