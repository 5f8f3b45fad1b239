"""Input pipelines: tf.data, and the NumPy `PyDataset` used without TensorFlow."""

import keras
import numpy as np
import pytest

from tfopt.data import pipeline
from tfopt.data.pipeline import ArrayBatches, ArrayDataset, batched, first_batches, to_dataset


@pytest.fixture
def without_tensorflow(monkeypatch):
    """Takes the NumPy path, as on a machine without TensorFlow."""
    monkeypatch.setattr(pipeline, "has_tensorflow", lambda: False)


def _images(n=10):
    x = np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2, 1) * 6
    return x, np.arange(n, dtype="int32")


def _epoch(batches):
    return [batches[i] for i in range(len(batches))]


def test_fallback_dataset_scales_images_and_keeps_token_ids(without_tensorflow):
    x, y = _images()
    images = to_dataset(x, y, "image")
    assert isinstance(images, ArrayDataset) and len(images) == 10
    assert images.x.dtype == np.float32
    np.testing.assert_allclose(images.x, x / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(images.y, y)
    tokens = to_dataset(np.array([[3, 4], [5, 6]], dtype="int32"), np.array([0, 1]), "text")
    assert tokens.x.dtype == np.int32 and tokens.x.tolist() == [[3, 4], [5, 6]]


@pytest.mark.parametrize("drop_remainder, sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_fallback_batches_in_order_with_or_without_the_remainder(without_tensorflow,
                                                                 drop_remainder, sizes):
    batches = batched(to_dataset(*_images(), "image"), 4, drop_remainder=drop_remainder)
    assert isinstance(batches, keras.utils.PyDataset)
    assert len(batches) == len(sizes)
    epoch = _epoch(batches)
    assert [len(y) for _, y in epoch] == sizes
    assert [len(x) for x, _ in epoch] == sizes
    assert np.concatenate([y for _, y in epoch]).tolist() == list(range(sum(sizes)))
    with pytest.raises(IndexError):
        batches[len(sizes)]


def test_fallback_reshuffles_each_epoch_covering_every_example(without_tensorflow):
    x, y = _images(50)
    batches = batched(to_dataset(x, y, "image"), 8, shuffle=True, seed=3)
    orders = []
    for _ in range(3):
        epoch = _epoch(batches)
        for features, labels in epoch:  # each label stays with its own image
            np.testing.assert_allclose(features, x[labels] / 255.0, rtol=1e-6)
        orders.append(np.concatenate([labels for _, labels in epoch]).tolist())
        batches.on_epoch_end()
    assert all(sorted(order) == list(range(50)) for order in orders)
    assert len({tuple(order) for order in orders}) == 3
    assert orders[0] != list(range(50))
    again = batched(to_dataset(x, y, "image"), 8, shuffle=True, seed=3)
    assert np.concatenate([labels for _, labels in _epoch(again)]).tolist() == orders[0]


def test_fallback_drops_the_remainder_of_a_shuffled_epoch(without_tensorflow):
    batches = batched(to_dataset(*_images(10), "image"), 4, shuffle=True, seed=0,
                      drop_remainder=True)
    epoch = _epoch(batches)
    assert [len(y) for _, y in epoch] == [4, 4]
    assert len(set(np.concatenate([y for _, y in epoch]).tolist())) == 8


def test_first_batches_of_the_fallback(without_tensorflow):
    batches = batched(to_dataset(*_images(10), "image"), 3)
    first = first_batches(batches, 2)
    assert len(first) == 2 and len(batches) == 4
    assert np.concatenate([y for _, y in _epoch(first)]).tolist() == list(range(6))
    assert len(first_batches(batches, 100)) == 4


def test_fallback_trains_and_predicts_with_class_weights(without_tensorflow):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(40, 4, 4, 1)).astype(np.uint8)
    y = (x.reshape(40, -1).mean(axis=1) > 127).astype("int32")
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    train = batched(to_dataset(x, y, "image"), 16, shuffle=True, seed=0)
    first_order = train[0][1].tolist()
    history = model.fit(train, validation_data=batched(to_dataset(x, y, "image"), 16),
                        epochs=2, class_weight={0: 1.0, 1: 2.0}, shuffle=False, verbose=0)
    assert len(history.history["val_accuracy"]) == 2
    assert train[0][1].tolist() != first_order  # fit reshuffled after each epoch
    assert model.predict(batched(to_dataset(x, y, "image"), 16), verbose=0).shape == (40, 2)


def test_raw_batches_without_tensorflow_are_unscaled_float_inputs(monkeypatch):
    from tfopt import backend
    from tfopt.results.final import raw_batches

    monkeypatch.setattr(backend, "has_tensorflow", lambda: False)
    raw = np.full((5, 2, 2, 1), 200, dtype=np.uint8)
    batches = raw_batches(raw, batch_size=2)
    assert isinstance(batches, ArrayBatches) and len(batches) == 3
    assert batches[0].dtype == np.float32 and batches[0].max() == 200.0
    assert [len(batch) for batch in batches] == [2, 2, 1]


def test_tf_data_batches_drop_the_remainder_and_take_the_first_batches():
    pytest.importorskip("tensorflow")
    dataset = to_dataset(*_images(10), "image")
    assert not isinstance(dataset, ArrayDataset)
    assert [len(y) for _, y in batched(dataset, 4)] == [4, 4, 2]
    assert [len(y) for _, y in batched(dataset, 4, drop_remainder=True)] == [4, 4]
    assert [len(y) for _, y in first_batches(batched(dataset, 4), 2)] == [4, 4]


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="Received: 0"):
        ArrayBatches(ArrayDataset(np.zeros((3, 1))), 0)


def test_tf_data_keeps_uint8_examples_and_scales_each_batch():
    tf = pytest.importorskip("tensorflow")
    x, y = _images(10)
    dataset = to_dataset(x, y, "image")
    assert dataset.element_spec[0].dtype == tf.uint8  # no per-example map, no cached copy
    for shuffle in (False, True):
        batches = list(batched(dataset, 4, shuffle=shuffle, seed=0))
        images = np.concatenate([features.numpy() for features, _ in batches])
        labels = np.concatenate([label.numpy() for _, label in batches])
        assert images.dtype == np.float32 and sorted(labels.tolist()) == list(range(10))
        np.testing.assert_allclose(images, x[labels] / 255.0, rtol=1e-6)
    floats = to_dataset(x.astype("float32"), y, "image")  # scaled once, as before
    np.testing.assert_allclose(next(iter(batched(floats, 10)))[0].numpy(), x / 255.0, rtol=1e-6)
    tokens = next(iter(batched(to_dataset(np.array([[3, 4]], "int32"), np.array([1]), "text"), 1)))
    assert tokens[0].numpy().tolist() == [[3, 4]]


def test_tf_data_batches_scale_images_without_autotuning():
    x, y = _images()
    batches = batched(to_dataset(x, y, "image"), 4, shuffle=True, seed=0)
    # Autotuning's model thread made each fit's end wait for it (up to 9 s on one core).
    assert batches.options().autotune.enabled is False
    features, labels = next(iter(batches))
    assert features.dtype == "float32" and len(labels) == 4
    np.testing.assert_allclose(features.numpy(), x[labels.numpy()] / 255.0, rtol=1e-6)
