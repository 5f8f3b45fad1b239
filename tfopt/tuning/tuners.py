"""Tuners: keras-tuner's own classes, with trial-k-of-N progress and a trial plan."""

import contextlib
import copy
import io
import itertools
import math
import os
import pathlib
import sys
import time
import warnings

import keras
import keras_tuner as kt

from tfopt import _compat
from tfopt.tuning.budget import format_seconds
from tfopt.training.callbacks import PATIENCE, peak_rss_mb

from tfopt.training.strategy import release_traced_graphs
from tfopt.durable import check_name, read_json_or, write_json
from tfopt.errors import InputError
from tfopt.tuning.recovery import DurableOracle, ResumableTuner, mark_resumable
from tfopt.training.tensorboard_logs import TrialLogs
from tfopt.choices import TUNERS, objective_direction
from tfopt.log import logger


STATS_FILE = "trial_stats.json"
# Models a budgeted search draws for its next trial before it stops: each that would not end in
# time by its own estimate (`tfopt.tuning.budget.Budget.model_epoch_seconds`) gives way to another.
DRAWS = 5


# keras-tuner's private methods that the classes below and their mixins (tfopt.tuning.recovery,
# tfopt.training.tensorboard_logs) override or call.
_compat.require_hooks(kt.Tuner, "_try_build", "_build_hypermodel", "_try_run_and_update_trial",
                      "_configure_tensorboard_dir", "_get_tensorboard_dir", "_is_worker",
                      "_get_tuner_fname", "_get_checkpoint_fname")
_compat.require_hooks(kt.Oracle, "_random_values", "_get_trial_dir", "_get_oracle_fname",
                      "_save_trial", "_check_consecutive_failures")


class _Progress:
    """Prints "trial <id> (k of N)" with the trial's hyperparameters and the best score so far,
    and records each trial's epochs run, seconds, when it ended, whether it stopped before
    its planned epochs, seconds inside training steps and recomputing BatchNormalization
    statistics, and the process's peak memory in
    `<project>/trial_stats.json`."""

    planned_trials = None
    step_clock = None  # the `StepClock` among the search's callbacks, if any

    def on_search_begin(self):
        super().on_search_begin()
        self.oracle.verbose = 0  # replaces keras-tuner's multi-line table per trial

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._trials_begun = getattr(self, "_trials_begun", 0) + 1
        trials = getattr(self.oracle, "trials", None)  # a worker's oracle is the chief's
        done = len(trials) - 1 if trials is not None else self._trials_begun - 1
        of = f" of {self.planned_trials}" if self.planned_trials else ""
        values = tuned_values(trial.hyperparameters)
        epochs = trial.hyperparameters.values.get("tuner/epochs")
        resumed = trial.hyperparameters.values.get("tuner/trial_id")
        note = f", epochs {trial.hyperparameters.values['tuner/initial_epoch']}->{epochs}" \
            f" continuing trial {resumed}" if resumed else ""
        # a trial is named by its id everywhere (files, TensorBoard, messages); "k of N"
        # only counts progress
        logger.info(f"trial {trial.trial_id} ({done + 1}{of}{note}): "
                    + ", ".join(f"{k}={_short(v)}" for k, v in values.items()))
        self._trial_stopped_early = False
        self._trial_started = time.monotonic()
        self._calibration_started = getattr(self.hypermodel, "calibration_seconds", 0.0)
        self._epochs_run = 0
        if self.step_clock is not None:
            self.step_clock.reset()

    def run_trial(self, trial, *args, **kwargs):
        # Hyperband trains a trial to its "tuner/epochs", the other tuners to the search's
        self._planned_epochs = trial.hyperparameters.values.get("tuner/epochs",
                                                                kwargs.get("epochs"))
        return super().run_trial(trial, *args, **kwargs)

    def on_epoch_end(self, trial, model, epoch, logs=None):
        super().on_epoch_end(trial, model, epoch, logs=logs)
        self._epochs_run += 1
        # keras-tuner's callback runs after the search's own, so EarlyStopping (or the
        # budget) has already said whether this epoch is the last; with cross-validation,
        # any fold stopping early counts
        planned = self._planned_epochs
        self._trial_stopped_early |= bool(getattr(model, "stop_training", False)) and (
            planned is None or epoch + 1 < planned)

    def on_trial_end(self, trial):
        seconds = time.monotonic() - self._trial_started
        path = pathlib.Path(self.project_dir, stats_file(self.tuner_id))  # this process's own
        stats = read_json_or(path, {})
        stats[trial.trial_id] = {"epochs_run": self._epochs_run, "seconds": round(seconds, 2),
                                 "ended_at": round(time.time(), 2),
                                 "stopped_early": self._trial_stopped_early,
                                 "step_seconds": self.step_clock and round(self.step_clock.total, 2),
                                 "peak_rss_mb": peak_rss_mb(),
                                 "calibration_seconds": round(getattr(
                                     self.hypermodel, "calibration_seconds", 0.0)
                                     - self._calibration_started, 2)}
        folds = getattr(self, "fold_scores", {}).get(trial.trial_id)
        if folds:
            stats[trial.trial_id]["fold_scores"] = [round(score, 6) for score in folds]
        write_json(path, stats)
        super().on_trial_end(trial)
        budget = getattr(self.oracle, "budget", None)
        if budget is not None:
            best = self.oracle.get_best_trials(1)
            budget.record_trial(seconds, self._epochs_run, trial_id=trial.trial_id,
                                best_epochs=best_epochs(best[0]) if best else None,
                                best_trial_id=best[0].trial_id if best else None,
                                values=trial.hyperparameters.values)
        ended = self.oracle.get_trial(trial.trial_id)  # a worker's copy has no score: the chief's
        score = f"failed ({trial.message})" if ended.score is None else f"{ended.score:.4f}"
        best = self.oracle.get_best_trials(1)
        best_score = f"{best[0].score:.4f} (trial {best[0].trial_id})" if best else "none yet"
        logger.info(f"trial {trial.trial_id} done: "
                    f"{self.oracle.objective.name}={score} in "
                    f"{seconds:.0f}s; best so far {best_score}")


