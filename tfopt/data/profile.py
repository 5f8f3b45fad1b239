"""What a search infers from its data: class counts, imbalance, class weights, objective."""

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

# Most/fewest training examples per class above which the data counts as imbalanced.
IMBALANCE_THRESHOLD = 3.0


def class_counts(splits):
    """Training examples per class, in class order."""
    return np.bincount(splits.y_train, minlength=splits.num_classes).tolist()


def imbalance_ratio(counts):
    """Examples in the largest class over examples in the smallest."""
    return max(counts) / max(min(counts), 1)


def balanced_class_weights(splits):
    """{class index: weight} inversely proportional to the class's share of training data
    (scikit-learn's "balanced" weights)."""
    classes = np.arange(splits.num_classes)
    weights = compute_class_weight("balanced", classes=classes, y=splits.y_train)
    return {int(c): float(w) for c, w in zip(classes, weights)}


def infer_settings(splits, *, class_weights=None, objective=None):
    """The data-dependent settings of a search: the user's where given, else inferred.

    Class weights and the balanced objective turn on when the imbalance ratio
    exceeds `IMBALANCE_THRESHOLD`; `class_weights=False` or an explicit
    `objective` keep them off.

    Returns:
        {"class_counts", "imbalance_ratio", "imbalanced", "class_weight" (dict or None),
         "objective"}.
    """
    counts = class_counts(splits)
    ratio = imbalance_ratio(counts)
    imbalanced = ratio > IMBALANCE_THRESHOLD
    use_weights = imbalanced if class_weights is None else bool(class_weights)
    return {
        "class_counts": dict(zip(splits.class_names, counts)),
        "imbalance_ratio": round(ratio, 2),
        "imbalanced": imbalanced,
        "class_weight": balanced_class_weights(splits) if use_weights else None,
        "objective": objective or ("val_balanced_accuracy" if imbalanced else "val_accuracy"),
    }


def describe_settings(splits, settings, model, *, model_given):
    """Lines a person reads before the search starts."""
    counts = ", ".join(f"{name} {count:,}" for name, count in settings["class_counts"].items())
    shape = "x".join(str(d) for d in splits.input_shape)
    kind = f"images {shape}" if splits.modality == "image" else \
        f"text, {splits.input_shape[0]} tokens a text, {len(splits.vocabulary or ()):,} words"
    weights = settings["class_weight"]
    lines = [
        f"inferred: {splits.modality} data ({kind}), {splits.num_classes} classes "
        f"(train: {counts})",
        f"inferred: imbalance {settings['imbalance_ratio']:.1f}:1 "
        f"({'above' if settings['imbalanced'] else 'within'} {IMBALANCE_THRESHOLD:.0f}:1); class "
        "weights " + ("on (" + ", ".join(f"{splits.class_names[c]} {w:.2f}" for c, w in
                                         weights.items()) + ")" if weights else "off")
        + f"; objective {settings['objective']}",
        f"model: {model}" + ("" if model_given else
                                     f" (default for {splits.modality} data; --model to change)"),
    ]
    return lines + [f"data note: {note}" for note in getattr(splits, "notes", ())]
