"""MultiWorkerMirroredStrategy training with a custom step driven by `strategy.run`.

Keras 3.15's `fit` fails under this strategy (PerReplica conversion in `_maybe_symbolic_build`, then
`reduce_per_replica` on scalars: keras#20585, tensorflow#72388), so for this one strategy the Trainer runs its
own loop: the same model, optimizer (schedule, weight decay, EMA, loss scaling) and loss as `fit` would use,
gradients all-reduced across workers by the strategy. Resume: a tf.train.Checkpoint per epoch, then the epoch
committed to progress.json (the run's one source of truth, as in single-worker runs); the chief writes the run
directory, the other workers write beside it (`worker-<i>/`), as TensorFlow's guide prescribes.
"""
import dataclasses
import os
import time


def _role(strategy):
    """(is chief, name): only the chief checkpoints into the run directory."""
    resolver = strategy.cluster_resolver
    name = f"{resolver.task_type}-{resolver.task_id}" if resolver and resolver.task_type else "worker-0"
    return strategy.extended.should_checkpoint, name


def _train_step(strategy, model, optimizer, loss_fn, global_batch):
    import tensorflow as tf

    def step(images, labels):
        with tf.GradientTape() as tape:
            probs = model(images, training=True)
            loss = tf.nn.compute_average_loss(loss_fn(labels, probs), global_batch_size=global_batch)
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(labels, -1), tf.argmax(probs, -1)), tf.float32))
        return loss, correct

    @tf.function
    def run(iterator):
        loss, correct = strategy.run(step, args=next(iterator))
        reduce = lambda v: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)  # noqa: E731
        return reduce(loss), reduce(correct)
    return run


def run(trainer, strategy, data):
    import keras
    import tensorflow as tf

    from keras_cls.train.progress import Progress

    chief, role = _role(strategy)
    if not chief:  # every worker must write its checkpoints; only the chief's land in the run directory
        trainer.config = dataclasses.replace(trainer.config, run_dir=os.path.join(trainer.config.run_dir, role))
        os.makedirs(trainer.config.run_dir, exist_ok=True)
    progress, backup = Progress(trainer.config.run_dir), os.path.join(trainer.config.run_dir, "backup")
    progress.tidy()
    with strategy.scope():
        model, steps = trainer.compile_model(data)
        optimizer = model.optimizer
        optimizer.build(model.trainable_variables)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    # Two kept: a kill after saving epoch k+1 but before progress.json records it resumes from epoch k's.
    manager = tf.train.CheckpointManager(checkpoint, backup, max_to_keep=2)
    first = progress.epochs_done
    if first:
        checkpoint.restore(os.path.join(backup, f"ckpt-{first}"))
    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=trainer.recipe.label_smoothing, reduction=None)
    batch = trainer.data_config.batch_size
    step = _train_step(strategy, model, optimizer, loss_fn, batch)
    iterator = iter(strategy.experimental_distribute_dataset(data.train.repeat()))
    for e in range(first, trainer.config.epochs):
        t0, loss_sum, correct = time.perf_counter(), 0.0, 0.0
        for _ in range(steps):
            loss, right = step(iterator)
            loss_sum, correct = loss_sum + float(loss), correct + float(right)
        seconds = time.perf_counter() - t0
        row = {"epoch": e, "loss": loss_sum / steps, "accuracy": correct / (steps * batch),
               "images_per_s": steps * batch / seconds, "epoch_seconds": seconds}
        manager.save(checkpoint_number=e + 1)
        progress.commit(e + 1, row)
    if optimizer.use_ema:
        optimizer.finalize_variable_values(model.trainable_variables)
    return trainer.finish(model, data, progress, trainer.config.epochs - first, steps)
