"""A learning-rate schedule that ends low within the epochs a `fit` is given."""

import math

import keras

WARMUP = 0.03  # share of the schedule that ramps the rate up from a tenth (at least one step)
FINAL = 0.01  # the rate at the end, as a share of the peak


def warmup_cosine(position, warmup=WARMUP, final=FINAL):
    """The learning rate at `position` in [0, 1] of a schedule, as a share of the peak:
    linear from a tenth up to 1 over `warmup`, then a half cosine down to `final`."""
    if position < warmup:
        return 0.1 + 0.9 * position / warmup
    done = min(1.0, (position - warmup) / (1 - warmup))
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * done))


class CosineSchedule(keras.callbacks.Callback):
    """Sets the optimizer's learning rate before every batch to `warmup_cosine` of the `fit`'s
    progress, peaking at the rate the optimizer was compiled with.

    The schedule spans the `fit`'s `epochs`, from epoch 0: a Hyperband trial that continues
    another's checkpoint from `initial_epoch` picks the schedule up where a run of its
    whole length would be. An optimizer whose rate is a `LearningRateSchedule` is left
    alone.
    """

    def __init__(self):
        super().__init__()
        self.peak = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        rate = getattr(self.model.optimizer, "learning_rate", None)
        self.peak = float(keras.ops.convert_to_numpy(rate)) \
            if isinstance(rate, keras.Variable) else None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.peak is None:
            return
        epochs, steps = self.params.get("epochs") or 1, self.params.get("steps")
        position = (self._epoch + (batch / steps if steps else 0)) / epochs
        self.model.optimizer.learning_rate.assign(self.peak * warmup_cosine(position))

    def on_train_end(self, logs=None):
        if self.peak is not None:  # the compiled rate back, as the model's config says
            self.model.optimizer.learning_rate.assign(self.peak)
