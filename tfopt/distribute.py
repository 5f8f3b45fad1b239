"""Choosing the `tf.distribute` strategy and the mixed-precision policy."""

import os

import keras

from tfopt.errors import InputError
from tfopt.tasks import STRATEGIES


def choose_strategy(name="auto"):
    """Returns a `tf.distribute.Strategy` for `name`, or None for the default strategy.

    "auto" picks a TPU when a resolver finds one, `MirroredStrategy` when
    several GPUs are visible, else the default (single device) strategy.
    "mirrored" mirrors over all GPUs, or over all logical CPUs when there is
    no GPU (how the tests exercise it).

    Raises:
        InputError: for an unknown name, or "tpu" when no TPU is found.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise InputError(f"Unknown strategy '{name}'. Known strategies: {', '.join(STRATEGIES)}.")
    if name in ("auto", "tpu"):
        resolver = _tpu_resolver()
        if resolver is not None:
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        if name == "tpu":
            raise InputError("--strategy tpu was requested but no TPU was found "
                             "(set TPU_NAME, or run on a TPU VM); use --strategy auto.")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return None


def _tpu_resolver():
    """A TPU cluster resolver when the environment names a TPU, else None (no network probe)."""
    import tensorflow as tf

    tpu = os.environ.get("TPU_NAME") or ("local" if os.path.exists("/dev/accel0") else None)
    if tpu is None:
        return None
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    except (ValueError, RuntimeError):
        return None


def strategy_name(strategy):
    """Human-readable name of a strategy returned by `choose_strategy`."""
    if strategy is None:
        return "default"
    return f"{type(strategy).__name__} ({strategy.num_replicas_in_sync} replicas)"


def set_mixed_precision(enabled):
    """Sets the global Keras dtype policy: mixed float16 on GPU, bfloat16 elsewhere."""
    if not enabled:
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    import tensorflow as tf

    policy = "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy
