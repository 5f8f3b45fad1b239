"""The search plan: trials and epochs from the tuner, time from a short timing probe."""

import dataclasses
import math
import time
import typing

import keras
import keras_tuner as kt

from tfopt.tuning.budget import RETRAIN_SHARE
from tfopt.data.pipeline import batched, first_batches
from tfopt.training.strategy import build_training_state, clear_session, gpu_count
from tfopt.tuning.model_cost import multiply_adds

# On CPU the probe times a configuration at this batch size when its own is larger, and scales
# its time an example to its own batch. Measured on Fashion-MNIST, one core (2-core AMD EPYC):
# the 3-block, batch-256 samples took 296 and 288 s an epoch by batch 32 against 307 and 304 s
# by their own, and 3.8-4.0 s of probing each instead of 12.3-12.7 s (the default, batch 64: 30.3
# against 29.7 s). On a GPU a small batch costs far more an example, so it times its own there.
CPU_PROBE_BATCH = 32


class Probe(typing.NamedTuple):
    setup: float  # mean seconds to build, compile and trace a model
    epoch_seconds: float  # mean seconds an epoch
    timings: list  # (multiply-adds an example, seconds an epoch) of each model timed


class _StepTimer(keras.callbacks.Callback):
    """Step end times of one `fit`, after its start time."""

    def on_train_begin(self, logs=None):
        self.times = [time.perf_counter()]

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())

    def step_seconds(self):
        """Seconds of each step after the first (which carries the tracing or a new iterator)."""
        return [end - start for start, end in zip(self.times[1:], self.times[2:])]


def probe(hypermodel, train, train_size, *, samples=3, steps=12, seed=0, space=None,
          seconds=0.5):
    """Times the default model and `samples` sampled ones: a `Probe` with the mean seconds to
    build and compile and seconds per epoch of a trial's model, and each model's
    (multiply-adds an example, seconds an epoch) (`tfopt.tuning.model_cost`).

    Each trains the first batch (which carries the tracing) and 3 timed ones, then, if
    those took under `seconds`, the rest of `steps` (`_time_one`). Sampled models are the
    search's typical trial: bigger or smaller than the default, with other batch sizes.
    `space` holds the user's ranges (`tfopt.space.apply_space`), if any. On CPU each is
    timed on batches of at most `CPU_PROBE_BATCH`; on a GPU on its own batch size.
    """
    batch = None if gpu_count() else CPU_PROBE_BATCH
    timings = [_time_one(hypermodel, hp, train, train_size, steps, seconds, batch=batch)
               for hp in _probe_configurations(hypermodel, samples, seed, space)]
    setups, epochs, costs = zip(*timings)
    return Probe(sum(setups) / len(setups), sum(epochs) / len(epochs),
                 [(cost, epoch) for cost, epoch in zip(costs, epochs)])


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


