"""Test metrics: values checked by hand on small predictions."""

import numpy as np
import pytest

from tfopt.results.metrics import classification_metrics, expected_calibration_error


def test_binary_metrics_match_hand_computed_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    m = classification_metrics(y, p, ["neg", "pos"])
    assert m["accuracy"] == 0.75
    assert m["confusion_matrix"] == [[1, 1], [0, 2]]
    # class pos: precision 2/3, recall 1; class neg: precision 1, recall 1/2
    assert m["macro_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["macro_recall"] == pytest.approx(0.75)
    assert m["per_class"][1] == {"class": "pos", "precision": pytest.approx(2 / 3),
                                 "recall": 1.0, "f1": pytest.approx(0.8), "support": 2}
    assert m["roc_auc"] == 1.0  # every positive scores above every negative
    expected_log_loss = -np.mean(np.log([0.9, 0.4, 0.8, 0.7]))
    assert m["log_loss"] == pytest.approx(expected_log_loss)


def test_multiclass_uses_one_vs_rest_auc_and_lists_every_class():
    y = np.array([0, 1, 2, 2])
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]])
    m = classification_metrics(y, p, ["a", "b", "c"])
    assert [c["class"] for c in m["per_class"]] == ["a", "b", "c"]
    assert m["confusion_matrix"][2] == [1, 0, 1]
    assert 0.5 < m["roc_auc"] <= 1.0


def test_calibration_error_of_a_confident_wrong_and_right_pair():
    y = np.array([0, 1])
    p = np.array([[0.9, 0.1], [0.9, 0.1]])  # both 0.9 confident, half right
    assert expected_calibration_error(y, p) == pytest.approx(0.4)
    perfectly = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(y, perfectly) == 0.0


def test_confidently_wrong_lists_the_surest_mistakes_first():
    from tfopt.results.metrics import confidently_wrong

    y = np.array([0, 1, 1, 0])
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    wrong = confidently_wrong(y, p, ["w", "x", "y", "z"], ["neg", "pos"])
    assert wrong == [{"text": "x", "true": "pos", "predicted": "neg", "probability": 0.8},
                     {"text": "z", "true": "neg", "predicted": "pos", "probability": 0.7}]
    assert confidently_wrong(y, p, ["w", "x", "y", "z"], ["neg", "pos"], count=1) == wrong[:1]
