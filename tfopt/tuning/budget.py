"""A wall-clock budget: parsing "90s"/"10m"/"2h", and deciding whether the next trial fits.

The search asks `Budget.fits` before launching each trial; a trial that would
end past the deadline is not started (Hyperband then continues the best trial
for the epochs left, see `tfopt.tuning.tuners`), and `tfopt.training.callbacks.DeadlineCallback`
ends a running trial at the deadline. Time for the final retraining is set
aside as the search goes, from the best trial so far, when it takes at most
`RETRAIN_SHARE` of the budget (`RETRAIN_SHARE_NO_SEARCH` when the budget is
too short to search and the defaults train instead); a retraining that costs
more than that is not kept aside and its time goes to the search; should the
search end with enough time left, it retrains all the same (otherwise the
final model is the best trial's checkpoint).

Here: parsing a budget, the time arithmetic of a plan under it (`epochs_for_budget`,
`kept_retrain_epochs`), the `Budget` a search asks (`for_search`), the callback that ends a
trial at the deadline (`callbacks`), whether the final model retrains in the time left
(`retrain_decision`) and what results.json records (`summary`). Its users: the plan
(`tfopt.tuning.plan.make_plan` decides whether Hyperband's brackets repeat or the defaults
train instead), the oracles (`tfopt.tuning.tuners._WithinBudget`) and the deadline callback
(`tfopt.training.callbacks.DeadlineCallback`)."""

import dataclasses
import functools
import math
import re
import time

from tfopt.errors import InputError
from tfopt.log import logger
from tfopt.tuning.model_cost import configuration_cost, epoch_seconds_by_cost

_UNITS = {"s": 1, "m": 60, "h": 3600}
# Largest share of the budget the final retraining may take. Retraining from scratch on
# train+validation repeats the best trial's whole training for ~10% more data; under a tight
# budget those seconds buy more as the search's (Fashion-MNIST on one core: 4-5 epochs in all).
RETRAIN_SHARE = 0.25
# The same when there is no search (the defaults train, then retrain): the final model averages
# the two, and that beat one model trained on for the whole budget (Fashion-MNIST, default VGG,
# one core: two 7-epoch models averaged, 0.914-0.918 test accuracy in four pairs; one model for
# 5 minutes, ended by early stopping at epoch 10, best at 7: 0.910).
RETRAIN_SHARE_NO_SEARCH = 0.5
# Hyperband searches under a budget when one round of its brackets takes at most this share of
# the time left; otherwise the defaults train, with a learning rate annealed over the epochs
# that fit (`explore` off). Fashion-MNIST, 20 minutes, 2 cores: searching (13 trials at
# max_epochs 3) scored 0.9001 and 0.9073 test; the defaults continued while they improved 0.9156.
SEARCH_SHARE = 0.5
# Small data's default final model averages several retrainings (`tfopt.data.tasks.
# SEARCH_DEFAULTS`) only where the extra ones are cheap: estimated at their most epochs, in
# seconds at most this. Fashion-MNIST's 3,000-image folder (3 epochs) and digits' short
# searches fit; MR's TextCNN (an 8,635-sentence epoch takes 15-30 s on 2 cores) does not: with
# 3 retrainings of 4 epochs its 2-trial search took 960 s against 377 s with one.
CHEAP_RETRAININGS_SECONDS = 60.0
# Share of the budget after which Hyperband's best trial so far continues while it improves
# (once), before the brackets go on. Measured on Fashion-MNIST, 20 minutes on one core
# without it: 10 trials of at most 3 epochs, test accuracy 0.9073 (the averaged final model);
# with it: the defaults continued from epoch 3 to 12 (best at 5), 0.9158.
EXPLOIT_AFTER = 0.5
# Shortest seconds an epoch is taken to last (the estimates divide by it).
MIN_EPOCH_SECONDS = 0.01
# The final stage besides retraining: predicting the test split with each candidate and the
# final model, the exports (each reloaded and checked there) and the report. Measured on 2
# cores, from the search's last trial to the end: digits 4.1 s (with a retraining), mr 5.4 s
# (7.7 s in the benchmark, beside the peer) and Fashion-MNIST 8.9 s (without). Estimated as
# FINAL_FIXED_SECONDS plus one model's build plus (4 + retrainings) passes over the test
# split, a pass at INFERENCE_SHARE of a training epoch's time an example: 5.5, 6.7 and
# 10.6 s for those runs (before the noise share).
FINAL_FIXED_SECONDS = 3.0
INFERENCE_SHARE = 1 / 3
# Share of the budget (at most MAX_NOISE_SECONDS) kept on top of that for noise.
NOISE_SHARE, MAX_NOISE_SECONDS = 0.03, 30.0


