"""Keras Tuner searches over both families: the space as data, a HyperModel that trains with the Trainer,
tuners by name (random, bayesian, hyperband), and the reports of a finished search."""
from keras_cls.tune.search import REPORTED, TUNERS, KerasClsHyperModel, check_objective, make_tuner
from keras_cls.tune.space import AUGMENT, SearchSpace

__all__ = ["AUGMENT", "REPORTED", "TUNERS", "KerasClsHyperModel", "SearchSpace", "check_objective", "make_tuner"]
