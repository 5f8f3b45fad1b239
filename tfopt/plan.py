"""The search plan: trials and epochs from the tuner, time from a short timing probe."""

import math
import time

import keras
import keras_tuner as kt

from tfopt.data.pipeline import batched


class _StepTimer(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())

    def on_train_begin(self, logs=None):
        self.times = [time.perf_counter()]


def probe(hypermodel, train, train_size, *, steps=12):
    """Times the default model: (seconds to build and compile, seconds per epoch).

    Trains `steps` batches of the default configuration; the first batch
    carries the tracing cost, the rest give the time per step.
    """
    hp = kt.HyperParameters()
    started = time.perf_counter()
    model = hypermodel.build(hp)
    batch_size = hypermodel.batch_size(hp)
    timer = _StepTimer()
    model.fit(batched(train, batch_size).take(steps), epochs=1, verbose=0, shuffle=False,
              callbacks=[timer])
    after_first = timer.times[1:]  # the first batch carries the tracing
    per_step = (after_first[-1] - after_first[0]) / max(1, len(after_first) - 1)
    setup = after_first[0] - started - per_step
    keras.backend.clear_session()
    # Validation passes and epoch ends add about a tenth to training time.
    return setup, 1.1 * per_step * math.ceil(train_size / batch_size)


def describe(tuner_kind, trials, epochs, setup, epoch_seconds):
    """One paragraph a person can check the search against."""
    seconds = trials * setup + epochs * epoch_seconds
    total = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
    return (f"[tfopt] plan: {tuner_kind}, up to {trials} trials, {epochs} epochs in all; the default "
            f"model takes {epoch_seconds:.1f} s an epoch, so about {total} "
            "(early stopping can end trials sooner; bigger models take longer).")
