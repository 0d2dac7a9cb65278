"""Where a SavedModel signature's time goes, op type by op type, run as TF Serving runs it: a TF1 session over the
SavedModel's 'serve' graph (Grappler's rewrites and oneDNN's kernels included) fed the signature's input, each
kernel's time taken from the session's step stats. The names are the kernels TensorFlow ran (for example
_MklNativeFusedConv2D: a convolution with its bias and activation in one oneDNN kernel)."""
import collections


def _op_type(node):
    """The kernel's op type from a step-stats node ('name = OpType(inputs)'), else the node's name."""
    label = node.timeline_label
    return label.split(" = ", 1)[1].split("(", 1)[0] if " = " in label else node.node_name


def op_times(path, signature, x, runs=10, threads=0):
    """[(op type, ms per call, ops per call)], slowest first: `signature` of the SavedModel at `path` called on x
    (its one input), `runs` traced calls after two untimed ones; `threads`: the session's intra- and inter-op
    threads (TF Serving's --tensorflow_intra_op_parallelism and --tensorflow_inter_op_parallelism; 0: TensorFlow's
    choice)."""
    import tensorflow as tf
    from tensorflow.python.util import deprecation

    v1 = tf.compat.v1
    config = v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    micros, calls = collections.Counter(), collections.Counter()
    with v1.Session(graph=tf.Graph(), config=config) as session, deprecation.silence():
        with session.graph.as_default():
            definition = v1.saved_model.loader.load(session, ["serve"], path).signature_def[signature]
        (tensor,) = definition.inputs.values()
        feed, fetches = {tensor.name: x}, [output.name for output in definition.outputs.values()]
        for _ in range(2):  # Grappler's rewrite and oneDNN's primitives are made on the first calls
            session.run(fetches, feed)
        options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
        for _ in range(runs):
            metadata = v1.RunMetadata()
            session.run(fetches, feed, options=options, run_metadata=metadata)
            for node in (node for device in metadata.step_stats.dev_stats for node in device.node_stats):
                micros[_op_type(node)] += node.op_end_rel_micros - node.op_start_rel_micros
                calls[_op_type(node)] += 1
    return [(op, total / runs / 1000, calls[op] // runs) for op, total in micros.most_common()]