def tuned_values(hyperparameters):
    """The hyperparameter values a user tunes, without keras-tuner's "tuner/..." bookkeeping."""
    return {k: v for k, v in hyperparameters.values.items() if not k.startswith("tuner/")}


def stats_file(tuner_id):
    """trial_stats.json, or trial_stats_<tuner id>.json for each worker of a distributed search."""
    if tuner_id == "tuner0":
        return STATS_FILE
    return f"trial_stats_{check_name('tuner id', tuner_id)}.json"


def trial_stats(tuner):
    """{trial_id: {"epochs_run", "seconds", ...}} recorded so far by every worker (kept
    across resumes)."""
    stats = {}
    for path in sorted(pathlib.Path(tuner.project_dir).glob("trial_stats*.json")):
        stats.update(read_json_or(path, {}))
    return stats


def best_epochs(trial):
    """Epochs from scratch to the trial's best epoch (early stopping's, not the last).

    keras-tuner counts `best_step` from the start of the trial's own `fit`; a
    Hyperband trial that continues another's checkpoint started at
    `tuner/initial_epoch`, which is added back.
    """
    return trial.hyperparameters.values.get("tuner/initial_epoch", 0) + trial.best_step + 1


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else value


class _DefaultsFirst:
    """Oracle mixin: the first trial trains the HyperModel's documented defaults.

    The defaults are a known-good configuration, so every search has a sound
    baseline among its candidates; later trials are sampled as usual.
    """

    def _random_values(self):
        if self._tried_so_far:
            return super()._random_values()
        hps, values = kt.HyperParameters(), {}
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                values[hp.name] = hp.default
        return values