def parse_budget(value):
    """Seconds from a number of seconds or text like "90s", "10m", "1.5h" (None stays None).

    Raises:
        InputError: for anything else, or a budget that is not positive.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(value).lower())
        if not match:
            raise InputError(f"budget must be a time like 90s, 10m or 2h (or a number of "
                             f"seconds). Received: {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise InputError(f"budget must be more than 0 seconds. Received: {value!r}")
    return seconds


def format_seconds(seconds):
    """"45 s", "12.5 min" or "2.0 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class Budget:
    """Deadline bookkeeping for one search.

    `setup` and `epoch_seconds` start from the plan's timing probe and are
    updated from each finished trial (`epoch_seconds`: their mean). With `cost`
    (hyperparameter values -> the model's multiply-adds an example, see
    `tfopt.tuning.model_cost`) and `timings` (the probe's (multiply-adds, seconds an
    epoch)), a next trial's epochs are estimated from its own model: seconds an
    epoch interpolated by cost between the models timed so far (sampled models
    differ in compute by 50x and more). A trial that continues another is estimated
    by that one's seconds an epoch, the final retraining by the best trial's.
    `spent` seconds of the budget are gone already (loading the data, the
    probe). `final_runs` retrainings on train+validation (`train_val_ratio`
    times an epoch of the training split) are set aside for the final model;
    `margin` seconds for evaluation (`test_ratio`: the test split's size over
    the training split's), export and the report (default: estimated as the
    search goes, see `margin`). With cross-validation a trial trains `folds` times,
    each on `fold_share` times the training split's examples.
    """

    def __init__(self, seconds, *, setup, epoch_seconds, spent=0.0, final_runs=0,
                 train_val_ratio=1.0, test_ratio=0.0, margin=None, explore=True,
                 cost=None, timings=(), clock=time.monotonic, folds=1, fold_share=1.0):
        self.seconds = float(seconds)
        self.clock = clock
        self.deadline = clock() + self.seconds - spent
        self.setup = float(setup)
        self.epoch_seconds = max(MIN_EPOCH_SECONDS, float(epoch_seconds))
        self.final_runs = final_runs
        self.train_val_ratio = train_val_ratio
        self.test_ratio = test_ratio
        self._margin = margin
        self.best_epochs = 0
        self.stopped = None  # why no more trials were launched, once that happened
        self.continued = []  # (trial id, from epoch, to epoch) of each continuation of the best
        self.redrawn = 0  # drawn models that would not have ended in time, and gave way to others
        self.explore = explore  # False: too short to search; the first trial is continued instead
        self.folds, self.fold_share = folds, fold_share
        self._epoch_times = {}  # trial id (or order) -> its seconds an epoch
        self._best_trial_id = None
        self._cost = cost
        self._costs = {}  # hyperparameter values (as a sorted tuple) -> multiply-adds
        self._timed = {f"probe {i}": timing for i, timing in enumerate(timings)}

    @property
    def margin(self):
        """Seconds kept for the final stage besides retraining (as given, or estimated from
        the best trial's seconds an epoch; see `FINAL_FIXED_SECONDS`), plus noise."""
        if self._margin is not None:
            return self._margin
        test_pass = self.test_ratio * INFERENCE_SHARE * self.best_epoch_seconds()
        final = FINAL_FIXED_SECONDS + self.setup + (4 + self.final_runs) * test_pass
        return final + min(MAX_NOISE_SECONDS, NOISE_SHARE * self.seconds)

    def remaining(self):
        return self.deadline - self.clock()

    def exploit_due(self):
        """Whether `EXPLOIT_AFTER` of the budget is spent and no trial was continued for it yet."""
        return not self.continued and self.remaining() <= (1 - EXPLOIT_AFTER) * self.seconds

    def trial_seconds(self, epochs, values=None):
        """Estimated seconds of a trial that trains `epochs` epochs (of the model of
        hyperparameter `values`, when given), all its folds' with cross-validation."""
        return self.folds * (self.setup + epochs * self.fold_share *
                             self.model_epoch_seconds(values))

    def model_epoch_seconds(self, values=None):
        """Estimated seconds an epoch of the model of hyperparameter `values`: the trial it
        continues, if any, took; else by its cost from the models timed so far (see
        `tfopt.tuning.model_cost.epoch_seconds_by_cost`); else the mean of the trials so far."""
        values = values or {}
        if values.get("tuner/trial_id") in self._epoch_times:
            return self._epoch_times[values["tuner/trial_id"]]
        cost = self.model_cost(values) if values else None
        fitted = epoch_seconds_by_cost(self._timed.values()) if cost is not None else None
        if fitted is None:
            return self.epoch_seconds
        return max(MIN_EPOCH_SECONDS, fitted(cost))

    def model_cost(self, values):
        """Multiply-adds an example of the model of hyperparameter `values` (None without a
        `cost` function, or when it cannot tell)."""
        if self._cost is None:
            return None
        key = tuple(sorted((k, repr(v)) for k, v in values.items() if not k.startswith("tuner/")))
        if key not in self._costs:
            self._costs[key] = self._cost(values)
        return self._costs[key]

    def final_seconds(self, epochs=None, runs=None):
        """Estimated seconds of the final retraining (`runs` of them; default `final_runs`)
        for a best trial of `epochs` epochs (default: the best trial so far)."""
        epochs = self.best_epochs if epochs is None else epochs
        runs = self.final_runs if runs is None else runs
        if not runs or not epochs:
            return 0.0
        return runs * (self.setup + epochs * self.train_val_ratio * self.best_epoch_seconds())

    def best_epoch_seconds(self):
        """Seconds an epoch of the best trial so far (the mean of all trials before it is
        known)."""
        return self._epoch_times.get(self._best_trial_id, self.epoch_seconds)

    def retrain_share(self):
        """Largest share of the budget the final retraining may take (`RETRAIN_SHARE`, or
        `RETRAIN_SHARE_NO_SEARCH` without a search)."""
        return RETRAIN_SHARE if self.explore else RETRAIN_SHARE_NO_SEARCH

    def keeps_final(self, epochs=None):
        """Whether time for the final retraining is kept aside: it takes at most
        `retrain_share()` of the budget (for a best trial of `epochs`; default the best so
        far), and it still fits in the time left (otherwise that time goes to trials)."""
        needed = self.final_seconds(epochs)
        return needed <= min(self.retrain_share() * self.seconds, self.remaining() - self.margin)

    def search_remaining(self):
        """Seconds left for trials: the time left less the final stage's share (when kept
        aside) and the margin."""
        return self.remaining() - self.final_seconds() * self.keeps_final() - self.margin

    def epochs_that_fit(self, partial=0.5, continuing=None):
        """Whole epochs of one more trial (its setup included) that end in time; 1 when less
        than one but at least `partial` of an epoch fits (the deadline then cuts that epoch,
        and Keras still validates what it trained).

        `continuing`: the best trial's epochs, for a trial that continues it. Its epochs
        then take the best trial's own time, and the retraining kept aside grows by each
        epoch it adds, up to the epochs whose retraining stays within its share (when not
        even one more does, the retraining is not kept aside)."""
        if continuing is None:
            epochs = (self.search_remaining() - self.setup) / self.epoch_seconds
        else:
            epochs = (self.search_remaining() - self.setup) / self.best_epoch_seconds()
            grown = self._epochs_with_final(continuing, self.best_epoch_seconds())
            if self.final_runs and self.keeps_final(continuing + 1):
                epochs = min(grown, self._most_retrained_epochs() - continuing)
        return int(epochs) if epochs >= 1 else int(epochs >= partial)

    def continue_best(self, trial_id, from_epoch, to_epoch):
        """Records a continuation of the best trial (`trial_id`) to `to_epoch`, and keeps the
        retraining of all its epochs aside while it runs (when that is kept at all): so the
        deadline ends the continuation, should it run slower than estimated, in time to retrain
        the epochs it reached."""
        self.continued.append((trial_id, from_epoch, to_epoch))
        if self.final_runs and self.keeps_final(to_epoch):
            self.best_epochs = to_epoch

    def _most_retrained_epochs(self):
        """Most epochs of a best trial whose retraining stays within its share of the budget."""
        per_epoch = self.final_runs * self.train_val_ratio * self.best_epoch_seconds()
        return (self.retrain_share() * self.seconds - self.final_runs * self.setup) / per_epoch

    def epochs_until_deadline(self):
        """Epochs of one more trial (its setup included) that reach the deadline, the last one
        cut short by it (at least 1)."""
        return max(1, math.ceil((self.search_remaining() - self.setup) / self.epoch_seconds))

    def first_trial_epochs(self, values=None):
        """Epochs of the first trial when there is no search (`explore` off): it and its
        retraining end in time, by the probe's time an epoch of its model (of hyperparameter
        `values`, when given: the only model that trains from then on; a later continuation
        goes by the trial's own); without retraining, up to the deadline
        (`epochs_until_deadline`). The retraining's time is then kept aside for those epochs
        while the trial runs."""
        if values:
            self.epoch_seconds = self.model_epoch_seconds(values)
        epochs = max(1, int(self._epochs_with_final(0, self.epoch_seconds)))
        if not self.final_runs or not self.keeps_final(epochs):
            return self.epochs_until_deadline()
        self.best_epochs = epochs
        return epochs

    def _epochs_with_final(self, epochs_so_far, epoch_seconds):
        """Epochs (a float) a trial can add to `epochs_so_far` when the final retraining grows
        with them: the trial's setup and epochs, then the retraining of all of them, end at
        the deadline less the margin."""
        runs, ratio = self.final_runs, self.train_val_ratio
        fixed = self.setup + runs * (self.setup + epochs_so_far * ratio * epoch_seconds)
        return (self.remaining() - self.margin - fixed) / (epoch_seconds * (1 + runs * ratio))

    def fits(self, epochs, values=None):
        """True when a trial of `epochs` epochs (of the model of hyperparameter `values`, when
        given), then the final stage, ends before the deadline; otherwise records why in
        `stopped`."""
        seconds = self.trial_seconds(epochs, values)
        if seconds <= self.search_remaining():
            self.stopped = None
            return True
        self.stopped = (f"the next trial ({epochs} epoch{'s' * (epochs != 1)}, about "
                        f"{format_seconds(seconds)}) would not fit in the "
                        f"{format_seconds(max(0.0, self.search_remaining()))} left for trials "
                        f"of the "
                        f"{format_seconds(self.seconds)} budget")
        return False

    def record_trial(self, seconds, epochs_run, best_epochs=None, trial_id=None,
                     best_trial_id=None, values=None):
        """Updates the per-epoch estimates from a finished trial (`trial_id`, of
        hyperparameter `values`), and the best trial's epochs (and id)."""
        if epochs_run:  # all folds' epochs with cross-validation
            key = len(self._epoch_times) if trial_id is None else trial_id
            # The probe's setup can exceed a small model's whole trial: setup then counts
            # for at most half of the trial, so an epoch never looks free.
            training = max(seconds - self.folds * self.setup, 0.5 * seconds,
                           MIN_EPOCH_SECONDS * epochs_run)
            self._epoch_times[key] = training / (epochs_run * self.fold_share)
            self.epoch_seconds = sum(self._epoch_times.values()) / len(self._epoch_times)
            cost = self.model_cost(values) if values else None
            if cost is not None:
                self._timed[key] = (cost, self._epoch_times[key])
        if best_epochs is not None:
            self.best_epochs = best_epochs
            self._best_trial_id = best_trial_id


