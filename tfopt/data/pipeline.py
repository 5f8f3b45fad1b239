"""Input pipelines, built once per search and batched per trial: `tf.data` when
TensorFlow is installed, else NumPy arrays behind a `keras.utils.PyDataset`
(the JAX or PyTorch backend without TensorFlow)."""

import math

import keras
import numpy as np

from tfopt.backend import has_tensorflow


class ArrayDataset:
    """Unbatched in-memory examples: what `to_dataset` returns without TensorFlow.

    `x` holds the features (images already scaled to float32 in [0, 1]); `y`
    the labels, or None for inputs only.
    """

    def __init__(self, x, y=None):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)


class ArrayBatches(keras.utils.PyDataset):
    """Batches of an `ArrayDataset` for `model.fit`/`predict` (what `batched` returns
    without TensorFlow).

    With `shuffle`, the examples are reshuffled before every epoch from a
    generator seeded with `seed`, so two runs with the same seed see the same
    batches. `steps` caps the number of batches (see `first_batches`).
    """

    def __init__(self, dataset, batch_size, *, shuffle=False, seed=None, drop_remainder=False,
                 steps=None):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer. Received: {batch_size}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.seed = shuffle, seed
        self.drop_remainder, self.steps = drop_remainder, steps
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(dataset)) if shuffle else np.arange(len(dataset))

    def __len__(self):
        size = len(self.dataset)
        batches = size // self.batch_size if self.drop_remainder else \
            math.ceil(size / self.batch_size)
        return batches if self.steps is None else min(batches, self.steps)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.dataset.x[rows]
        return x if self.dataset.y is None else (x, self.dataset.y[rows])

    def on_epoch_end(self):
        if self.shuffle:
            self._rng.shuffle(self._order)


def to_dataset(x, y, modality):
    """Unbatched (features, label) examples; images come out of `batched` scaled to [0, 1]
    float32.

    A `tf.data.Dataset` when TensorFlow is installed (images kept as uint8, scaled a
    batch at a time by `batched`), else an `ArrayDataset` (images scaled once).
    """
    if not has_tensorflow():
        x = np.asarray(x)
        return ArrayDataset(x.astype("float32") / 255.0 if modality == "image" else x,
                            np.asarray(y))
    import tensorflow as tf

    # No per-example map and no cache: the arrays are already in memory. Measured on
    # Fashion-MNIST's 54,000 training images, batch 64, one core: a first epoch of the
    # pipeline alone took 0.5 s instead of 5.1 s with a per-example scale and `cache()`
    # (2.5 s of it before the first batch); later epochs 0.6 s either way.
    x = np.asarray(x)
    if modality == "image" and x.dtype != np.uint8:
        x = x.astype("float32") / 255.0
    return tf.data.Dataset.from_tensor_slices((x, y))


# Batches prepared ahead of the training step. tf.data's autotuning is off: its model thread
# made the end of every `fit` (the input iterator's deletion waits for that thread) take up to
# 9 s on one busy core. Measured on MR, three 1-epoch TextCNN trials (`taskset -c 0`): 0.1,
# 8.3 and 7.8 s from the last callback to `fit`'s return with autotuning, 0.0 s without.
PREFETCH_BATCHES = 2


def batched(dataset, batch_size, *, shuffle=False, seed=None, drop_remainder=False):
    """Batches a dataset from `to_dataset`, reshuffling each epoch when `shuffle`, and
    scales uint8 images to [0, 1] float32, with `PREFETCH_BATCHES` prepared ahead.

    `drop_remainder` leaves out the last, smaller batch (so every step has one
    shape and compiles once). Returns a `tf.data.Dataset` or an `ArrayBatches`.
    """
    if isinstance(dataset, ArrayDataset):
        return ArrayBatches(dataset, batch_size, shuffle=shuffle, seed=seed,
                            drop_remainder=drop_remainder)
    import tensorflow as tf

    if shuffle:
        size = int(dataset.cardinality())
        buffer = size if size > 0 else 10_000
        dataset = dataset.shuffle(min(buffer, 60_000), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if dataset.element_spec[0].dtype == tf.uint8:
        dataset = dataset.map(lambda images, labels: (tf.cast(images, tf.float32) / 255.0, labels))
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(PREFETCH_BATCHES).with_options(options)


def first_batches(batches, steps):
    """The first `steps` batches of `batched(...)`'s result (`tf.data`'s `take`)."""
    if isinstance(batches, ArrayBatches):
        return ArrayBatches(batches.dataset, batches.batch_size, shuffle=batches.shuffle,
                            seed=batches.seed, drop_remainder=batches.drop_remainder,
                            steps=steps)
    return batches.take(steps)