class _WithinBudget:
    """Oracle mixin: no new trial when it would not end within `budget` (a `tfopt.tuning.budget.Budget`),
    except the first, so that every search has a result.

    Each trial is estimated by its own model (`Budget.model_epoch_seconds`); a
    newly drawn model that would not end in time gives way to another draw, up
    to `DRAWS` of them, so a search near its deadline goes on with smaller models.
    When none fits, the oracle's own choice is undone (Hyperband's brackets, the sampled
    values), so a later resume, with more time, goes on where this one stopped.
    On Hyperband the time left goes to the best trial instead, when it was still
    improving (its best epoch within early stopping's patience of its last): a
    trial continues it from its checkpoint (as Hyperband's own rounds do) for the
    epochs that fit (less the retraining's growing share, when kept aside).
    That also happens once `tfopt.tuning.budget.EXPLOIT_AFTER` of the budget is spent
    (then the brackets go on, with the time the continuation leaves: short
    trials alone train too few epochs on large data).
    When the budget's `explore` is off (one round of brackets would take more than
    `tfopt.tuning.budget.SEARCH_SHARE` of it), the first trial (the defaults) trains for
    the epochs that leave time to retrain them (until the deadline without retraining),
    by its own model's time, with the cosine schedule where the space allows it; any
    trial after it is such a continuation.
    """

    budget = None
    epochs_per_trial = None  # epochs of a trial when the oracle does not set "tuner/epochs"
    _STATE = ("_brackets", "_current_bracket", "_current_iteration", "_tried_so_far",
              "_id_to_hash", "_seed_state")

    def populate_space(self, trial_id):
        if self.budget is None:
            return super().populate_space(trial_id)
        saved = {name: copy.deepcopy(getattr(self, name)) for name in self._STATE
                 if hasattr(self, name)}
        for draw in range(DRAWS):  # `draw`: the drawn models that gave way so far
            response = super().populate_space(trial_id)
            values = response.get("values") or {}
            epochs = values.get("tuner/epochs", self.epochs_per_trial) - \
                values.get("tuner/initial_epoch", 0)
            if response["status"] != "RUNNING" or not self.trials:
                if "tuner/epochs" in values and not self.budget.explore:
                    self._fit_to_budget(values)
                return response  # the first trial always runs (cut at the deadline if need be)
            if self.budget.explore and self.budget.fits(epochs, values):
                self.budget.redrawn += draw
                # past `EXPLOIT_AFTER` of the budget, the best trial so far trains on first
                continued = self._continue_best() if self.budget.exploit_due() else None
                if not isinstance(continued, dict):
                    return response
                self._restore(saved)  # the brackets' trial waits for a later call
                return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": continued}
            # a newly drawn model that would not fit: draw another (on a new seed)
            self._restore(saved, keep=("_seed_state",))
            if not (self.budget.explore and self._draws_anew(values)):
                break
        self._restore(saved)
        continued = self._continue_best()
        if isinstance(continued, dict):
            return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": continued}
        # why: the next trial did not fit (said by `fits`), and why the best was not continued
        why = [self.budget.stopped if self.budget.explore else None, continued]
        self.budget.stopped = "; ".join(reason for reason in why if reason)
        return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}

    def _fit_to_budget(self, values):
        """No search: the defaults (`values`) train for the epochs the budget leaves them, by
        their own model's time, with the learning rate annealed over them (cosine, where
        the space allows it) so that the last epochs are the best."""
        values["tuner/epochs"] = max(values["tuner/epochs"],
                                     self.budget.first_trial_epochs(values))
        if any(p.name == "lr_schedule" and "cosine" in (getattr(p, "values", None) or ())
               for p in self.hyperparameters.space):
            values["lr_schedule"] = "cosine"

    def _restore(self, saved, keep=()):
        """Undoes the oracle's choice since `saved` (its state but for `keep`)."""
        for name, value in saved.items():
            if name not in keep:
                setattr(self, name, copy.deepcopy(value))

    def _draws_anew(self, values):
        """Whether another call would draw other values than `values`: a random or Hyperband
        search's new sample (not a trial that continues another)."""
        return "tuner/trial_id" not in values and isinstance(
            self, (kt.oracles.RandomSearchOracle, kt.oracles.HyperbandOracle))

    def _continue_best(self):
        """Values of a trial that continues the best one for the epochs left, or why not.

        The best trial's checkpoint holds its best epoch's weights, so the new trial
        starts there. A trial is continued once (a trial on disk names it as its
        `tuner/trial_id`), and not when its early stopping ended it (no better epoch
        in the last `PATIENCE`).
        """
        if not isinstance(self, kt.oracles.HyperbandOracle):
            return ""  # other tuners have no checkpoint hand-over
        best = self.get_best_trials(1)
        if not best:
            return "no completed trial to continue"
        best = best[0]
        trained, peak = best.hyperparameters.values.get("tuner/epochs"), best_epochs(best)
        if any(t.hyperparameters.values.get("tuner/trial_id") == best.trial_id
               for t in self.trials.values()):  # by Hyperband's round or by this budget
            return f"the best trial ({best.trial_id}) was continued already and did not improve"
        if trained is None or trained - peak >= PATIENCE:
            return (f"the best trial ({best.trial_id}) peaked at epoch {peak} of {trained}: "
                    "more epochs would not help it")
        extra = self.budget.epochs_that_fit(continuing=peak)
        if extra < 1:
            return (f"not half an epoch more of the best trial ({best.trial_id}) fits in the "
                    f"{format_seconds(max(0.0, self.budget.search_remaining()))} left")
        values = dict(best.hyperparameters.values)
        values.update({"tuner/trial_id": best.trial_id, "tuner/initial_epoch": peak,
                       "tuner/epochs": peak + extra})
        self.budget.continue_best(best.trial_id, peak, peak + extra)
        return values


