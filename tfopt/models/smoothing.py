"""Cross-entropy on integer labels with label smoothing (Keras' sparse loss has none)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfopt")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """`sparse_categorical_crossentropy` against targets smoothed towards the uniform
    distribution: `1 - label_smoothing` on the labelled class plus `label_smoothing /
    classes` on every class (Szegedy et al. 2016), on probabilities (not logits).

    Example:
        >>> loss = SmoothedSparseCrossentropy(0.1)
        >>> round(float(loss([0], [[0.9, 0.1]])), 4)
        0.2152
    """

    def __init__(self, label_smoothing=0.1, name="smoothed_sparse_crossentropy", **kwargs):
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1). Received: {label_smoothing}")
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = ops.reshape(ops.cast(y_true, "int32"), ops.shape(y_pred)[:-1])
        targets = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(targets, y_pred,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