def cheap_seeds(config, setup, epoch_seconds, train_val_ratio):
    """`config.seeds` (small data's default, `SearchConfig.with_search_defaults`), or 1 when
    its retrainings beyond the first would take more than `CHEAP_RETRAININGS_SECONDS`."""
    extra = (config.seeds - 1) * (setup + config.epochs * train_val_ratio * epoch_seconds)
    return config.seeds if extra <= CHEAP_RETRAININGS_SECONDS else 1


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
    `tfopt.tuning.budget.RETRAIN_SHARE` of it (the final model is then the best checkpoint)."""
    epochs = retrain_epochs(config, train_val_ratio)
    if config.budget and epochs * epoch_seconds > RETRAIN_SHARE * config.budget:
        return 0
    return epochs


def estimated_seconds(trials, epochs, setup, epoch_seconds, retrain_epochs=0):
    """Seconds of a plan of `trials` trials, `epochs` epochs in all, then the retraining."""
    return trials * setup + (epochs + retrain_epochs) * epoch_seconds


def epochs_for_budget(config, setup, epoch_seconds, train_val_ratio):
    """The largest Hyperband `max_epochs` of `config.epochs`, /3, /9, ... (at least 3) whose
    brackets (one round of each, uncapped) take at most `SEARCH_SHARE` of `config.budget`
    seconds, and with the retraining (when kept aside) fit in it."""
    from tfopt.tuning.tuners import make_oracle, plan

    epochs = config.epochs
    while epochs > 3:
        trials, total = plan(make_oracle("hyperband", "val_accuracy", epochs=epochs), epochs)
        final = kept_retrain_epochs(dataclasses.replace(config, epochs=epochs), train_val_ratio,
                                    epoch_seconds)
        round_seconds = estimated_seconds(trials, total, setup, epoch_seconds)
        if round_seconds <= SEARCH_SHARE * config.budget and \
                round_seconds + final * epoch_seconds <= config.budget:
            break
        epochs = max(3, epochs // 3)
    return epochs


def for_search(config, plan, sizes, hypermodel, started):
    """The `Budget` of a search under `config.budget` (None without one), from its `plan`
    (`tfopt.tuning.plan.Plan`) and the splits' `sizes`; `started` is when the command began."""
    if not config.budget:
        return None
    return Budget(config.budget, spent=time.time() - started, setup=plan.setup,
                  epoch_seconds=plan.epoch_seconds, train_val_ratio=plan.train_val_ratio,
                  test_ratio=sizes["test"] / sizes["train"],
                  final_runs=(config.seeds + config.ensemble - 1) * config.retrain,
                  explore=plan.explore, timings=plan.timings,
                  cost=functools.partial(configuration_cost, hypermodel),
                  folds=plan.folds, fold_share=plan.fold_share)


