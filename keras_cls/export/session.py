"""An exported version run as TF Serving runs it: TF Serving loads a SavedModel into a TF1 session (its
SavedModelBundle: the 'serve' graph, Grappler's rewrites and oneDNN's kernels) and answers a request with one
Session::Run of the signature's feeds and fetches, under its --tensorflow_intra_op_parallelism and
--tensorflow_inter_op_parallelism threads. `tf.saved_model.load` runs the same signature as an eager function
call, through another runtime: at batch 1 it is not the latency a TF Serving user gets."""


class ServingSession:
    """Callable(x) -> {output name: array} for one signature of the SavedModel at `path` (its one input fed x);
    `threads`: the session's intra- and inter-op threads (0: TensorFlow's choice, TF Serving's default). As in TF
    Serving, the sessions of a process share TensorFlow's thread pools: the first one made sizes them."""

    def __init__(self, path, signature="serve_images", threads=0):
        import tensorflow as tf
        from tensorflow.python.util import deprecation

        v1 = tf.compat.v1
        config = v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
        self.session = v1.Session(graph=tf.Graph(), config=config)
        with self.session.graph.as_default(), deprecation.silence():  # the TF1 loader is TF Serving's
            definition = v1.saved_model.loader.load(self.session, ["serve"], path).signature_def[signature]
        (tensor,) = definition.inputs.values()
        self.input = tensor.name
        self.outputs = {name: output.name for name, output in definition.outputs.items()}

    def __call__(self, x, **run_kwargs):
        return self.session.run(self.outputs, {self.input: x}, **run_kwargs)

    def close(self):
        self.session.close()
