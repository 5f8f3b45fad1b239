"""Hyperparameter importance finds the hyperparameter that drives the score."""

import keras_tuner as kt
import numpy as np

from tfopt.results.importance import as_markdown, hyperparameter_importance


def make_trials(n, score, seed=0):
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        hp = kt.HyperParameters()
        hp.values = {"learning_rate": float(10 ** rng.uniform(-4, -2)),
                     "optimizer": str(rng.choice(["adam", "sgd"])),
                     "dropout": float(rng.uniform(0, 0.5))}
        trial = kt.engine.trial.Trial(hp, trial_id=str(i), status="COMPLETED")
        trial.score = score(hp.values)
        trials.append(trial)
    return trials


def test_the_hyperparameter_that_decides_the_score_ranks_first():
    trials = make_trials(30, lambda v: 0.9 if v["optimizer"] == "adam" else 0.6)
    importance = hyperparameter_importance(trials)
    assert list(importance)[0] == "optimizer"
    assert importance["optimizer"] > 0.8
    assert abs(sum(importance.values()) - 1) < 1e-3


def test_too_few_trials_give_no_ranking():
    assert hyperparameter_importance(make_trials(3, lambda v: 0.5)) == {}
    assert "Too few completed trials" in as_markdown({})


def test_markdown_table_lists_shares():
    text = as_markdown({"optimizer": 0.75, "dropout": 0.25})
    assert "| optimizer | 75.0% |" in text and text.startswith("| hyperparameter |")
