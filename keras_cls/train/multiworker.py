"""MultiWorkerMirroredStrategy training: fit's own train step driven by `strategy.run`.

Keras 3.15's `fit` fails under this strategy (PerReplica conversion in `_maybe_symbolic_build`, then
`reduce_per_replica` on scalars: keras#20585, tensorflow#72388), so for this one strategy the Trainer runs its
own loop around the step `fit` runs (`Model.train_step`: the same model, optimizer (schedule, weight decay, EMA,
loss scaling), loss and metrics), gradients all-reduced across workers by the optimizer. Each epoch validates like
`fit` and commits the same log.csv row (loss, accuracy, top5, val_loss, val_accuracy, val_top5, images_per_s,
epoch_seconds), the best model and a NaN guard, so time-to-target and the tuner's objectives read such runs alike. Resume: a tf.train.Checkpoint per
epoch, then the epoch committed to progress.json (the run's one source of truth, as in single-worker runs); the
chief writes the run directory, the other workers write beside it (`worker-<i>/`), as TensorFlow's guide
prescribes. A killed worker stops the job: its peers' next all-reduce fails (gRPC: connection reset) and each
stops with WorkerLost, one line that says to restart every worker with the same command; they agree on the last
epoch all of them committed and resume from it (two checkpoints are kept).
"""
import dataclasses
import math
import os
import re
import time


def _role(strategy):
    """(is chief, name): only the chief checkpoints into the run directory."""
    resolver = strategy.cluster_resolver
    name = f"{resolver.task_type}-{resolver.task_id}" if resolver and resolver.task_type else "worker-0"
    return strategy.extended.should_checkpoint, name


def _counts(labels, probs, k):
    import tensorflow as tf

    targets = tf.argmax(labels, -1)
    correct = tf.reduce_sum(tf.cast(tf.equal(targets, tf.argmax(probs, -1)), tf.float32))
    top_k = tf.reduce_sum(tf.cast(tf.math.in_top_k(targets, tf.cast(probs, tf.float32), k), tf.float32))
    return correct, top_k


def _train_step(strategy, model):
    """fit's own step, `Model.train_step` (the compiled loss scaled per replica, loss scaling, gradients all-reduced
    by the optimizer, the compiled metrics), run on every replica; returns the epoch's metrics so far, read across
    all replicas from the metrics' variables (fit's per-replica reduction of the step's outputs is what fails)."""
    import tensorflow as tf

    @tf.function
    def run(iterator):
        strategy.run(model.train_step, args=(next(iterator),))
        return model.get_metrics_result()
    return run


def batches(strategy, data, global_batch):
    """The training batches each worker steps through: each reads its own part of the training split, taken
    before shuffling (tf.data's DATA auto-sharding of the shuffled stream overlapped: parallel maps order elements
    differently on each worker), so the parts are disjoint and together whole every epoch
    (tests/train/test_processes.py records the ids each worker is handed)."""
    def per_worker(context):
        return data.train_shard(context.num_input_pipelines, context.input_pipeline_id,
                                context.get_per_replica_batch_size(global_batch)).repeat()
    return iter(strategy.distribute_datasets_from_function(per_worker))


def _validation_step(model, loss_fn, k):
    import tensorflow as tf

    @tf.function
    def sums(images, labels):
        probs = model(images, training=False)
        count = tf.cast(tf.shape(labels)[0], tf.float32)
        return (tf.reduce_sum(loss_fn(labels, probs)), *_counts(labels, probs, k), count)
    return sums


def _validate(step, dataset):
    """val_loss / val_accuracy / val_top<k> of the whole validation split, as fit reports them. Every worker
    holds the same weights, so each validates the split itself and all get the same figures."""
    totals = [0.0] * 4
    for images, labels in dataset:
        totals = [t + float(v) for t, v in zip(totals, step(images, labels))]
    loss, correct, top_k, n = totals
    return {"val_loss": loss / n, "val_accuracy": correct / n, "val_top5": top_k / n} if n else {}


