"""Splits and cross-validation folds."""

import numpy as np
import pytest

from tfopt.data.splits import make_folds, make_splits
from tfopt.errors import InputError


@pytest.fixture(scope="module")
def splits():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [60, 30, 10])  # imbalanced: 6:3:1
    x = np.arange(len(y) * 4, dtype="uint8").reshape(len(y), 2, 2, 1) + rng.integers(
        0, 2, (len(y), 2, 2, 1), dtype="uint8")
    x[:, 0, 0, 0] = np.arange(len(y))  # each example recognisable by its first pixel
    return make_splits(x, y, class_names=["a", "b", "c"], source="test", modality="image")


def ids(x):
    return sorted(x[:, 0, 0, 0].tolist())


def test_folds_are_disjoint_cover_train_and_val_and_leave_test_out(splits):
    folds = make_folds(splits, 4)
    assert len(folds) == 4
    validated = [row for _, val in folds.indices for row in val]
    assert sorted(validated) == list(range(len(folds.y)))  # each example validated once
    for train, val in folds.indices:
        assert not set(train) & set(val) and len(train) + len(val) == len(folds.y)
    seen = ids(folds.x)
    assert seen == sorted(ids(splits.x_train) + ids(splits.x_val))
    assert not set(seen) & set(ids(splits.x_test))


def test_folds_are_stratified(splits):
    folds = make_folds(splits, 4)
    overall = np.bincount(folds.y) / len(folds.y)
    for _, val in folds.indices:
        share = np.bincount(folds.y[val], minlength=3) / len(val)
        np.testing.assert_allclose(share, overall, atol=0.05)


def test_fold_datasets_hold_the_folds_examples(splits):
    folds = make_folds(splits, 2)
    train, val = folds.datasets(1)
    got = sorted(int(x.numpy()[0, 0, 0]) for x, _ in val)
    assert got == sorted(folds.x[folds.indices[1][1], 0, 0, 0].tolist())
    assert folds.sizes(1) == {"train": len(train), "val": len(val)}


def test_more_folds_than_the_rarest_class_has_examples_is_refused(splits):
    rarest = int(np.bincount(np.concatenate([splits.y_train, splits.y_val])).min())
    with pytest.raises(InputError, match=rf"at most .* \({rarest}, class 'c'\).*cv={rarest + 1}"):
        make_folds(splits, rarest + 1)
    with pytest.raises(InputError, match="at least 2"):
        make_folds(splits, 1)
