"""Data-parallel scaling: N local MultiWorkerMirroredStrategy workers at the same global batch, and a projection.

Each worker (`python -m keras_cls.bench.scaling <json args>`, TF_CONFIG naming it) times the multi-worker loop's
own train step on one in-graph batch, then the all-reduce alone (the model's gradients, summed across workers by
the same strategy), and writes both; the bench reports step time, images/s and the all-reduce share of the step.

Projection to 8 and 64 GPUs (`project`, stated with its assumptions in the output): a step is the 1-GPU compute
(NVIDIA DeepLearningExamples' AMP A100 figure), plus the ring all-reduce not hidden behind the backward pass (each
GPU sends and receives 2 (N-1)/N of the float16 gradient bytes at the slowest link's bandwidth: NVLink within a
node of 8, InfiniBand between nodes), plus a fixed multi-GPU overhead calibrated on the published 8-GPU figure.
"""
import json
import os
import socket
import sys
import time

# NVIDIA DeepLearningExamples, TensorFlow 2, AMP, A100 80GB, training images/s (published figures).
PUBLISHED = {"efficientnet-b0": {1: 3454, 8: 20647}, "resnet-50": {1: 2375, 8: 17400}}


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = map(int, f.read().split())
    except (OSError, ValueError):  # not Linux: IANA's dynamic range
        low, high = 49152, 65535
    return low, high


def free_ports(n, rng=None):
    """n TCP ports on 127.0.0.1, free now, for local workers' cluster specs. A port a socket bound to port 0 was
    given and then closed can be handed to any other process's bind(0) or outgoing connection before the worker
    binds it; these are drawn at random from below the kernel's ephemeral range, which only an explicit bind takes,
    and each was bound once here to see that it is free."""
    import random

    rng = rng or random.SystemRandom()
    low, high = _ephemeral_range()
    lowest, highest = (10000, low - 1) if low > 11000 else (high + 1, 65535)
    ports = []
    while len(ports) < n:
        port = rng.randint(lowest, highest)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


def _ring_seconds(gpus, params, bytes_per_grad, nvlink_gbs, network_gbs):
    link = (nvlink_gbs if gpus <= 8 else network_gbs) * 1e9
    return 2 * (gpus - 1) / gpus * params * bytes_per_grad / link


def project(model, params, gpus, batch_per_gpu=256, bytes_per_grad=2, nvlink_gbs=300.0, network_gbs=25.0,
            overlap=0.5):
    """Projected images/s on `gpus` GPUs and the scaling efficiency. A step is the 1-GPU compute (published
    figure), plus the part of the ring all-reduce not hidden behind the backward pass, plus a fixed multi-GPU
    overhead calibrated so that 8 GPUs give the published 8-GPU figure (synchronization, stragglers, the input
    pipeline: what the ring alone does not explain); 64 GPUs = 8 nodes over InfiniBand."""
    published = PUBLISHED[model]
    compute = batch_per_gpu / published[1]
    ring = lambda n: (1 - overlap) * _ring_seconds(n, params, bytes_per_grad, nvlink_gbs, network_gbs)  # noqa: E731
    overhead = 8 * batch_per_gpu / published[8] - compute - ring(8)
    step = compute if gpus == 1 else compute + overhead + ring(gpus)
    return gpus * batch_per_gpu / step, compute / step


def _worker(args):
    """One worker: (step seconds, all-reduce seconds), medians over the timed repeats."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_cls.models import build
    from keras_cls.train import multiworker
    from keras_cls.train.trainer import build_state

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    batch, size = args["global_batch"], args["image_size"]
    images = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[np.arange(batch) % 10]
    data = tf.data.Dataset.from_tensors((images, labels)).repeat()
    with strategy.scope():  # compiled as the Trainer compiles: the step is fit's own Model.train_step
        model = build(args["model"], num_classes=10, input_shape=(size, size, 3))
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss=keras.losses.CategoricalCrossentropy(), metrics=[keras.metrics.CategoricalAccuracy()])
        build_state(model, data.element_spec)
    iterator = iter(strategy.experimental_distribute_dataset(data))
    step = multiworker._train_step(strategy, model)
    grads = [tf.zeros_like(v) for v in model.trainable_variables]

    @tf.function
    def all_reduce():
        return strategy.run(lambda: tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads))

    def timed(fn):
        fn()
        times = []
        for _ in range(args["repeats"]):
            start = time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t,
                                  strategy.experimental_local_results(fn()))
            times.append(time.perf_counter() - start)
        return float(np.median(times))
    return {"step_s": timed(lambda: step(iterator)), "allreduce_s": timed(all_reduce),
            "params": int(sum(np.prod(v.shape) for v in model.trainable_variables))}


if __name__ == "__main__":  # one worker of bench_scaling
    arguments = json.loads(sys.argv[1])
    with open(os.path.join(arguments["out"], f"worker-{arguments['index']}.json"), "w") as f:
        json.dump(_worker(arguments), f)
