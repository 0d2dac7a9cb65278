"""Export a trained model for serving: a SavedModel version in TF Serving's layout (+ models.config) and TFLite.

Example: keras-cls export --model_path runs/b0/model.keras --root saved_models --tflite saved_models/b0.tflite
Class names and the model name come from the run's config.json beside the model unless given.
"""
import json

from absl import flags, logging

from keras_cls.commands import fail, model_file, start_tensorflow
flags.DEFINE_string("model_path", None, "a .keras model (a run's model.keras)", required=True)
flags.DEFINE_string("root", "saved_models", "the TF Serving model root: root/<name>/<version>/")
flags.DEFINE_string("name", None, "model name on the server (default: the run's variant name)")
flags.DEFINE_list("class_names", None, "class names in output order (default: from the run's config.json)")
flags.DEFINE_integer("top_k", 5, "how many classes the signatures return")
flags.DEFINE_string("tflite", None, "also write a float32 TFLite file here (.tflite)")
flags.DEFINE_boolean("batching", False, "also time the export at batch 1-32 and write <root>/batching_parameters.txt "
                     "for TF Serving's --enable_batching --batching_parameters_file")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about saving drown the answer
    del argv
    FLAGS = flags.FLAGS
    try:
        model_file(FLAGS.model_path)
        start_tensorflow()
        from keras_cls.export.trained import export_trained

        paths = export_trained(FLAGS.model_path, FLAGS.root, FLAGS.name, FLAGS.class_names, FLAGS.top_k, FLAGS.tflite,
                               FLAGS.batching)
    except (ValueError, OSError) as e:
        fail("export", e)
    if paths["batching_parameters"]:
        paths["serve_with"] = f"--enable_batching --batching_parameters_file={paths['batching_parameters']}"
    print(json.dumps(paths, indent=1))

