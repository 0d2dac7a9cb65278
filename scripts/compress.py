"""Post-training quantization, quantization-aware training and pruning, with a table.

The same job as `keras-cls compress` (keras_cls/commands/compress.py), for a checkout: python scripts/compress.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("compress", sys.argv[1:])
