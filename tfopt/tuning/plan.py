"""The search plan: trials and epochs from the tuner, time from a short timing probe."""

import dataclasses
import math
import time
import typing

import keras_tuner as kt

from tfopt.tuning.budget import (RETRAIN_SHARE, SEARCH_SHARE, cheap_seeds, epochs_for_budget,
                                  estimated_seconds, format_seconds, kept_retrain_epochs)
from tfopt.data.pipeline import batched, first_batches
from tfopt.training.callbacks import StepClock
from tfopt.training.strategy import build_training_state, clear_session, gpu_count
from tfopt.tuning.model_cost import multiply_adds
from tfopt.tuning.tuners import hyperband_epochs, make_oracle, plan as count_trials

# On CPU the probe times a configuration at this batch size when its own is larger, and scales
# its time an example to its own batch. Measured on Fashion-MNIST, one core (2-core AMD EPYC):
# the 3-block, batch-256 samples took 296 and 288 s an epoch by batch 32 against 307 and 304 s
# by their own, and 3.8-4.0 s of probing each instead of 12.3-12.7 s (the default, batch 64: 30.3
# against 29.7 s). On a GPU a small batch costs far more an example, so it times its own there.
# The default configuration, which a budget too short to search trains alone, is timed at its
# own batch everywhere: Fashion-MNIST's (2 blocks, batch 64, 2 cores) by batch 32 was planned
# for 11 epochs of a 20-minute budget, and ran 35 s an epoch, which left 5.8 minutes unused.
CPU_PROBE_BATCH = 32


