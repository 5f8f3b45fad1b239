"""Label smoothing on integer labels."""

import keras
import numpy as np
import pytest

from tfopt.models.smoothing import SmoothedSparseCrossentropy


def test_it_matches_keras_categorical_crossentropy_on_one_hot_labels():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), size=8).astype("float32")
    labels = rng.integers(0, 4, size=8)
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(
        np.eye(4, dtype="float32")[labels], probabilities)
    got = SmoothedSparseCrossentropy(0.2)(labels, probabilities)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    column = SmoothedSparseCrossentropy(0.2)(labels[:, None], probabilities)  # (n, 1) labels
    assert float(column) == pytest.approx(float(expected), rel=1e-5)


def test_no_smoothing_is_keras_sparse_crossentropy_and_it_round_trips_its_config():
    probabilities = np.array([[0.7, 0.3], [0.2, 0.8]], "float32")
    assert float(SmoothedSparseCrossentropy(0.0)(np.array([0, 1]), probabilities)) == pytest.approx(
        float(keras.losses.SparseCategoricalCrossentropy()(np.array([0, 1]), probabilities)), rel=1e-6)
    loss = keras.losses.deserialize(keras.losses.serialize(SmoothedSparseCrossentropy(0.05)))
    assert isinstance(loss, SmoothedSparseCrossentropy) and loss.label_smoothing == 0.05


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_a_smoothing_outside_0_1_is_refused(value):
    with pytest.raises(ValueError, match=f"label_smoothing must be in \\[0, 1\\). Received: {value}"):
        SmoothedSparseCrossentropy(value)
