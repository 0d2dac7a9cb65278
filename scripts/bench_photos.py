"""Real weights on real photos: EfficientNet-Lite0 fine-tuned from Google's ImageNet checkpoint vs from scratch on
real photos that ship in a wheel (--source: ELPV's solar cells, or scikit-image's LFW faces; same budget, several
seeds), int8 vs float32 for each fine-tuned model, and the ImageNet model's int8 file against float32 on real photos
(keras_cls/bench/photos.py says what is measured)."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("epochs", 3, "epochs per run, pretrained and scratch alike", lower_bound=1)
flags.DEFINE_integer("steps", 0, "steps per epoch (0: one pass over the training split)", lower_bound=0)
flags.DEFINE_integer("seeds", 2, "runs per arm (seeds 0, 1, ...)", lower_bound=1)
flags.DEFINE_enum("source", "elpv", ["elpv", "lfw"], "the photos: ELPV solar cells (functional or defective) or LFW "
                  "crops (face or not)")
flags.DEFINE_integer("size", None, "training and evaluation size in pixels (default: elpv 160, lfw 64)",
                     lower_bound=32)
flags.DEFINE_integer("calibration", 64, "calibration images for each int8 file", lower_bound=1)
flags.DEFINE_integer("photos", 100, "ELPV test photos for the ImageNet int8 agreement", lower_bound=1)
flags.DEFINE_integer("views", 14, "views of each of the 8 natural photos for it (the photo, crops, quarters)",
                     lower_bound=1, upper_bound=14)
flags.DEFINE_list("arms", ["pretrained", "scratch"], "which starts to train (pretrained: the ImageNet checkpoint)")
flags.DEFINE_string("run_root", "runs/bench_photos", "where the runs go")
flags.DEFINE_string("json", None, "write the rows as JSON here")
FLAGS = flags.FLAGS


def _table(rows, summary):
    lines = ["| start | test top-1, mean (lowest-highest) | int8 TFLite file | int8 - float32 (pt) |",
             "|---|---:|---:|---:|"]
    for start, (mean, low, high) in summary.items():
        mine = [r for r in rows if r["start"] == start]
        int8 = 100 * sum(r["top1_tflite_int8"] for r in mine) / len(mine)
        lines.append(f"| {start} | {mean:.1f}% ({low:.1f}-{high:.1f}) | {int8:.1f}% | {int8 - mean:+.1f} |")
    return "\n".join(lines)


def main(argv):
    del argv
    from keras_cls.bench import photos, write_rows

    starts = dict(photos.ARMS)
    if not FLAGS.arms or set(FLAGS.arms) - set(starts):
        raise app.UsageError(f"--arms must be some of {','.join(starts)}, got {','.join(FLAGS.arms) or 'none'}")
    try:
        data = photos.SOURCES[FLAGS.source]
        rows = photos.fine_tune(FLAGS.run_root, FLAGS.epochs, FLAGS.steps or None, FLAGS.seeds, FLAGS.size,
                                FLAGS.calibration, arms=[(a, starts[a]) for a in dict.fromkeys(FLAGS.arms)], data=data)
        natural = [view for photo in photos.natural_photos() for view in photos.crops(photo)[:FLAGS.views]]
        agreement = photos.imagenet_int8_agreement(
            {"natural photos": natural, "ELPV test photos": photos.elpv_photos("test", FLAGS.photos)},
            photos.calibration_photos(FLAGS.calibration))
    except ValueError as e:  # a missing package, a run folder with other settings
        sys.exit(f"bench_photos.py: error: {e}")
    summary = photos.summary(rows)
    print(f"\n{photos.MODEL} on {FLAGS.source} ({photos.TASKS[FLAGS.source]}), {FLAGS.epochs} epochs x "
          f"{FLAGS.steps or 'all'} steps, batch {data.batch_size}, {rows[0]['size']} px, {FLAGS.seeds} seed(s) "
          "an arm\n")
    print(_table(rows, summary))
    if len(summary) == 2:
        gain = summary["pretrained"][0] - summary["scratch"][0]
        print(f"\npretrained {'beats' if gain > 0 else 'does not beat'} scratch by {gain:+.1f} points")
    for row in agreement:
        print(f"ImageNet Lite0, int8 vs float32: the same top-1 class on {row['same_top1']} of {row['photos']} "
              f"{row['photos_of']} ({100 * row['agreement']:.1f}%)")
    if FLAGS.json:
        write_rows(FLAGS.json, "photos", rows + agreement)


if __name__ == "__main__":
    app.run(main)
