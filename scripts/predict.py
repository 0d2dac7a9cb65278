"""Classify image files with a SavedModel, a .tflite file or a TF Serving address.

The same job as `keras-cls predict` (keras_cls/commands/predict.py), for a checkout: python scripts/predict.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("predict", sys.argv[1:])
