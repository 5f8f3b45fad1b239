"""Batch-normalization statistics that match the weights (PreciseBN, Wu & Johnson 2021).

BatchNormalization keeps moving averages of its inputs' mean and variance for
inference. After a few dozen training steps they lag far behind the weights: the
default VGG on scikit-learn's digits scores 0.12 validation accuracy after 2 epochs
with its moving statistics, and 0.89 with statistics recomputed over the training
data. `CalibrateBatchNorm` recomputes them before every validation and at the end
of training, so that short trials are ranked, checkpointed and exported with
statistics of their own weights.
"""

import time

import keras
import numpy as np

# Training examples (at most) whose batch statistics are averaged, in forward passes of
# CALIBRATION_BATCH (4 eager calls). Measured on 3-epoch trials on the 5,000-digit MNIST
# subset: 4,096 examples in passes of the training batch (32) took 43-47% of a trial's
# time, in passes of 256 29%; 1,024 examples in passes of 256: see benchmarks/RESULTS.md.
CALIBRATION_EXAMPLES = 1024
CALIBRATION_BATCH = 256


def batch_norm_layers(model):
    """The BatchNormalization layers of `model`, nested models included, that training
    updates (trainable, without batch renormalization)."""
    found, stack = [], [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, keras.layers.BatchNormalization):
            if layer.trainable and not layer.renorm:
                found.append(layer)
        stack.extend(getattr(layer, "layers", None) or [])
    return found


def recompute_statistics(model, batches):
    """Replaces every BatchNormalization layer's moving mean and variance with the average
    of its batch statistics over `batches` (an iterable of `x` or `(x, y, ...)` batches),
    each computed as in training. Returns the number of batches used (0: no BN layer or
    no batch; nothing changed)."""
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    sums = [[0.0, 0.0] for _ in layers]
    count = 0
    try:
        for layer in layers:
            layer.momentum = 0.0  # each training-mode call leaves the batch's own statistics
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x, training=True)
            for total, layer in zip(sums, layers):
                total[0] = total[0] + keras.ops.convert_to_numpy(layer.moving_mean)
                total[1] = total[1] + keras.ops.convert_to_numpy(layer.moving_variance)
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    for (mean, variance), layer in zip(sums, layers):
        if count:
            layer.moving_mean.assign(np.asarray(mean / count, dtype="float32"))
            layer.moving_variance.assign(np.asarray(variance / count, dtype="float32"))
    return count


class CalibrateBatchNorm(keras.callbacks.Callback):
    """Recomputes the model's BatchNormalization statistics (`recompute_statistics`) on up to
    `CALIBRATION_EXAMPLES` training examples before each validation and, when training went
    on after the last one, at the end of `fit`.

    `train` is the batched training data of the `fit`; its first batches are kept (as
    arrays) for every calibration of the `fit`. `seconds` adds up the time it took;
    `on_seconds(seconds)`, if given, is called with each calibration's.
    """

    def __init__(self, train, examples=CALIBRATION_EXAMPLES, on_seconds=None):
        super().__init__()
        self.train = train
        self.examples = examples
        self.on_seconds = on_seconds
        self.seconds = 0.0
        self.calibrations = 0
        self._batches = None
        self._stale = False

    def on_train_begin(self, logs=None):
        self._stale = False

    def on_train_batch_end(self, batch, logs=None):
        self._stale = True

    def on_test_begin(self, logs=None):
        if self._stale:
            self.calibrate()

    def on_train_end(self, logs=None):
        if self._stale:
            self.calibrate()

    def calibrate(self):
        """Recomputes the statistics now (nothing happens to a model without BatchNormalization)."""
        started = time.perf_counter()
        if batch_norm_layers(self.model) and recompute_statistics(self.model,
                                                                  self._kept_batches()):
            self.calibrations += 1
        self._stale = False
        seconds = time.perf_counter() - started
        self.seconds += seconds
        if self.on_seconds is not None:
            self.on_seconds(seconds)

    def _kept_batches(self):
        """The first `examples` training examples, in batches of `CALIBRATION_BATCH`."""
        if self._batches is None:
            kept, count = [], 0
            for batch in self.train:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                kept.append(keras.ops.convert_to_numpy(x))
                count += len(kept[-1])
                if count >= self.examples:
                    break
            examples = np.concatenate(kept)[:self.examples] if kept else []
            self._batches = [examples[start:start + CALIBRATION_BATCH]
                             for start in range(0, len(examples), CALIBRATION_BATCH)]
        return self._batches
