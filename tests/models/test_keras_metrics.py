"""BalancedAccuracy matches scikit-learn and survives a save/load round trip."""

import keras
import numpy as np
from sklearn.metrics import balanced_accuracy_score

from tfopt.models import BalancedAccuracy


def test_balanced_accuracy_matches_scikit_learn_over_batches():
    rng = np.random.default_rng(0)
    y = np.array([0] * 90 + [1] * 8 + [2] * 2)
    probabilities = rng.dirichlet(np.ones(3), size=len(y)).astype("float32")
    metric = BalancedAccuracy(num_classes=3)
    for start in range(0, len(y), 32):  # state accumulates across batches
        metric.update_state(y[start:start + 32], probabilities[start:start + 32])
    expected = balanced_accuracy_score(y, probabilities.argmax(axis=1))
    assert abs(float(metric.result()) - expected) < 1e-6
    metric.reset_state()
    metric.update_state(np.array([0, 0]), np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]]))
    assert float(metric.result()) == 0.5  # classes 1 and 2 unseen: left out of the mean


def test_majority_guessing_scores_one_over_classes():
    y = np.array([0] * 95 + [1] * 5)
    always_zero = np.tile([[1.0, 0.0]], (100, 1))
    metric = BalancedAccuracy(num_classes=2)
    metric.update_state(y, always_zero)
    assert float(metric.result()) == 0.5  # while plain accuracy is 0.95


def test_a_model_compiled_with_it_saves_and_reloads(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["accuracy", BalancedAccuracy(num_classes=3)])
    x, y = np.ones((6, 4), "float32"), np.array([0, 1, 2, 0, 1, 2])
    logs = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y)).history
    assert "val_balanced_accuracy" in logs
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
