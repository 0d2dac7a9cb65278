"""The comparison on the embedded digits (what `make demo` runs).

The same job as `keras-cls demo` (keras_cls/commands/demo.py), for a checkout: python scripts/demo.py --help
"""
import sys

from keras_cls import commands

if __name__ == "__main__":
    commands.run("demo", sys.argv[1:])
