"""BatchNormalization statistics recomputed to match the weights (PreciseBN)."""

import keras
import numpy as np
import pytest

from tfopt.models import build_vgg
from tfopt.training.batchnorm import CalibrateBatchNorm, batch_norm_layers, recompute_statistics


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits as float images in [0, 1]: (x_train, y_train, x_val, y_val)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype("float32")[..., None]
    return x[:1400], bunch.target[:1400], x[1400:], bunch.target[1400:]


def short_trained_vgg(x, y, epochs=2, callbacks=(), validation_data=None):
    keras.utils.set_random_seed(0)
    model = build_vgg((8, 8, 1), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, callbacks=list(callbacks),
              validation_data=validation_data)
    return model


def val_accuracy(model, x, y):
    return model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]


def test_recomputed_statistics_score_far_above_stale_ones(digits):
    x, y, x_val, y_val = digits
    model = short_trained_vgg(x, y)  # 22 steps: moving averages still near their start
    stale = val_accuracy(model, x_val, y_val)
    layers = batch_norm_layers(model)
    assert [layer.name for layer in layers] == ["block2_bn1", "block1_bn1"]
    batches = [x[i:i + 128] for i in range(0, len(x), 128)]
    assert recompute_statistics(model, batches) == len(batches)
    calibrated = val_accuracy(model, x_val, y_val)
    assert stale < 0.5 and calibrated > 0.8, (stale, calibrated)
    assert all(layer.momentum == 0.9 for layer in layers)  # put back


def test_statistics_are_the_mean_of_the_batches_statistics():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization()(inputs))
    first, second = np.full((4, 3), 1.0, "float32"), np.full((4, 3), 3.0, "float32")
    second[:2] += 1.0  # each column: mean 3.5, variance 0.25 in this batch
    recompute_statistics(model, [first, second])
    layer = batch_norm_layers(model)[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_mean), [2.25] * 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_variance), [0.125] * 3)


def test_a_model_without_batch_normalization_is_left_alone():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    before = [w.copy() for w in model.get_weights()]
    assert recompute_statistics(model, [np.ones((4, 3), "float32")]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_fit_calibrates_before_each_validation_and_not_again_at_the_end(digits):
    x, y, x_val, y_val = digits
    calibrate = CalibrateBatchNorm([(x[i:i + 32], y[i:i + 32]) for i in range(0, 640, 32)],
                                   examples=300)
    model = short_trained_vgg(x, y, epochs=2, callbacks=[calibrate],
                              validation_data=(x_val, y_val))
    assert calibrate.calibrations == 2 and calibrate.seconds > 0
    # the first 300 examples, in forward passes of CALIBRATION_BATCH (256), not of 32
    assert [len(batch) for batch in calibrate._batches] == [256, 44]
    np.testing.assert_array_equal(calibrate._batches[1], x[256:300])
    assert val_accuracy(model, x_val, y_val) > 0.8


def test_fit_without_validation_calibrates_at_the_end(digits):
    x, y, x_val, y_val = digits
    calibrate = CalibrateBatchNorm([x[i:i + 128] for i in range(0, len(x), 128)])
    model = short_trained_vgg(x, y, epochs=2, callbacks=[calibrate])
    assert calibrate.calibrations == 1
    assert val_accuracy(model, x_val, y_val) > 0.8
