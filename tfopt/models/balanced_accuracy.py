"""Keras metrics tfopt adds to the compiled models."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfopt")
class BalancedAccuracy(keras.metrics.Metric):
    """Mean per-class recall (scikit-learn's `balanced_accuracy_score`) over sparse labels.

    Accuracy rewards predicting the majority class on imbalanced data; this
    metric weighs every class equally, so it is tfopt's objective there
    (`val_balanced_accuracy`). Classes absent from the data seen so far are
    left out of the mean.

    Example:
        >>> model.compile(..., metrics=["accuracy", BalancedAccuracy(num_classes=3)])
    """

    def __init__(self, num_classes, name="balanced_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.seen = self.add_variable((self.num_classes,), initializer="zeros", name="seen")
        self.hits = self.add_variable((self.num_classes,), initializer="zeros", name="hits")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        predicted = ops.reshape(ops.argmax(y_pred, axis=-1), (-1,))
        one_hot = ops.one_hot(labels, self.num_classes, dtype=self.dtype)
        correct = ops.cast(ops.equal(labels, ops.cast(predicted, "int32")), self.dtype)
        self.seen.assign_add(ops.sum(one_hot, axis=0))
        self.hits.assign_add(ops.sum(one_hot * correct[:, None], axis=0))

    def result(self):
        present = ops.cast(self.seen > 0, self.dtype)
        recall = ops.divide_no_nan(self.hits, self.seen)
        return ops.divide_no_nan(ops.sum(recall * present), ops.sum(present))

    def reset_state(self):
        self.seen.assign(ops.zeros_like(self.seen))
        self.hits.assign(ops.zeros_like(self.hits))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
