"""The callbacks every trial gets, assembled once per search."""

import math
import time

import keras
import keras_tuner as kt

from tfopt.choices import objective_direction
from tfopt.training.tensorboard_logs import tensorboard_callback

try:
    import resource
except ImportError:  # not on Windows
    resource = None


PATIENCE = 3  # epochs without a better validation score before a trial stops


def trial_callbacks(log_dir, *, objective="val_accuracy", patience=PATIENCE):
    """EarlyStopping with best-weight restore, TensorBoard, and a NaN/inf check.

    keras-tuner gives each trial its own TensorBoard folder under `log_dir`
    (`trial_<id>/{train,validation}`) and writes the HParams
    dashboard data next to it.
    """
    return [
        keras.callbacks.EarlyStopping(monitor=objective, mode=objective_direction(objective),
                                      patience=patience, restore_best_weights=True),
        tensorboard_callback(log_dir),
        FailOnNonFinite(objective),
    ]


class FailOnNonFinite(keras.callbacks.Callback):
    """Ends a trial as FAILED, with the reason, when an epoch's loss or objective is NaN or
    infinite (keras-tuner would keep such a trial, and a NaN epoch could count as its best)."""

    def __init__(self, objective="val_accuracy"):
        super().__init__()
        self.objective = objective

    def on_epoch_end(self, epoch, logs=None):
        for name in ("loss", self.objective):
            value = (logs or {}).get(name)
            if value is not None and not math.isfinite(value):
                raise kt.errors.FailedTrialError(f"{name} became {value} in epoch {epoch + 1}")


class StepClock(keras.callbacks.Callback):
    """Adds up the seconds spent inside training steps (`total`), across the copies
    keras-tuner makes of it for each trial; everything else in a trial is overhead.

    The first batch of each `fit` carries the tracing of the train step, so it counts
    as one average step of that `fit` (its tracing as overhead); a `fit` of one batch
    counts none. `batch_ends` holds each batch's end in the last `fit`
    (`time.perf_counter()`), for timings that count the input pipeline too
    (`between_batches`).
    """

    def __init__(self, _tally=None):
        super().__init__()
        self._tally = [0.0] if _tally is None else _tally  # shared by the copies
        self._began = None
        self._first, self._steps, self._seconds = None, 0, 0.0
        self.batch_ends = []

    @property
    def total(self):
        return self._tally[0]

    def reset(self):
        self._tally[0] = 0.0

    def on_train_begin(self, logs=None):
        self._first, self._steps, self._seconds = None, 0, 0.0
        self.batch_ends = []

    def between_batches(self):
        """Seconds from each batch's end to the next one's of the last `fit`, after the first
        batch (which carries the tracing or a new iterator)."""
        return [end - start for start, end in zip(self.batch_ends, self.batch_ends[1:])]

    def on_train_batch_begin(self, batch, logs=None):
        self._began = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.batch_ends.append(now)
        if self._began is None:
            return
        seconds, self._began = now - self._began, None
        if self._first is None:
            self._first = seconds
            return
        self._tally[0] += seconds
        self._steps, self._seconds = self._steps + 1, self._seconds + seconds

    def on_train_end(self, logs=None):
        if self._steps:
            self._tally[0] += self._seconds / self._steps  # the first batch's own step

    def __deepcopy__(self, memo):  # a fresh copy (no model kept) on the same tally
        return StepClock(self._tally)


def peak_rss_mb():
    """The process's peak resident memory so far in MiB (None where the OS does not say)."""
    if resource is None:
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class DeadlineCallback(keras.callbacks.Callback):
    """Stops training when only the final stage's share of `budget` is left (checked after
    every batch); the trial keeps what it reached."""

    def __init__(self, budget):
        super().__init__()
        self.budget = budget

    def on_train_batch_end(self, batch, logs=None):
        if self.budget.search_remaining() <= 0:
            self.model.stop_training = True

    def __deepcopy__(self, memo):  # keras-tuner copies callbacks per trial; share the budget
        return DeadlineCallback(self.budget)
