"""Transfer vs scratch, both families: pretrain on digits 0-4, fine-tune on digits 5-9 with few labels, against the
same architecture from scratch with the same budget (keras_cls/bench/transfer.py says what is and is not measured)."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_list("models", ["resnet-18", "efficientnet-b0"], "keras_cls models")
flags.DEFINE_integer("shots", 10, "training images a class on the target task (digits 5-9)")
flags.DEFINE_integer("pretrain_epochs", 6, "epochs on digits 0-4 x 4 rotations")
flags.DEFINE_integer("pretrain_steps", 0, "steps per pretraining epoch (0: the whole split)", lower_bound=0)
flags.DEFINE_list("arms", ["1", "2"], "transfer arms to run (1: the finetune recipe; 2: BN adapting, backbone_lr 1)")
flags.DEFINE_integer("epochs", 5, "epochs on the target task, transfer and scratch alike")
flags.DEFINE_integer("steps", 10, "steps per epoch on the target task")
flags.DEFINE_integer("seeds", 3, "runs per arm (different seeds); the table gives the mean, lowest and highest")
flags.DEFINE_string("run_root", "runs/bench_transfer", "where the runs go")
flags.DEFINE_string("json", None, "write the rows as JSON here")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_cls.bench import transfer, write_rows

    for name, value in (("shots", FLAGS.shots), ("pretrain_epochs", FLAGS.pretrain_epochs),
                        ("epochs", FLAGS.epochs), ("steps", FLAGS.steps), ("seeds", FLAGS.seeds)):
        if value < 1:
            raise app.UsageError(f"--{name} must be >= 1, got {value}")
    choices = [str(i + 1) for i in range(len(transfer.ARMS))]
    if not FLAGS.arms or set(FLAGS.arms) - set(choices):
        raise app.UsageError(f"--arms must be some of {','.join(choices)}, got {','.join(FLAGS.arms) or 'none'}")
    arms = [transfer.ARMS[int(i) - 1] for i in dict.fromkeys(FLAGS.arms)]
    try:
        rows = transfer.run(FLAGS.models, FLAGS.run_root, FLAGS.shots, FLAGS.pretrain_epochs, FLAGS.epochs,
                            FLAGS.steps, FLAGS.seeds, pretrain_steps=FLAGS.pretrain_steps or None, arms=arms)
    except ValueError as e:  # e.g. --run_root holds runs with other settings
        sys.exit(f"bench_transfer.py: error: {e}")
    print(f"\ndigits 5-9 with {FLAGS.shots} training images a class ({FLAGS.epochs} epochs x {FLAGS.steps} steps, "
          f"batch {transfer.DATA.batch_size}); backbones pretrained on digits 0-4\n")
    print(transfer.table(rows))
    for model, (gain, arm) in transfer.gains(rows).items():
        verdict = "beats" if gain > 0 else "does not beat"
        print(f"{model}: transfer ({arm}) {verdict} scratch by {gain:+.1f} points")
    if FLAGS.json:
        write_rows(FLAGS.json, "transfer", rows)


if __name__ == "__main__":
    app.run(main)
