"""ImageNet-1k's classes in the classifier's order (imagenet_classes.tsv: synset and WordNet lemmas, public data):
a 1000-class model without class names of its own answers with these names."""
import functools
import os

CLASSES_FILE = os.path.join(os.path.dirname(__file__), "imagenet_classes.tsv")
NUM_CLASSES = 1000


@functools.lru_cache(maxsize=1)
def _rows():
    with open(CLASSES_FILE) as f:
        return tuple(tuple(line.rstrip("\n").split("\t", 1)) for line in f if line.strip())


def class_names():
    """The 1000 short names ("tench", "goldfish", ..., "toilet tissue"): each class's first lemma."""
    return [lemmas.split(",")[0] for _, lemmas in _rows()]


def synsets():
    """The 1000 WordNet ids ("n01440764", ...) and all their lemmas."""
    return list(_rows())
