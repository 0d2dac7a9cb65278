"""A trained model to a TF Serving SavedModel version (+ models.config) and optionally TFLite.

The same job as `keras-cls export` (keras_cls/commands/export.py), for a checkout: python scripts/export.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("export", sys.argv[1:])