def _time_one(hypermodel, hp, train, train_size, steps, seconds, timed=3, batch=None):
    """(seconds to build, compile and trace, seconds an epoch, multiply-adds an example) of one
    configuration.

    Timed on batches of at most `batch` examples (None: its own batch size), its time an
    example scaled to its own batch size.

    Two fits, each to the end of its batches: the first batch and `timed` more, then, if
    those took under `seconds`, the rest of `steps` (no new tracing). A fit stopped
    half-way would leave its input iterator behind, and collecting it took 2.1-2.5 s
    (measured: a 3-block, batch-256 model on Fashion-MNIST, one core).
    """
    started = time.perf_counter()
    model = hypermodel.build(hp)
    batch_size = hypermodel.batch_size(hp)
    timed_batch = min(batch_size, batch or batch_size)
    batches = batched(train, timed_batch)
    first = first_batches(batches, 1 + timed)
    build_training_state(model, first)
    timer = _StepTimer()
    model.fit(first, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
    step_times = timer.step_seconds()
    traced = timer.times[1]  # the first batch carries the tracing
    if steps > 1 + timed and sum(step_times) < seconds:
        model.fit(first_batches(batches, steps - 1 - timed), epochs=1, verbose=0,
                  shuffle=False, callbacks=[timer])
        step_times += timer.step_seconds()
    per_step = sum(step_times) / len(step_times) if step_times else 0.0  # one batch: all setup
    setup = traced - started - per_step
    cost = multiply_adds(model)
    clear_session()
    # Validation passes and epoch ends add about a tenth to training time.
    own_step = per_step * batch_size / timed_batch
    return setup, 1.1 * own_step * math.ceil(train_size / batch_size), cost


def retrain_epochs(config, train_val_ratio):
    """Most epochs the final stage trains, in epochs of the training split: each
    retrain (seeds of the best trial, then the other ensemble members) runs at
    most `config.epochs` epochs on train+validation (`train_val_ratio` times the
    training split)."""
    if not config.retrain:
        return 0
    runs = config.seeds + config.ensemble - 1
    return runs * config.epochs * train_val_ratio


def kept_retrain_epochs(config, train_val_ratio, epoch_seconds):
    """`retrain_epochs`, or 0 under a budget where retraining would take more than
    `tfopt.budget.RETRAIN_SHARE` of it (the final model is then the best checkpoint)."""
    epochs = retrain_epochs(config, train_val_ratio)
    if config.budget and epochs * epoch_seconds > RETRAIN_SHARE * config.budget:
        return 0
    return epochs


def estimated_seconds(trials, epochs, setup, epoch_seconds, retrain_epochs=0):
    """Seconds of a plan of `trials` trials, `epochs` epochs in all, then the retraining."""
    return trials * setup + (epochs + retrain_epochs) * epoch_seconds


def epochs_for_budget(config, setup, epoch_seconds, train_val_ratio):
    """The largest Hyperband `max_epochs` of `config.epochs`, /3, /9, ... (at least 3) whose
    brackets (one round of each, uncapped), retraining included (when kept aside), fit
    `config.budget` seconds."""
    from tfopt.tuning.tuners import make_oracle, plan

    epochs = config.epochs
    while epochs > 3:
        trials, total = plan(make_oracle("hyperband", "val_accuracy", epochs=epochs), epochs)
        final = kept_retrain_epochs(dataclasses.replace(config, epochs=epochs), train_val_ratio,
                                    epoch_seconds)
        if estimated_seconds(trials, total, setup, epoch_seconds, final) <= config.budget:
            break
        epochs = max(3, epochs // 3)
    return epochs


def describe(tuner_kind, trials, epochs, setup, epoch_seconds, *, retrain_epochs=0,
             budget=None, repeat=False, explore=True, retrain=True):
    """One paragraph a person can check the search against.

    Under a `budget`: `repeat` when Hyperband's brackets go round until it is
    spent; `explore=False` when one round does not fit (the defaults train
    instead, then retrain); `retrain` is whether the best trial retrains at all
    (`retrain_epochs` 0 with it: more than `tfopt.budget.RETRAIN_SHARE` of the
    budget by the probe, so no time is kept for it at first)."""
    search_seconds = trials * setup + epochs * epoch_seconds
    final_seconds = retrain_epochs * epoch_seconds
    scope = "one round of its brackets:" if repeat else "up to"
    text = (f"[tfopt] plan: {tuner_kind}, {scope} {trials} trials, {epochs} epochs in all; a "
            f"typical model takes {setup:.1f} s to build and {epoch_seconds:.1f} s an epoch, "
            f"so about {_minutes(search_seconds)}")
    if retrain_epochs:
        text += (f", then retraining on train+validation (at most {retrain_epochs:.0f} epochs, "
                 f"about {_minutes(final_seconds)}): about {_minutes(search_seconds + final_seconds)}"
                 " in all")
    text += " (early stopping can end trials sooner)."
    if not budget:
        return text
    text += f" Budget {_minutes(budget)}: "
    if not explore:
        return text + ("too short for one round, so the default configuration trains instead, "
                       + ("then retrains on train+validation for as many epochs, both within "
                          "the budget." if retrain else "until the deadline."))
    text += (("the brackets repeat until it is spent; " if repeat else "")
             + "no trial is started that would not end in time"
             + ("; from half the budget on, and with the time left over, the best trial "
                "continues while it improves"
                if tuner_kind == "hyperband" else ""))
    if retrain_epochs:
        text += "; time to retrain the best trial is kept aside."
    elif retrain:
        text += (f"; retraining would take more than {RETRAIN_SHARE:.0%} of the budget by the "
                 "probe, so no time is kept for it unless the best trial turns out faster "
                 "(it retrains if the search leaves time; otherwise the final model is the "
                 "best trial's checkpoint).")
    else:
        text += "."
    return text


def _minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
