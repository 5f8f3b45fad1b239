"""Tuners: each kind runs two trials; the first is the defaults; the plan matches keras-tuner."""

import json

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tfopt.training.callbacks import trial_callbacks
from tfopt.data.pipeline import to_dataset
from tfopt.errors import InputError
from tfopt.tuning.hypermodels import VGGHyperModel
from tfopt.tuning.tuners import make_tuner, plan


def run_search(kind, splits, directory, *, max_trials=2, epochs=1):
    tuner = make_tuner(kind, VGGHyperModel(splits.input_shape, splits.num_classes),
                       objective="val_accuracy", directory=directory, max_trials=max_trials,
                       epochs=epochs, seed=1)
    tuner.search(to_dataset(splits.x_train, splits.y_train, "image"),
                 validation_data=to_dataset(splits.x_val, splits.y_val, "image"),
                 epochs=epochs, callbacks=trial_callbacks(directory / "logs"), verbose=0)
    return tuner


@pytest.mark.parametrize("kind, asked", [("hyperband", 3), ("random", 2), ("bayesian", 2),
                                         ("grid", 2)])
def test_each_tuner_runs_the_trials_asked(kind, asked, tiny_images, tmp_path):
    # hyperband with max_epochs 2 has 2 trials a round of brackets: a third needs another round
    tuner = run_search(kind, tiny_images, tmp_path, epochs=2, max_trials=asked)
    trials = tuner.oracle.trials
    assert len(trials) == asked == tuner.planned_trials
    assert all(t.status == "COMPLETED" for t in trials.values())
    best = tuner.get_best_hyperparameters(1)[0].values
    assert {"blocks", "filters", "learning_rate", "optimizer", "batch_size"} <= set(best)
    trial_files = sorted(p.name for p in (tmp_path / "tuner").iterdir())
    state = ["oracle.json", "tuner0.json", "trial_stats.json"]
    assert trial_files == sorted(state + [f"{name}.bak" for name in state] +
                                 [f"trial_{i}" for i in trials])
    stats = json.loads((tmp_path / "tuner" / "trial_stats.json").read_text())
    assert sorted(stats) == sorted(trials)
    assert all(1 <= s["epochs_run"] <= 2 and s["seconds"] > 0 for s in stats.values())
    assert json.loads((tmp_path / "tuner" / f"trial_{min(trials)}" / "trial.json").read_text())[
        "status"] == "COMPLETED"


@pytest.mark.parametrize("kind", ["hyperband", "random", "bayesian"])
def test_first_trial_is_the_default_configuration(kind, tiny_images, tmp_path):
    tuner = run_search(kind, tiny_images, tmp_path, max_trials=1)
    first = tuner.oracle.trials[min(tuner.oracle.trials)].hyperparameters.values
    defaults = kt.HyperParameters()
    VGGHyperModel((8, 8, 1), 3).declare_hyperparameters(defaults)
    assert {k: v for k, v in first.items() if not k.startswith("tuner/")} == defaults.values


def test_search_learns_the_synthetic_task(tiny_images, tmp_path):
    tuner = run_search("random", tiny_images, tmp_path, max_trials=1, epochs=4)
    assert tuner.oracle.get_best_trials(1)[0].score > 0.6  # chance is 1/3


def test_hyperband_plan_follows_keras_tuner_schedule(tmp_path):
    hypermodel = VGGHyperModel((8, 8, 1), 3)
    uncapped = make_tuner("hyperband", hypermodel, objective="val_accuracy",
                          directory=tmp_path / "a", epochs=9)
    # brackets of max_epochs=9, factor 3: 9@1->3@3->1@9, 5@3->2@9, 3@9
    assert plan(uncapped.oracle, 9) == (9 + 3 + 1 + 5 + 2 + 3, 9 + 6 + 6 + 15 + 12 + 27)
    capped = make_tuner("hyperband", hypermodel, objective="val_accuracy",
                        directory=tmp_path / "b", epochs=9, max_trials=13)
    assert plan(capped.oracle, 9) == (13, 21)
    random = make_tuner("random", hypermodel, objective="val_accuracy",
                        directory=tmp_path / "c", epochs=4, max_trials=5)
    assert plan(random.oracle, 4) == (5, 20)


def drive(oracle, limit=200):
    """Runs `oracle` as a tuner would, each trial scoring its epochs (so a continued trial
    beats its source) plus a little noise: the trials' "tuner/epochs", in order."""
    rng = np.random.default_rng(0)
    trained = []
    while len(trained) < limit:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            return trained
        epochs = trial.hyperparameters.values["tuner/epochs"]
        oracle.update_trial(trial.trial_id, {"val_accuracy": epochs / 100 + rng.random() / 1000},
                            step=epochs - 1)
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        trained.append(epochs)
    raise AssertionError(f"the oracle did not stop after {limit} trials")


@pytest.mark.parametrize("asked, epochs, expected, trained", [
    (3, 3, [3, 3, 3], 9),  # halving 3 one-epoch trials needs a 4th: each trains all 3 epochs
    (4, 2, [2, 2, 2, 2], 8),  # a second round of brackets (was: 2 trials)
    # the most aggressive bracket, whole; continued trials train only their new epochs
    (13, 9, [1] * 9 + [3] * 3 + [9], 9 * 1 + 3 * 2 + 1 * 6),
    (10, 9, [3] * 5 + [9] * 2 + [9] * 3, 5 * 3 + 2 * 6 + 3 * 9),  # 13 do not fit: the others
])
def test_hyperband_runs_the_trials_asked(asked, epochs, expected, trained, tmp_path):
    tuner = make_tuner("hyperband", VGGHyperModel((8, 8, 1), 3), objective="val_accuracy",
                       directory=tmp_path, epochs=epochs, max_trials=asked)
    assert plan(tuner.oracle, epochs) == (asked, trained)
    assert drive(tuner.oracle) == expected


