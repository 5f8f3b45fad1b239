"""Inferred data settings: imbalance turns on class weights and the balanced objective."""

import numpy as np
import pytest

from tfopt.data.profile import describe_settings, infer_settings
from tfopt.data.splits import Splits


def make(counts):
    y = np.repeat(np.arange(len(counts)), counts).astype("int32")
    x = np.zeros((len(y), 4, 4, 1), np.uint8)
    return Splits(x, y, x[:3], y[:3], x[:3], y[:3], class_names=["cat", "dog", "fox"][:len(counts)],
                  source="synthetic", modality="image", notes=["resized 2 images"])


def test_imbalanced_data_gets_balanced_weights_and_objective():
    settings = infer_settings(make([100, 50, 10]))
    assert settings["imbalance_ratio"] == 10.0 and settings["imbalanced"]
    assert settings["objective"] == "val_balanced_accuracy"
    # scikit-learn's "balanced": n / (classes * count)
    assert settings["class_weight"] == {0: pytest.approx(160 / 300), 1: pytest.approx(160 / 150),
                                        2: pytest.approx(160 / 30)}
    assert settings["class_counts"] == {"cat": 100, "dog": 50, "fox": 10}


def test_balanced_data_keeps_accuracy_and_no_weights():
    settings = infer_settings(make([40, 30]))
    assert settings == {"class_counts": {"cat": 40, "dog": 30}, "imbalance_ratio": 1.33,
                        "imbalanced": False, "class_weight": None, "objective": "val_accuracy"}


def test_the_users_choices_win():
    settings = infer_settings(make([100, 10]), class_weights=False, objective="val_loss")
    assert settings["class_weight"] is None and settings["objective"] == "val_loss"
    assert infer_settings(make([40, 30]), class_weights=True)["class_weight"] is not None


def test_the_summary_says_what_was_inferred_and_why():
    data = make([100, 50, 10])
    lines = describe_settings(data, infer_settings(data), "vgg", model_given=False)
    assert lines[0] == ("inferred: image data (images 4x4x1), 3 classes "
                        "(train: cat 100, dog 50, fox 10)")
    assert lines[1].startswith("inferred: imbalance 10.0:1 (above 3:1); class weights "
                               "on (cat 0.53, dog 1.07, fox 5.33); objective val_balanced_accuracy")
    assert lines[2] == "model: vgg (default for image data; --model to change)"
    assert lines[3] == "data note: resized 2 images"
