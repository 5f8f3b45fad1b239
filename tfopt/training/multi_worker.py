"""One model trained on every machine of a cluster: `MultiWorkerMirroredStrategy` from
`TF_CONFIG`, with two fixes Keras 3's TensorFlow trainer still needs for it.

Keras 3 (3.15.1, the release tested) breaks `fit` under this strategy (keras-team/keras#20585,
tensorflow/tensorflow#72388): before the first step it averages a data batch over the
workers eagerly just to learn its shapes, and it averages each step's scalar logs "along
axis 0". Both raise inside TensorFlow. `fix_keras_trainer` replaces the two spots, only for
a multi-worker strategy; every other strategy runs Keras' own code.
"""

import json
import os
import pathlib

from tfopt import _compat
from tfopt.errors import InputError

_fixed = False
_LOST_MEMBER = ("UnavailableError", "Collective ops is aborted", "tasks are unhealthy")


def multi_worker_strategy():
    """`MultiWorkerMirroredStrategy` over the cluster in `TF_CONFIG`, with Keras fixed for it.

    Raises:
        InputError: when `TF_CONFIG` is unset, not JSON, or names no cluster.
    """
    import tensorflow as tf

    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "")).get("cluster", {})
    except (json.JSONDecodeError, AttributeError):
        cluster = {}
    if not cluster:
        raise InputError("--strategy multi_worker reads the cluster from TF_CONFIG, which is "
                         f"unset or has no cluster (received: {os.environ.get('TF_CONFIG')!r}). "
                         'Set it on every machine, e.g. {"cluster": {"worker": ["host1:12345", '
                         '"host2:12345"]}, "task": {"type": "worker", "index": 0}}.')
    fix_keras_trainer()
    return tf.distribute.MultiWorkerMirroredStrategy()


def writes_results(strategy):
    """False on a cluster member of a multi-worker strategy that is not its chief: it trains
    in step with the chief, and its copies of the run go to `replica_out`."""
    return not _in_multi_worker_mode(strategy) or strategy.extended.should_checkpoint


def replica_out(out, strategy):
    """The run folder of a non-chief member: a sibling of the chief's (`runs/x.worker-1`), the
    same on every start, so that a resumed cluster resumes every member at the same trial."""
    resolver = strategy.cluster_resolver
    return str(pathlib.Path(out).with_name(
        f"{pathlib.Path(out).name}.{resolver.task_type}-{resolver.task_id}"))


def lost_a_member(strategy, message):
    """Whether a trial's error under a multi-worker strategy says a cluster member stopped
    (not the trial's own fault: the trial is resumed when the cluster starts again)."""
    return _in_multi_worker_mode(strategy) and any(sign in message for sign in _LOST_MEMBER)


def _in_multi_worker_mode(strategy):
    extended = getattr(strategy, "extended", None)
    return extended is not None and extended._in_multi_worker_mode()


class ReplicaCheckpoint(_compat.keras_tuner_private("engine.tuner_utils").SaveBestEpoch):
    """keras-tuner's best-epoch checkpoint, written into a replica's own run folder.

    keras-tuner has a non-chief member write it to a temporary folder and delete it (for
    members that share the chief's folder); a replica here has its own folder and loads
    the checkpoint back, in step with the chief, when the final model is made.
    """

    def _save_model(self):
        self.model.save_weights(self.filepath)


def fix_keras_trainer():
    """Patches Keras' TensorFlow trainer for multi-worker strategies (idempotent)."""
    global _fixed
    if _fixed:
        return
    import tensorflow as tf
    from keras import version as keras_version

    trainer = _compat.keras_tf_trainer()

    missing = [name for name in ("_collective_all_reduce_multi_worker", "reduce_per_replica")
               if not hasattr(trainer, name)]
    if missing or not hasattr(trainer.TensorFlowTrainer, "_maybe_symbolic_build"):
        raise InputError("--strategy multi_worker patches Keras' TensorFlow trainer as it is "
                         f"in Keras 3.15; Keras {keras_version()} has changed it (missing: "
                         f"{', '.join(missing) or '_maybe_symbolic_build'}). Use --strategy "
                         "auto, or install keras==3.15.*.")
    multi_worker = trainer._collective_all_reduce_multi_worker
    keras_reduce = trainer.reduce_per_replica
    keras_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def reduce_per_replica(values, strategy, reduction="auto"):
        if multi_worker(strategy) and reduction in ("auto", "mean"):  # the mean over replicas
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return keras_reduce(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is None or strategy is None or not multi_worker(strategy):
            return keras_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:  # a local batch has the shapes the build needs
            data_batch = tf.nest.map_structure(
                lambda value: strategy.experimental_local_results(value)[0]
                if isinstance(value, tf.distribute.DistributedValues) else value,
                next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    trainer.reduce_per_replica = reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    _fixed = True
