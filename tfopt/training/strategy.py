"""Choosing the `tf.distribute` strategy and the mixed-precision policy.

Strategies are TensorFlow's: with another Keras backend (JAX) only "auto" and
"default" (one device, no TensorFlow needed) are available.
"""

import os

import keras

from tfopt import _compat
from tfopt.backend import notice
from tfopt.errors import InputError
from tfopt.choices import STRATEGIES


def choose_strategy(name="auto"):
    """Returns a `tf.distribute.Strategy` for `name`, or None for the default strategy.

    "auto" picks a TPU when a resolver finds one, `MirroredStrategy` when
    several GPUs are visible, else the default (single device) strategy.
    "mirrored" mirrors over all GPUs, or over all logical CPUs when there is
    no GPU (how the tests exercise it). "multi_worker" trains each model on
    every machine of the cluster in `TF_CONFIG` (`tfopt.training.multi_worker`). With another
    Keras backend, "auto" and "default" train on one device (None) without importing
    TensorFlow.

    Raises:
        InputError: for an unknown name, "tpu" when no TPU is found, or "mirrored"
            or "tpu" with a backend other than TensorFlow.
    """
    if name not in STRATEGIES:
        raise InputError(f"Unknown strategy '{name}'. Known strategies: {', '.join(STRATEGIES)}.")
    backend = keras.backend.backend()
    if backend != "tensorflow":
        if name in ("auto", "default"):
            if name == "auto" and gpu_count() > 1:
                notice(f"{gpu_count()} GPUs are visible; the {backend} backend trains on one "
                       "(multi-GPU strategies need KERAS_BACKEND=tensorflow)")
            return None
        raise InputError(f"--strategy {name} uses tf.distribute, which needs the TensorFlow "
                         f"backend; the Keras backend is '{backend}'. Use --strategy auto "
                         "(one device), or set KERAS_BACKEND=tensorflow.")
    import tensorflow as tf

    if name in ("auto", "tpu"):
        resolver = _tpu_resolver()
        if resolver is not None:
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        if name == "tpu":
            raise InputError("--strategy tpu was requested but no TPU was found "
                             "(set TPU_NAME, or run on a TPU VM); use --strategy auto.")
    if name == "multi_worker":
        from tfopt.training.multi_worker import multi_worker_strategy

        return multi_worker_strategy()
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
    name = type(strategy).__name__
    if name == "CollectiveAllReduceStrategy":  # TensorFlow's class for it
        name = "MultiWorkerMirroredStrategy"
    return f"{name} ({strategy.num_replicas_in_sync} replicas)"


def set_mixed_precision(enabled=False):
    """Sets the global Keras dtype policy and returns its name: mixed float16 on GPU,
    bfloat16 elsewhere, or float32.

    "auto" is bfloat16 on TensorFlow on a CPU that computes it
    natively (`native_bfloat16`), float32 otherwise: measured on a 2-core Xeon with
    AMX, the default VGG trained 15-45% more examples a second, and after six epochs
    of Fashion-MNIST its accuracy was within 0.3 points of float32's (one seed each;
    benchmarks/RESULTS.md). GPUs keep float32 unless asked (not measured here).
    Keras' `clear_session` resets the policy; `tfopt.tuning.tuners` sets it again before
    each trial's build.
    """
    if enabled == "auto":
        enabled = keras.backend.backend() == "tensorflow" and not gpu_count() and \
            native_bfloat16()
    if not enabled:
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    policy = "mixed_float16" if gpu_count() else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def clear_session():
    """`keras.backend.clear_session()`, keeping the global dtype policy (which Keras resets
    with the rest of its global state), after `release_traced_graphs`."""
    policy = keras.mixed_precision.global_policy()
    release_traced_graphs()
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(policy)


def release_traced_graphs():
    """Lets TensorFlow free the traced training graphs of models that are gone; call it
    between trials. Returns how many registry entries it removed.

    Keras' TensorFlow optimizer sums the gradients with `ReplicaContext.all_reduce`,
    which is a `tf.custom_gradient`: every traced train step registers a gradient
    ("CustomGradient-N") in TensorFlow's global registry, which is never emptied, and
    its closure holds the whole traced graph. Measured on digits: about 10 MB more
    resident memory a trial for a small CNN in a plain Keras loop, and 15-17 MB in the
    benchmark's searches (plain keras-tuner's too). TensorFlow reads
    these entries only while it differentiates a graph, and Keras differentiates its train
    step inside the traced graph, so once a trial's training has been traced they are not
    needed again. Not checked: a `tf.function` of yours with a custom gradient, traced
    before a search and differentiated from outside it afterwards, could lose its gradient.
    """
    registry = _compat.gradient_registry()
    if registry is None:
        return 0
    names = [name for name in registry if name.startswith("CustomGradient-")]
    for name in names:
        del registry[name]
    return len(names)


def build_training_state(model, batches):
    """Creates a compiled model's optimizer and metric variables before `fit` on TensorFlow.

    With no distribution strategy, Keras creates them inside the first traced train step,
    and TensorFlow then traces that step twice (once creating variables, once without).
    Keras builds them ahead itself under a strategy; this does the same from `batches`'
    `element_spec` otherwise. Measured on digits, default VGG, one epoch: one trace instead
    of two, and `fit` took 1.1-1.6 s instead of 1.7-2.9 s. Other backends and inputs without
    an `element_spec` are left to Keras.
    """
    spec = getattr(batches, "element_spec", None)
    build = getattr(model, "_symbolic_build", None)  # Keras 3's own pre-`fit` build
    if (keras.backend.backend() != "tensorflow" or spec is None or build is None
            or getattr(model, "optimizer", None) is None
            or getattr(model, "_distribute_strategy", None) is not None):
        return
    build(data_batch=spec)


def native_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether the CPU lists AVX512_BF16 or AMX_BF16 (Linux's /proc/cpuinfo; False elsewhere)."""
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def gpu_count():
    """GPUs the Keras backend sees (JAX, PyTorch or TensorFlow's own device list)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return sum(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.device_count()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_logical_devices("GPU"))
    return 0
