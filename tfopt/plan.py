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


def probe(hypermodel, train, train_size, *, samples=3, steps=12, seed=0, space=None):
    """Times the default model and `samples` sampled ones: mean (seconds to build and
    compile, seconds per epoch) of a trial's model.

    Each trains `steps` batches; the first batch carries the tracing cost,
    the rest give the time per step. Sampled models are the search's
    typical trial: bigger or smaller than the default, with other batch sizes.
    `space` holds the user's ranges (`tfopt.space.apply_space`), if any.
    """
    timings = [_time_one(hypermodel, hp, train, train_size, steps)
               for hp in _probe_configurations(hypermodel, samples, seed, space)]
    setups, epochs = zip(*timings)
    return sum(setups) / len(setups), sum(epochs) / len(epochs)


def _probe_configurations(hypermodel, samples, seed, space=None):
    """The default configuration, then `samples` drawn from the search space."""
    def declared():
        hp = space.copy() if space is not None else kt.HyperParameters()
        hypermodel.declare_hyperparameters(hp)
        return hp

    configurations = [declared()]
    for i in range(samples):
        hp = declared()
        for parameter in hp.space:
            hp.values[parameter.name] = parameter.random_sample(seed + i)
        configurations.append(hp)
    return configurations


def _time_one(hypermodel, hp, train, train_size, steps):
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


def retrain_epochs(config, train_val_size, train_size):
    """Most epochs the final stage trains, in epochs of the training split: each
    retrain (seeds of the best trial, then the other ensemble members) runs at
    most `config.epochs` epochs on train+validation."""
    if not config.retrain:
        return 0
    runs = config.seeds + config.ensemble - 1
    return runs * config.epochs * train_val_size / train_size


def describe(tuner_kind, trials, epochs, setup, epoch_seconds, *, retrain_epochs=0):
    """One paragraph a person can check the search against."""
    search_seconds = trials * setup + epochs * epoch_seconds
    final_seconds = retrain_epochs * epoch_seconds
    text = (f"[tfopt] plan: {tuner_kind}, up to {trials} trials, {epochs} epochs in all; a "
            f"typical model takes {epoch_seconds:.1f} s an epoch, so about "
            f"{_minutes(search_seconds)}")
    if retrain_epochs:
        text += (f", then retraining on train+validation (at most {retrain_epochs:.0f} epochs, "
                 f"about {_minutes(final_seconds)}): about {_minutes(search_seconds + final_seconds)}"
                 " in all")
    return text + " (early stopping can end trials sooner)."


def _minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