class HyperbandOracle(DurableOracle, _WithinBudget, _DefaultsFirst, kt.oracles.HyperbandOracle):
    pass


class RandomSearchOracle(DurableOracle, _WithinBudget, _DefaultsFirst,
                         kt.oracles.RandomSearchOracle):
    pass


class BayesianOptimizationOracle(DurableOracle, _WithinBudget, _DefaultsFirst,
                                 kt.oracles.BayesianOptimizationOracle):
    pass


class GridSearchOracle(DurableOracle, _WithinBudget, kt.oracles.GridSearchOracle):
    pass


class _KeepsDtypePolicy:
    """Tuner mixin: every trial's model is built in `dtype_policy` (e.g. "mixed_bfloat16"),
    and the previous trials' traced graphs are freed first (`release_traced_graphs`).

    keras-tuner clears the Keras session before each build, and with it the
    global dtype policy, so the policy is set again right before the build.
    """

    dtype_policy = None

    def _try_build(self, hp):
        release_traced_graphs()  # before keras-tuner's clear_session() and gc.collect()
        return super()._try_build(hp)

    def _build_hypermodel(self, hp):
        if self.dtype_policy is not None:
            keras.mixed_precision.set_global_policy(self.dtype_policy)
        # A continued trial loads its source's checkpoint into a new model whose optimizer
        # has no state yet; Keras warns that it skips the saved optimizer's (Hyperband's
        # own rounds restart the optimizer too).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            return super()._build_hypermodel(hp)


class _CrossValidated:
    """Tuner mixin: with `folds` (a `tfopt.data.splits.Folds`), a trial trains its
    configuration from scratch on each fold and keras-tuner scores it by the mean of the
    folds' best validation scores (as it averages `executions_per_trial`); the search's own
    training and validation data are not used. Each fold logs to its own TensorBoard run
    (`trial_<id>/fold_<k>`), and `fold_scores` keeps the folds' scores by trial id."""

    folds = None

    def run_trial(self, trial, *args, **kwargs):
        if self.folds is None:
            return super().run_trial(trial, *args, **kwargs)
        kwargs.pop("validation_data", None)
        histories = []
        for fold in range(len(self.folds)):
            train, val = self.folds.datasets(fold)
            self._fold = fold
            try:
                histories += super().run_trial(trial, train, validation_data=val, **kwargs)
            finally:
                self._fold = None
            logger.info(f"trial {trial.trial_id}, fold {fold + 1} of {len(self.folds)}: "
                        f"{self.oracle.objective.name}="
                        f"{self._best_score(histories[-1]):.4f}")
        self.fold_scores[trial.trial_id] = [self._best_score(h) for h in histories]
        return histories

    @property
    def fold_scores(self):
        if not hasattr(self, "_fold_scores"):
            self._fold_scores = {}
        return self._fold_scores

    def _best_score(self, history):
        values = history.history[self.oracle.objective.name]
        best = max if self.oracle.objective.direction == "max" else min
        return float(best(values))

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        fold = getattr(self, "_fold", None)
        run = execution if fold is None else f"fold_{fold + 1}"  # TensorBoard's run name
        return super()._configure_tensorboard_dir(callbacks, trial, run)


