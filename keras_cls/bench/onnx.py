"""ONNX Runtime on a keras_cls model: the runtime a CPU user would pick instead of TensorFlow (`[bench]` extra).

The model's inference graph, its weights frozen into constants, converted by tf2onnx (the maintained TensorFlow
converter) and run by onnxruntime's CPU provider. The model only: the export's contract (resize, top-k) is not in
it, which at the model's own size costs little (compare "keras tf.function" with "SavedModel serve_images").
"""


def available():
    """'' when onnxruntime and tf2onnx import, else what to install."""
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as e:
        return f"ONNX Runtime rows left out: {e.name} is not installed (pip install 'keras_cls[bench]')"
    return ""


def session(model, size, threads=2):
    """A callable(images float32 (N, size, size, 3)) -> scores, running `model` in ONNX Runtime on `threads`."""
    import onnxruntime
    import tensorflow as tf
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from keras_cls.export.inference_graph import inference_graph
    from keras_cls.quiet import native_logs_held

    graph = inference_graph(model)
    function = tf.function(lambda images: graph(images, training=False))
    with native_logs_held():  # the converter's deprecation warnings and progress lines
        frozen = convert_variables_to_constants_v2(
            function.get_concrete_function(tf.TensorSpec([None, size, size, 3], tf.float32, name="images")))
        proto, _ = tf2onnx.convert.from_graph_def(frozen.graph.as_graph_def(), input_names=[frozen.inputs[0].name],
                                                  output_names=[frozen.outputs[0].name], opset=17)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    # Its threads spin after each call by default, taking the cores from the runtimes timed next in turn.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    run = onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = run.get_inputs()[0].name
    return lambda images: run.run(None, {name: images})[0]
