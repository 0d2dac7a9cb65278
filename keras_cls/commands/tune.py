"""Search EfficientNet and ResNet settings with Keras Tuner; every trial is an ordinary Trainer run.

Example (6 trials on digits, then the default config trained with the same budget for comparison):
  keras-cls tune --project_dir runs/tune --tuner bayesian --max_trials 6 --epochs 8 --baseline
Run the same command again to resume: finished trials are kept. Results: trials.md / trials.csv,
best_config.json (keras-cls train --config <project_dir>/best_config.json) and objective.png.
Distributed: start the chief (oracle) and any number of workers with the same flags and
  KERASTUNER_TUNER_ID=chief|tuner0|tuner1... KERASTUNER_ORACLE_IP=<chief host> KERASTUNER_ORACLE_PORT=8000
"""
import json
import os
import time

from absl import flags, logging

from keras_cls import configflags
from keras_cls.commands import fail, start_tensorflow
from keras_cls.data.config import DataConfig
from keras_cls.train.config import TrainConfig

configflags.define(TrainConfig, DataConfig)
flags.DEFINE_string("project_dir", "runs/tune", "the search's folder (trials, oracle state, reports)")
flags.DEFINE_string("tuner", "bayesian", "random, bayesian or hyperband")
flags.DEFINE_integer("max_trials", 6, "trials in the search (Hyperband sets its own from --epochs)")
flags.DEFINE_string("objective", "val_accuracy", "metric to optimize: val_accuracy, val_loss, val_top5, ...")
flags.DEFINE_string("space", None, "JSON search space (fields of keras_cls.tune.SearchSpace); default: built-in")
flags.DEFINE_boolean("overwrite", False, "start over instead of resuming the search in project_dir")
flags.DEFINE_boolean("baseline", False, "also train the default config (--model, --recipe) with the same budget")


def _setup():
    start_tensorflow()  # keras_cls.tune imports keras_tuner, which imports keras
    from keras_cls.tune import KerasClsHyperModel, SearchSpace, make_tuner

    FLAGS = flags.FLAGS
    space = SearchSpace.from_file(FLAGS.space) if FLAGS.space else SearchSpace()
    train = configflags.config_from_flags(TrainConfig, "train")
    data = configflags.config_from_flags(DataConfig, "data")

    hypermodel = KerasClsHyperModel(space, train, data)
    return make_tuner(FLAGS.tuner, hypermodel, FLAGS.project_dir, FLAGS.objective, FLAGS.max_trials,
                      seed=train.seed, overwrite=FLAGS.overwrite), train, data


def _baseline(train, data):
    import dataclasses

    from keras_cls.train import Trainer

    run_dir = os.path.join(flags.FLAGS.project_dir, "baseline")
    metrics = Trainer(dataclasses.replace(train, run_dir=run_dir, verbose=0), data).run()
    return metrics["best_val_accuracy"], metrics["top1"]


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    from keras_cls.tune import report

    try:
        tuner, train, data = _setup()
    except (ValueError, OSError) as e:
        fail("tune", e)
    start = time.perf_counter()
    tuner.search(verbose=0)
    if os.environ.get("KERASTUNER_TUNER_ID", "chief") != "chief":
        return  # a worker: the chief writes the reports
    rows = report.write(tuner, flags.FLAGS.project_dir, flags.FLAGS.objective)
    print(report.table(rows))
    # The oracle knows the objective's direction (val_loss: lowest is best).
    best_trials = tuner.oracle.get_best_trials(1)
    best = next((r for r in rows if best_trials and r["trial"] == best_trials[0].trial_id), None)
    print(f"\nsearch: {len(rows)} trials in {time.perf_counter() - start:.0f} s this run; best {flags.FLAGS.objective} "
          f"{best['score']:.4f} (trial {best['trial']}, {best['model']})" if best else "\nno finished trial")
    print(f"best config: {os.path.join(flags.FLAGS.project_dir, 'best_config.json')}")
    if flags.FLAGS.baseline:
        val, test = _baseline(train, data)
        print(f"baseline {train.model} ({train.recipe} recipe, same budget): val_accuracy {val:.4f}, test top-1 "
              f"{test:.4f}")
        print(json.dumps({"best_trial": best and best["score"], "baseline": val}))