class Tuner(_Progress, _CrossValidated, ResumableTuner, _KeepsDtypePolicy, TrialLogs, kt.Tuner):
    """keras-tuner's `Tuner` (what `RandomSearch` and friends are) with tfopt's progress and
    cross-validation."""


class Hyperband(_Progress, ResumableTuner, _KeepsDtypePolicy, TrialLogs, kt.Hyperband):
    """keras-tuner's `Hyperband` (epoch schedule, checkpoint hand-over) on a given oracle."""

    def __init__(self, oracle, **kwargs):
        kt.Tuner.__init__(self, oracle=oracle, **kwargs)


def make_oracle(kind, objective, *, max_trials=None, epochs=10, seed=None,
                hyperparameters=None, hypermodel=None, iterations=1):
    """keras-tuner's oracle of `kind` ("hyperband", "random", "bayesian" or "grid").

    `max_trials` is the number of trials with every kind (grid: at most its grid).
    For hyperband `epochs` is `max_epochs` (factor 3): trials train from a third,
    a ninth... of it up to all of it, and a trial that continues a better one's
    checkpoint for more epochs counts as a trial. Its brackets run `iterations`
    times, or as often as `max_trials` needs (`fit_hyperband`). For the others each
    trial trains `epochs`. The first trial is the default configuration (except for
    grid, which walks its grid). `hyperparameters` (from `tfopt.tuning.space.apply_space`)
    replace the family's own ranges of the same names. A `hypermodel` declares its
    space on the oracle (a tuner does that itself; the plan of a grid needs it).

    Raises:
        InputError: for an unknown kind.
    """
    objective = kt.Objective(objective, objective_direction(objective))
    if kind == "hyperband":
        oracle = HyperbandOracle(objective, max_epochs=epochs, factor=3, seed=seed,
                                 hyperparameters=hyperparameters, hyperband_iterations=iterations)
        oracle.max_trials = max_trials
        if max_trials:
            fit_hyperband(oracle, max_trials)
    elif kind in ("random", "bayesian", "grid"):
        oracle_class = {"random": RandomSearchOracle, "bayesian": BayesianOptimizationOracle,
                        "grid": GridSearchOracle}[kind]
        oracle = oracle_class(objective, max_trials=max_trials, seed=seed,
                              hyperparameters=hyperparameters)
    else:
        raise InputError(f"Unknown tuner '{kind}'. Known tuners: {', '.join(TUNERS)}.")
    oracle.epochs_per_trial = epochs
    if hypermodel is not None:
        space = oracle.get_space()
        hypermodel.declare_hyperparameters(space)
        oracle.update_space(space)
    return oracle


def fit_hyperband(oracle, max_trials):
    """Shapes a new Hyperband oracle's schedule to `max_trials` trials.

    Its most aggressive bracket is kept only when all of it (the first round and the
    continued trials) fits in `max_trials`: successive halving of 3 one-epoch trials
    whose best is cut off before it continues only ranks noise. Fewer brackets train
    more epochs from the start (one bracket: every trial trains `max_epochs`). Then the
    brackets repeat until `max_trials` trials have run.
    """
    brackets = len(_compat.hyperband_rounds(oracle))
    while brackets > 1 and sum(size for size, _ in _compat.hyperband_rounds(oracle)[0]) \
            > max_trials:
        brackets -= 1
        _compat.set_hyperband_brackets(oracle, brackets)
    per_iteration = sum(size for rounds in _compat.hyperband_rounds(oracle)
                        for size, _ in rounds)
    oracle.hyperband_iterations = max(oracle.hyperband_iterations,
                                      math.ceil(max_trials / per_iteration))


def hyperband_epochs(oracle):
    """The epochs Hyperband's trials train to, fewest first (e.g. [1, 3, 9])."""
    return sorted({epochs for rounds in _compat.hyperband_rounds(oracle)
                   for _, epochs in rounds})


