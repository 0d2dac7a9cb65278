"""Images/s of the input pipeline alone (a folder of JPEGs, 224 px, training transforms) vs the images/s the
efficientnet-b0 training step consumes, measured in the same run; the ratio should be >= 4."""
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "efficientnet-b0", "the model whose training step is the consumer")
flags.DEFINE_integer("size", 224, "image size")
flags.DEFINE_integer("batch", 32, "batch size")
flags.DEFINE_integer("images", 256, "JPEG files written for the test folder")
flags.DEFINE_integer("batches", 24, "pipeline batches timed")
flags.DEFINE_integer("steps", 3, "training steps timed")
flags.DEFINE_string("json", None, "write the figures as JSON here")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_cls.bench import pipeline as bench
    from keras_cls.data import DataConfig, load

    with tempfile.TemporaryDirectory() as root:
        bench.write_jpeg_folder(root, FLAGS.images, FLAGS.size)
        data = load(DataConfig(source="folder", path=root, image_size=FLAGS.size, batch_size=FLAGS.batch,
                               validation_fraction=0, test_fraction=0))
        pipe = bench.pipeline_images_per_s(data.train, FLAGS.batches)
    step = bench.train_step_images_per_s(FLAGS.model, FLAGS.size, FLAGS.batch, FLAGS.steps)
    row = {"name": f"pipeline_vs_{FLAGS.model}", "size": FLAGS.size, "batch": FLAGS.batch,
           "pipeline_img_s": round(pipe, 1), "train_step_img_s": round(step, 2), "ratio": round(pipe / step, 1)}
    print(f"| input pipeline (JPEG folder, {FLAGS.size} px, random-resized-crop + flip) | {pipe:.1f} img/s |")
    print(f"| {FLAGS.model} training step, batch {FLAGS.batch} | {step:.2f} img/s |")
    print(f"| ratio (goal >= 4) | {pipe / step:.1f}x |")
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "pipeline", [row])


if __name__ == "__main__":
    app.run(main)
