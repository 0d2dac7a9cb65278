"""Digits from scratch: resnet-18 and efficientnet-b0 (fast recipe) vs scikit-learn's SVC, same split, same run."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_list("models", ["resnet-18", "efficientnet-b0"], "keras_cls models to train")
flags.DEFINE_integer("epochs", 30, "epochs per model")
flags.DEFINE_string("run_root", "runs/bench_digits", "where the runs go")
flags.DEFINE_string("json", None, "write the rows as JSON here")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_cls.bench import digits

    rows = digits.run(FLAGS.models, FLAGS.run_root, FLAGS.epochs)
    print(f"\ndigits, fixed split ({digits.DIGITS_DATA.image_size} px for the CNNs), {FLAGS.epochs} epochs\n")
    print(digits.table(rows))
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "digits", rows)


if __name__ == "__main__":
    app.run(main)