def callbacks(budget):
    """The Keras callbacks that end a running trial at the budget's deadline."""
    if budget is None:
        return []
    from tfopt.training.callbacks import DeadlineCallback

    return [DeadlineCallback(budget)]


def retrain_decision(config, budget):
    """Whether to retrain: as asked, unless the budget's time left cannot fit it."""
    if budget is None:
        return config.retrain
    if budget.stopped:
        logger.info(f"budget: no more trials: {budget.stopped}")
    if budget.redrawn:
        logger.info(f"budget: {budget.redrawn} drawn model(s) would not have ended in time; "
                    "others were drawn in their place")
    for trial_id, begin, end in budget.continued:
        logger.info(f"budget: continued trial {trial_id} from epoch {begin} to {end} with the "
                    "time left")
    if not config.retrain:
        return False
    needed = budget.final_seconds(runs=config.seeds + config.ensemble - 1)
    left = budget.remaining() - budget.margin
    kept = budget.final_runs and budget.keeps_final()
    if needed <= left:  # kept aside, or the search ended early enough
        if not kept:
            logger.info(f"budget: the search ended with {format_seconds(left)} left; "
                        f"retraining (about {format_seconds(needed)}) fits in it")
        return True
    over_share = needed > budget.retrain_share() * budget.seconds
    why = (f" (more than {budget.retrain_share():.0%} of the {format_seconds(budget.seconds)} "
           "budget, so no time was kept for it)") if over_share else ""
    logger.info(f"budget: no retraining: it would take about {format_seconds(needed)}{why}, "
                f"{format_seconds(max(0.0, left))} are left; the final model is the best "
                "trial's checkpoint")
    return False


def summary(budget, retrained, config):
    """What results.json records about the wall-clock budget (None without one)."""
    if budget is None:
        return None
    return {"seconds": config.budget, "max_epochs": config.epochs, "stopped": budget.stopped,
            "searched": budget.explore, "redrawn": budget.redrawn,
            "continued": [{"trial_id": t, "from_epoch": b, "to_epoch": e}
                          for t, b, e in budget.continued],
            "retrain_skipped": bool(config.retrain and not retrained)}
