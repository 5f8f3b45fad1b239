"""The report's plots: what each draws, read back from the matplotlib figure."""

import numpy as np
import pytest

from tfopt.results import plots


@pytest.fixture
def figures(monkeypatch):
    """The plots' matplotlib figures instead of their PNG bytes."""
    monkeypatch.setattr(plots, "_png", lambda figure: figure)


def test_learning_curves_have_whole_epochs_and_mark_the_kept_and_stopped_epochs(figures):
    curves = {"0": {"train": [(0, 0.5)], "validation": [(0, 0.6)], "best_epoch": 1,
                    "stopped_early": False},
              "4": {"train": [(0, 0.4), (1, 0.7), (2, 0.8)],
                    "validation": [(0, 0.5), (1, 0.75), (2, 0.7)], "best_epoch": 2,
                    "stopped_early": True}}
    ax = plots.learning_curves(curves).axes[0]
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks == [1, 2, 3]  # not 1.0, 1.2 ... 2.0
    points = {(line.get_marker(), tuple(line.get_xdata()), tuple(line.get_ydata()))
              for line in ax.get_lines() if len(line.get_xdata()) == 1}
    assert ("*", (1,), (0.6,)) in points and ("*", (2,), (0.75,)) in points  # best epochs
    assert ("X", (3,), (0.7,)) in points  # trial 4 stopped early at epoch 3
    assert not any(m == "X" and x == (1,) for m, x, _ in points)  # trial 0 ran its epochs
    low, high = ax.get_ylim()
    assert 0.3 <= low < 0.4 and 0.6 < high <= 1.01  # not a 0.96-1.04 axis around one dot


def test_optimization_history_draws_the_best_so_far(figures):
    trials = [("0", 0.5, 0.6), ("1", 1.0, None), ("2", 1.5, 0.9), ("3", 2.5, 0.7)]
    by_trial, by_time = plots.optimization_history(trials, "val_accuracy", "max").axes
    for ax, x in ((by_trial, [0, 2, 3]), (by_time, [0.5, 1.5, 2.5])):  # by id, as named
        best = [line for line in ax.get_lines() if line.get_label() == "best so far"][0]
        assert list(best.get_xdata()) == x and list(best.get_ydata()) == [0.6, 0.9, 0.9]
    loss = plots.optimization_history([("0", 1, 0.4), ("1", 2, 0.5)], "val_loss", "min")
    best = [line for line in loss.axes[0].get_lines() if line.get_label() == "best so far"][0]
    assert list(best.get_ydata()) == [0.4, 0.4]


def test_parallel_coordinates_put_rates_on_a_log_scale_and_words_in_order():
    positions, ticks = plots._axis_positions([1e-4, 1e-2, 1e-3])
    np.testing.assert_allclose(positions, [0.0, 1.0, 0.5])
    assert ticks == [(0.0, "0.0001"), (1.0, "0.01")]
    positions, _ = plots._axis_positions([16, 32, 64])  # under two decades: linear
    np.testing.assert_allclose(positions, [0.0, 1 / 3, 1.0])
    positions, ticks = plots._axis_positions(["adam", "sgd", "adam", "adamw"])
    np.testing.assert_allclose(positions, [0.0, 0.5, 0.0, 1.0])
    assert [t for _, t in ticks] == ["adam", "sgd", "adamw"]


def test_parallel_coordinates_draw_one_line_a_trial_coloured_by_score(figures):
    rows = [{"lr": 1e-3, "optimizer": "adam"}, {"lr": 1e-2, "optimizer": "sgd"}]
    figure = plots.parallel_coordinates(rows, ["lr", "optimizer"], [0.9, 0.5], "val_accuracy")
    lines = [line for line in figure.axes[0].get_lines() if line.get_gid() == "trial"]
    assert len(lines) == 2
    assert list(lines[-1].get_ydata()) == [0.0, 0.0]  # the best (0.9) drawn last, on top
    assert figure.axes[1].get_ylabel() == "validation accuracy"  # the colour bar
    loss = plots.parallel_coordinates(rows, ["lr", "optimizer"], [0.9, 0.5], "val_loss", "min")
    lines = [line for line in loss.axes[0].get_lines() if line.get_gid() == "trial"]
    assert list(lines[-1].get_ydata()) == [1.0, 1.0]  # the lowest loss (0.5) on top


def test_a_hyperparameter_a_trial_did_not_use_leaves_a_gap():
    positions, ticks = plots._axis_positions([1e-4, "", 1e-2])
    np.testing.assert_allclose(positions, [0.0, np.nan, 1.0])
    assert ticks == [(0.0, "0.0001"), (1.0, "0.01")]  # still numbers, in numeric order
    positions, _ = plots._axis_positions(["adam", None, "sgd"])
    np.testing.assert_allclose(positions, [0.0, np.nan, 1.0])


def test_the_confusion_matrix_writes_counts_readably(figures):
    matrix = [[1234, 6], [0, 15]]
    ax = plots.confusion(matrix, ["cat", "dog"]).axes[0]
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["1,234", "15", "6"]  # zero cells left blank, thousands separated
    assert min(t.get_fontsize() for t in ax.texts) >= 9