def _epoch(model, step, iterator, steps, batch, epoch):
    from keras_cls.train.callbacks import TrainingDiverged

    model.reset_metrics()
    start = time.perf_counter()
    for i in range(steps):
        logs = {name: float(value) for name, value in step(iterator).items()}
        if not math.isfinite(logs["loss"]):
            raise TrainingDiverged(f"loss became {logs['loss']} at epoch {epoch + 1}, batch {i + 1}; training "
                                   "stopped before saving anything from it. Lower the learning rate, or use float32 "
                                   "/ loss scaling.")
    seconds = time.perf_counter() - start
    return {**logs, "images_per_s": steps * batch / seconds, "epoch_seconds": seconds}


def _agreed_start(strategy, epochs_done):
    """The fewest epochs any worker has committed: where every worker resumes (all-gathered, so all agree)."""
    import tensorflow as tf

    mine = strategy.experimental_distribute_values_from_function(lambda _: tf.constant([epochs_done], tf.int64))
    return int(tf.reduce_min(strategy.gather(mine, axis=0)))


class WorkerLost(RuntimeError):
    """A peer of the multi-worker job stopped (killed, preempted, its machine lost) while this worker waited for it
    in an all-reduce: the job cannot go on with fewer workers."""


def _peer_error(error):
    """What gRPC said about the lost peer ('Connection reset by peer', ...), else the error's kind."""
    found = re.search(r'grpc_message:"([^"]+)"', str(error))
    return found.group(1) if found else type(error).__name__


def run(trainer, strategy, data):
    """Train on every worker; a lost peer stops this worker with WorkerLost, which says what to run next."""
    import tensorflow as tf

    from keras_cls.train.progress import Progress

    try:
        return _run(trainer, strategy, data)
    except (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError) as e:
        done = Progress(trainer.config.run_dir).epochs_done
        raise WorkerLost(
            f"{_role(strategy)[1]}: a peer of the multi-worker job stopped ({_peer_error(e)}) with {done} of "
            f"{trainer.config.epochs} epochs committed here. Start every worker again with the same command and "
            "TF_CONFIG: they resume from the last epoch all of them committed") from None


def _run(trainer, strategy, data):
    import keras
    import tensorflow as tf

    from keras_cls.train.callbacks import save_model
    from keras_cls.train.progress import MONITOR, Progress, best_candidate

    chief, role = _role(strategy)
    if not chief:  # every worker must write its checkpoints; only the chief's land in the run directory
        trainer.config = dataclasses.replace(trainer.config, run_dir=os.path.join(trainer.config.run_dir, role))
        os.makedirs(trainer.config.run_dir, exist_ok=True)
    progress, backup = Progress(trainer.config.run_dir), os.path.join(trainer.config.run_dir, "backup")
    progress.tidy()
    with strategy.scope():
        model, steps = trainer.compile_model(data)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    # Two kept: a kill after saving epoch k+1 but before progress.json records it resumes from epoch k's.
    manager = tf.train.CheckpointManager(checkpoint, backup, max_to_keep=2)
    first = _agreed_start(strategy, progress.epochs_done)
    progress.rewind(first)  # this worker committed an epoch another had not when the job was killed
    if first:
        checkpoint.restore(os.path.join(backup, f"ckpt-{first}"))
    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=trainer.recipe.label_smoothing, reduction=None)
    batch, k = trainer.data_config.batch_size, min(5, data.num_classes)
    step, iterator = _train_step(strategy, model), batches(strategy, data, batch)
    validation_step = _validation_step(model, loss_fn, k)
    for e in range(first, trainer.config.epochs):
        logs = _epoch(model, step, iterator, steps, batch, e)
        if data.validation is not None:
            logs.update(_validate(validation_step, data.validation))
        manager.save(checkpoint_number=e + 1)
        better = progress.is_better(logs)
        if better:
            save_model(model, best_candidate(progress.run_dir, e + 1))
        # the columns and their order of a fit run's log.csv (CommitEpoch: epoch, then Keras' sorted logs)
        progress.commit(e + 1, {"epoch": e, **dict(sorted(logs.items()))},
                        logs[MONITOR] if better else None)
    if model.optimizer.use_ema:
        model.optimizer.finalize_variable_values(model.trainable_variables)
    return trainer.finish(model, data, progress, trainer.config.epochs - first, steps)
