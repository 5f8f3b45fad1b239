"""tf.data input pipelines: built once per search, batched per trial."""

import tensorflow as tf


def to_dataset(x, y, modality):
    """Unbatched, cached `tf.data.Dataset` of (features, label); images scaled to [0, 1]."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if modality == "image":
        dataset = dataset.map(
            lambda image, label: (tf.cast(image, tf.float32) / 255.0, label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.cache()


def batched(dataset, batch_size, *, shuffle=False, seed=None):
    """Batches a dataset from `to_dataset`, reshuffling each epoch when training."""
    if shuffle:
        size = int(dataset.cardinality())
        buffer = size if size > 0 else 10_000
        dataset = dataset.shuffle(min(buffer, 60_000), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