def make_tuner(kind, hypermodel, *, objective, directory, project_name="tuner", max_trials=None,
               epochs=10, seed=None, distribution_strategy=None, hyperparameters=None,
               iterations=1, budget=None, step_clock=None, folds=None):
    """Builds a keras-tuner tuner on `make_oracle(kind, ...)` with tfopt's progress lines.

    `epochs` are each trial's (hyperband: `max_epochs`). An existing
    `directory/project_name` is resumed, never overwritten, also after a kill at
    any point (`tfopt.tuning.recovery`). With a
    `tfopt.tuning.budget.Budget`, no trial is started that would not end in time.
    `step_clock` is the `StepClock` among the search's callbacks (for the
    seconds inside training steps in trial_stats.json). Trials build their models
    in the global dtype policy of this call (`tfopt.training.strategy.set_mixed_precision`).

    With `folds` (`tfopt.data.splits.Folds`) each trial is scored by its mean over the folds.

    Raises:
        InputError: for an unknown kind.
    """
    oracle = make_oracle(kind, objective, max_trials=max_trials, epochs=epochs, seed=seed,
                         hyperparameters=hyperparameters, iterations=iterations)
    oracle.budget = budget
    tuner_class = Hyperband if kind == "hyperband" else Tuner
    mark_resumable(pathlib.Path(directory, check_name("project name", project_name)),
                   os.environ.get("KERASTUNER_TUNER_ID", "tuner0"))
    with contextlib.redirect_stdout(io.StringIO()) as said:  # keras-tuner prints "Reloading"
        tuner = tuner_class(oracle=oracle, hypermodel=hypermodel, directory=str(directory),
                            project_name=project_name,
                            distribution_strategy=distribution_strategy, overwrite=False)
    printed = said.getvalue().splitlines(keepends=True)
    sys.stdout.write("".join(line for line in printed if not line.startswith("Reloading")))
    trials = getattr(tuner.oracle, "trials", None)  # a worker's oracle is the chief's: none
    if printed[:1] and printed[0].startswith("Reloading") and trials is not None:
        done = sum(t.status in ("COMPLETED", "FAILED") for t in trials.values())
        logger.info(f"resuming the search saved in {tuner.project_dir}: {done} trial(s) "
                    "finished before")
    tuner.planned_trials = plan(tuner.oracle, epochs)[0] if budget is None else None
    tuner.step_clock = step_clock
    if folds is not None:
        if tuner_class is Hyperband:
            raise InputError("cross-validation folds do not combine with hyperband, which "
                             "continues trials from checkpoints trained on other folds.")
        tuner.folds = folds
    tuner.dtype_policy = keras.mixed_precision.global_policy().name
    return tuner


def plan(oracle, epochs):
    """(trials, epochs) the search will run at most, from the oracle's own schedule."""
    if isinstance(oracle, kt.oracles.HyperbandOracle):
        rounds = _new_epochs(oracle)
        if not oracle.max_trials:
            iterations = oracle.hyperband_iterations
            return (sum(size for size, _ in rounds) * iterations,
                    sum(size * new for size, new in rounds) * iterations)
        trials = total_epochs = 0
        for size, new in itertools.chain.from_iterable([rounds] * oracle.hyperband_iterations):
            size = min(size, oracle.max_trials - trials)
            trials, total_epochs = trials + size, total_epochs + size * new
            if trials >= oracle.max_trials:
                break
        return trials, total_epochs
    trials = oracle.max_trials
    if isinstance(oracle, kt.oracles.GridSearchOracle):
        trials = min(trials or math.inf, _grid_size(oracle.hyperparameters))
    return trials, trials * epochs


def _new_epochs(oracle):
    """Hyperband's rounds in order, most aggressive bracket first, as (trials, epochs each
    trains): a continued trial trains only the epochs its round adds."""
    flat = []
    for rounds in _compat.hyperband_rounds(oracle):
        previous = 0
        for size, round_epochs in rounds:
            flat.append((size, round_epochs - previous))
            previous = round_epochs
    return flat


def _grid_size(hyperparameters):
    """Points on keras-tuner's grid (it takes 10 values of a float without a step)."""
    return math.prod(len(list(hp.values)) for hp in hyperparameters.space)
