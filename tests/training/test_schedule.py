"""The warm-up + cosine learning-rate schedule."""

import keras
import numpy as np
import pytest

from tfopt.training.schedule import FINAL, CosineSchedule, warmup_cosine


def test_the_schedule_warms_up_peaks_and_ends_at_its_final_share():
    assert warmup_cosine(0.0) == pytest.approx(0.1)
    assert warmup_cosine(0.03) == pytest.approx(1.0)
    assert warmup_cosine(0.515) == pytest.approx((1 + FINAL) / 2)  # halfway down the cosine
    assert warmup_cosine(1.0) == pytest.approx(FINAL)
    rates = [warmup_cosine(p) for p in np.linspace(0.03, 1, 50)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


class Rates(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def fitted(epochs, initial_epoch=0):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    rates = Rates()
    x, y = np.ones((40, 3), "float32"), np.zeros(40, "int32")
    model.fit(x, y, batch_size=10, epochs=epochs, initial_epoch=initial_epoch, verbose=0,
              callbacks=[CosineSchedule(), rates])  # 4 steps an epoch
    return model, rates.seen


def test_a_fit_follows_the_schedule_over_its_epochs_and_puts_the_rate_back():
    model, seen = fitted(3)
    expected = [0.01 * warmup_cosine((epoch + step / 4) / 3) for epoch in range(3)
                for step in range(4)]
    np.testing.assert_allclose(seen, expected, rtol=1e-5)
    assert seen[-1] < 0.01 * 0.05
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(0.01)


def test_a_continued_fit_picks_the_schedule_up_at_its_initial_epoch():
    _, seen = fitted(3, initial_epoch=2)
    np.testing.assert_allclose(seen, [0.01 * warmup_cosine((2 + s / 4) / 3) for s in range(4)],
                               rtol=1e-5)
