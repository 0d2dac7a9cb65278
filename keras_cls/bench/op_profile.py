"""Where a SavedModel signature's time goes, op type by op type, run as TF Serving runs it
(keras_cls.export.session): each kernel's time taken from the session's step stats. The names are the kernels
TensorFlow ran (for example _MklNativeFusedConv2D: a convolution with its bias and activation in one oneDNN
kernel)."""
import collections


def _op_type(node):
    """The kernel's op type from a step-stats node ('name = OpType(inputs)'), else the node's name."""
    label = node.timeline_label
    return label.split(" = ", 1)[1].split("(", 1)[0] if " = " in label else node.node_name


def op_times(session, x, runs=10):
    """[(op type, ms per call, ops per call)], slowest first: a ServingSession called on x, `runs` traced calls
    after two untimed ones (Grappler's rewrite and oneDNN's primitives are made on the first calls)."""
    import tensorflow as tf

    v1 = tf.compat.v1
    micros, calls = collections.Counter(), collections.Counter()
    for _ in range(2):
        session(x)
    options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
    for _ in range(runs):
        metadata = v1.RunMetadata()
        session(x, options=options, run_metadata=metadata)
        for node in (node for device in metadata.step_stats.dev_stats for node in device.node_stats):
            micros[_op_type(node)] += node.op_end_rel_micros - node.op_start_rel_micros
            calls[_op_type(node)] += 1
    return [(op, total / runs / 1000, calls[op] // runs) for op, total in micros.most_common()]