def test_unknown_tuner_is_rejected(tmp_path):
    with pytest.raises(InputError, match="Known tuners: hyperband, random, bayesian, grid"):
        make_tuner("genetic", VGGHyperModel((8, 8, 1), 3), objective="val_accuracy",
                   directory=tmp_path)


@pytest.mark.parametrize("kind", ["hyperband", pytest.param("random", marks=pytest.mark.slow)])
def test_a_drawn_model_that_would_not_fit_gives_way_to_another(kind, tiny_images, tmp_path):
    from tfopt.tuning.budget import Budget

    # By its cost (1 or 2 units), a 16-filter model takes 10,000 s an epoch; the others 0.1 s.
    budget = Budget(600, setup=0.1, epoch_seconds=0.1, margin=0, timings=[(1, 0.1), (2, 1e4)],
                    cost=lambda values: 2 if values.get("filters") == 16 else 1)
    turned_down, fits = [], budget.fits
    budget.fits = lambda epochs, values: fits(epochs, values) or turned_down.append(values)
    tuner = make_tuner(kind, VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes),
                       objective="val_accuracy", directory=tmp_path, max_trials=5, epochs=3,
                       seed=1, budget=budget)
    tuner.search(to_dataset(tiny_images.x_train, tiny_images.y_train, "image"),
                 validation_data=to_dataset(tiny_images.x_val, tiny_images.y_val, "image"),
                 epochs=3, callbacks=trial_callbacks(tmp_path / "logs"), verbose=0)
    trials = tuner.oracle.trials.values()
    filters = [t.hyperparameters.values["filters"] for t in trials]
    assert len(filters) == 5 and 16 not in filters
    # it turned down 16-filter draws only, and the search went on past them
    assert turned_down and all(values["filters"] == 16 for values in turned_down)
    assert budget.redrawn == len(turned_down)
    assert budget.stopped is None


def test_cross_validated_trials_score_the_mean_of_their_folds(tiny_images, tmp_path):
    from tfopt.data.splits import make_folds

    folds = make_folds(tiny_images, 3)
    tuner = make_tuner("random", VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes),
                       objective="val_accuracy", directory=tmp_path, max_trials=1, epochs=2,
                       seed=1, folds=folds)
    # the search's own splits are not what trials train on: an empty validation set would fail
    tuner.search(to_dataset(tiny_images.x_train, tiny_images.y_train, "image"),
                 validation_data=None, epochs=2, callbacks=trial_callbacks(tmp_path / "logs"),
                 verbose=0)
    trial = tuner.oracle.get_best_trials(1)[0]
    stats = json.loads((tmp_path / "tuner" / "trial_stats.json").read_text())[trial.trial_id]
    assert len(stats["fold_scores"]) == 3 and stats["epochs_run"] == 6
    assert trial.score == pytest.approx(np.mean(stats["fold_scores"]), abs=1e-6)
    runs = sorted(p.name for p in (tmp_path / "logs" / f"trial_{trial.trial_id}").iterdir())
    assert runs == ["fold_1", "fold_2", "fold_3"]  # a TensorBoard run a fold


def test_cross_validation_does_not_combine_with_hyperband(tiny_images, tmp_path):
    from tfopt.data.splits import make_folds

    with pytest.raises(InputError, match="hyperband"):
        make_tuner("hyperband", VGGHyperModel((8, 8, 1), 3), objective="val_accuracy",
                   directory=tmp_path, epochs=2, folds=make_folds(tiny_images, 2))


class _StopAfter(keras.callbacks.Callback):
    """Ends training after `epochs` epochs, as EarlyStopping or the budget would."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


@pytest.mark.parametrize("kind, stop_after, stopped_early", [
    ("random", 1, True), ("random", 3, False),  # a stop at the last planned epoch is no early stop
    ("hyperband", 1, True)])
def test_trial_stats_say_when_a_trial_stopped_before_its_planned_epochs(
        kind, stop_after, stopped_early, tiny_images, tmp_path):
    tuner = make_tuner(kind, VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes),
                       objective="val_accuracy", directory=tmp_path, max_trials=1, epochs=3,
                       seed=1)
    tuner.search(to_dataset(tiny_images.x_train, tiny_images.y_train, "image"),
                 validation_data=to_dataset(tiny_images.x_val, tiny_images.y_val, "image"),
                 epochs=3, callbacks=[_StopAfter(stop_after)], verbose=0)
    (stats,) = json.loads((tmp_path / "tuner" / "trial_stats.json").read_text()).values()
    assert stats["epochs_run"] == min(stop_after, 3)
    assert stats["stopped_early"] is stopped_early
    assert stats["ended_at"] > 1.7e9  # Unix time


def test_a_resumed_search_says_so_in_tfopts_voice(tiny_images, tmp_path, capsys, caplog):
    run_search("random", tiny_images, tmp_path, max_trials=1)
    capsys.readouterr()
    with caplog.at_level("INFO", logger="tfopt"):
        make_tuner("random", VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes),
                   objective="val_accuracy", directory=tmp_path, max_trials=1, epochs=1, seed=1)
    assert capsys.readouterr().out == ""  # not keras-tuner's "Reloading Tuner from ..." print
    assert f"resuming the search saved in {tmp_path / 'tuner'}: 1 trial(s) finished before" \
        in caplog.text
