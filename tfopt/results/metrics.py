"""Test-split metrics from scikit-learn, plus expected calibration error."""

import numpy as np
from sklearn import metrics


def accuracy(y_true, probabilities):
    """The share of examples whose most probable class is the true one."""
    return float(np.mean(np.asarray(probabilities).argmax(axis=1) == np.asarray(y_true)))


def classification_metrics(y_true, probabilities, class_names, *, calibration_bins=15):
    """Accuracy, macro and per-class precision/recall/F1, confusion matrix,
    ROC-AUC (one-vs-rest when multi-class), log-loss and expected calibration error.

    Args:
        y_true: integer labels, shape `(n,)`.
        probabilities: predicted class probabilities, shape `(n, num_classes)`.
        class_names: one name per class.
        calibration_bins: equal-width confidence bins for the calibration error.

    Returns:
        A JSON-ready dict.
    """
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype="float64")
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # float32 softmax rounding
    labels = list(range(len(class_names)))
    y_pred = probabilities.argmax(axis=1)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    present = np.unique(y_true)
    if len(present) < 2:
        roc_auc = None  # undefined with a single class in the test split
    elif len(labels) == 2:
        roc_auc = metrics.roc_auc_score(y_true, probabilities[:, 1])
    else:
        roc_auc = metrics.roc_auc_score(y_true, probabilities, multi_class="ovr", labels=labels)
    return {
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "roc_auc": None if roc_auc is None else float(roc_auc),
        "log_loss": float(metrics.log_loss(y_true, probabilities, labels=labels)),
        "expected_calibration_error": expected_calibration_error(
            y_true, probabilities, bins=calibration_bins),
        "per_class": [
            {"class": name, "precision": float(p), "recall": float(r), "f1": float(f),
             "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        ],
        "confusion_matrix": metrics.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def expected_calibration_error(y_true, probabilities, *, bins=15):
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def confidently_wrong(y_true, probabilities, texts, class_names, *, count=10):
    """The `count` misclassified examples with the highest predicted probability:
    [{"text", "true", "predicted", "probability"}], most confident first."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong = np.flatnonzero(predicted != np.asarray(y_true))
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:count]
    return [{"text": str(texts[i]), "true": class_names[y_true[i]],
             "predicted": class_names[predicted[i]], "probability": float(confidence[i])}
            for i in worst]