REPEATS = 1000  # Hyperband iterations under a wall-clock budget: the budget ends the search


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the search will do and how long it should take."""

    tuner: str
    trials: int  # trials the tuner will run (one round of brackets when `repeat`)
    epochs: int  # epochs in all over those trials
    max_epochs: int  # the config's `epochs`, chosen for the budget under Hyperband
    max_trials: int  # None when a budget ends Hyperband's repeated brackets
    seeds: int  # retrainings of the best configuration (`cheap_seeds`)
    iterations: int  # Hyperband iterations
    setup: float  # the probe's seconds to build a model
    epoch_seconds: float  # and seconds an epoch
    timings: list  # (multiply-adds an example, seconds an epoch) of each model timed
    train_val_ratio: float  # train+validation over train examples
    repeat: bool  # Hyperband's brackets go round until the budget is spent
    explore: bool  # False: the budget is too short to search; the defaults train
    retrain_epochs: float  # epochs kept aside for retraining
    budget: float  # seconds, or None
    text: str  # the plan line a person reads
    note: str = None  # a warning after it: the budget is shorter than one trial
    folds: int = 1  # trainings a trial (cross-validation's folds)
    fold_share: float = 1.0  # each one's examples over the training split's

    def as_dict(self):
        """What `tfopt.search(..., plan_only=True)` returns."""
        return {"tuner": self.tuner, "trials": self.trials, "epochs": self.epochs,
                "max_epochs": self.max_epochs, "setup_seconds": round(self.setup, 2),
                "epoch_seconds": round(self.epoch_seconds, 2), "budget_seconds": self.budget,
                "estimated_seconds": round(self.folds * estimated_seconds(
                    self.trials, self.epochs * self.fold_share, self.setup, self.epoch_seconds)
                    + self.retrain_epochs * self.epoch_seconds),
                "folds": self.folds, "seeds": self.seeds, "text": self.text}


def make_plan(config, search_space, data, *, given, started):
    """The `Plan` of the search `config` describes, on `data` (`tfopt.runner.Data`), from a
    timing probe of the search space's models (`tfopt.runner.SearchSpace`); `given`:
    whether the user gave (epochs, max_trials, seeds), `started`: when the command began.
    Default seeds above 1 are kept only where those retrainings are cheap (`cheap_seeds`).

    The probe's time is the search's: a search times the default model and one sample,
    `--plan` (which only prints the plan) three samples. Under a budget Hyperband's
    brackets repeat until it is spent (unless `max_trials` is given), with the largest
    `max_epochs` whose round fits (unless `epochs` is given); when one round would take
    more than `SEARCH_SHARE` of the time left, the defaults train instead (`explore` False).
    """
    epochs_given, trials_given, seeds_given = given
    setup, epoch_seconds, timings = probe(search_space.hypermodel, data.train,
                                          data.sizes["train"],
                                          space=search_space.hyperparameters,
                                          samples=3 if config.plan_only else 1)
    ratio = (data.sizes["train"] + data.sizes["val"]) / data.sizes["train"]
    if not seeds_given:
        config = dataclasses.replace(config, seeds=cheap_seeds(config, setup, epoch_seconds,
                                                               ratio))
    repeat = bool(config.budget) and config.tuner == "hyperband" and not trials_given
    if repeat:
        epochs = config.epochs if epochs_given else epochs_for_budget(
            config, setup, epoch_seconds, ratio)
        config = dataclasses.replace(config, epochs=epochs, max_trials=None)
    oracle = make_oracle(config.tuner, data.settings["objective"], max_trials=config.max_trials,
                         epochs=config.epochs, hyperparameters=search_space.hyperparameters,
                         hypermodel=search_space.hypermodel)
    trials, total = count_trials(oracle, config.epochs)
    left = (config.budget or 0) - (time.time() - started)
    explore = not (repeat and not epochs_given and estimated_seconds(
        trials, total, setup, epoch_seconds) > SEARCH_SHARE * left)
    kept = kept_retrain_epochs(config, ratio, epoch_seconds) if explore else 0
    folds = (config.cv, (config.cv - 1) / config.cv * ratio) if config.cv else (1, 1.0)
    text = describe(config.tuner, trials, total, setup, epoch_seconds,
                    retrain_epochs=kept, schedule=hyperband_epochs(oracle)
                    if config.tuner == "hyperband" else None, budget=config.budget,
                    repeat=repeat, explore=explore, retrain=config.retrain, folds=folds,
                    seeds=config.seeds if config.retrain else 1)
    first = setup + (1 if config.tuner == "hyperband" else config.epochs) \
        * epoch_seconds
    note = None
    if config.budget and first > left:
        note = (f"budget: {format_seconds(config.budget)} is shorter than one trial (about "
                f"{format_seconds(first)} after loading and timing); the first trial runs "
                "anyway and is stopped at the deadline")
    return Plan(config.tuner, trials, total, config.epochs, config.max_trials, config.seeds,
                REPEATS if repeat else 1, setup, epoch_seconds, timings,
                ratio, repeat, explore, kept, config.budget, text, note, *folds)


class Probe(typing.NamedTuple):
    setup: float  # mean seconds to build, compile and trace a model
    epoch_seconds: float  # mean seconds an epoch
    timings: list  # (multiply-adds an example, seconds an epoch) of each model timed


def probe(hypermodel, train, train_size, *, samples=3, steps=12, seed=0, space=None,
          seconds=0.5):
    """Times the default model and `samples` sampled ones: a `Probe` with the mean seconds to
    build and compile and seconds per epoch of a trial's model, and each model's
    (multiply-adds an example, seconds an epoch) (`tfopt.tuning.model_cost`).

    Each trains the first batch (which carries the tracing) and 3 timed ones, then, if
    those took under `seconds`, the rest of `steps` (`_time_one`). Sampled models are the
    search's typical trial: bigger or smaller than the default, with other batch sizes.
    `space` holds the user's ranges (`tfopt.tuning.space.apply_space`), if any. On CPU each
    sample is timed on batches of at most `CPU_PROBE_BATCH`; the defaults, and on a GPU every
    model, on its own batch size.
    """
    batch = None if gpu_count() else CPU_PROBE_BATCH
    timings = [_time_one(hypermodel, hp, train, train_size, steps, seconds,
                         batch=None if i == 0 else batch)  # the defaults: at their own batch
               for i, hp in enumerate(_probe_configurations(hypermodel, samples, seed, space))]
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
    timer = StepClock()
    model.fit(first, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
    step_times = timer.between_batches()
    traced = timer.batch_ends[0]  # the first batch carries the tracing
    if steps > 1 + timed and sum(step_times) < seconds:
        model.fit(first_batches(batches, steps - 1 - timed), epochs=1, verbose=0,
                  shuffle=False, callbacks=[timer])
        step_times += timer.between_batches()
    per_step = sum(step_times) / len(step_times) if step_times else 0.0  # one batch: all setup
    setup = traced - started - per_step
    cost = multiply_adds(model)
    clear_session()
    # Validation passes and epoch ends add about a tenth to training time.
    own_step = per_step * batch_size / timed_batch
    return setup, 1.1 * own_step * math.ceil(train_size / batch_size), cost


def describe(tuner_kind, trials, epochs, setup, epoch_seconds, *, retrain_epochs=0,
             budget=None, repeat=False, explore=True, retrain=True, schedule=None,
             folds=(1, 1.0), seeds=1):
    """One paragraph a person can check the search against.

    Under a `budget`: `repeat` when Hyperband's brackets go round until it is
    spent; `explore=False` when one round does not fit (the defaults train
    instead, then retrain); `retrain` is whether the best trial retrains at all
    (`retrain_epochs` 0 with it: more than `tfopt.tuning.budget.RETRAIN_SHARE` of the
    budget by the probe, so no time is kept for it at first). `schedule`: the epochs
    Hyperband's trials train to (`tfopt.tuning.tuners.hyperband_epochs`). `folds`: (K, each
    fold's examples over the training split's) with cross-validation. `seeds`: how many
    times the best trial retrains."""
    count, share = folds
    search_seconds = count * (trials * setup + epochs * share * epoch_seconds)
    final_seconds = retrain_epochs * epoch_seconds * seeds
    scope = "one round of its brackets:" if repeat else "up to"
    text = (f"plan: {tuner_kind}, {scope} {_count(trials, 'trial')}, {epochs * count} epochs "
            f"in all; a "
            f"typical model takes {setup:.1f} s to build and {epoch_seconds:.1f} s an epoch, "
            f"so about {_minutes(search_seconds)}")
    if schedule:
        text = text.replace(" epochs in all;", f" epochs in all ({_schedule(schedule)});", 1)
    if count > 1:
        text = text.replace(f" {_count(trials, 'trial')}, ",
                            f" {_count(trials, 'trial')} of {count} cross-validation folds "
                            f"each (training {count} times a trial), ", 1)
    if retrain_epochs:
        times = f"{seeds} times, " if seeds > 1 else ""
        text += (f", then retraining on train+validation ({times}at most {retrain_epochs:.0f} "
                 f"epochs, about {_minutes(final_seconds)}): about "
                 f"{_minutes(search_seconds + final_seconds)} in all")
    text += " (early stopping can end trials sooner)."
    if not budget:
        return text
    text += f" Budget {_minutes(budget)}: "
    if not explore:
        return text + (f"one round would take more than {SEARCH_SHARE:.0%} of it, so the "
                       "default configuration trains instead (its learning rate annealed, "
                       "where the space has the cosine schedule) over "
                       + ("the epochs that leave time to retrain it on train+validation for as "
                          "many." if retrain else "the epochs until the deadline."))
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


def _schedule(epochs):
    """What Hyperband's trials train, for the plan line."""
    if len(epochs) == 1:
        return f"each trains up to {epochs[0]} epochs, too few trials to halve"
    return (f"trials train {', '.join(map(str, epochs[:-1]))} or {epochs[-1]} epochs, the best "
            f"ones continued as new trials; --epochs sets the most")


def _minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _count(number, noun):
    """'1 trial', '3 trials'."""
    return f"{number} {noun}" + ("" if number == 1 else "s")
