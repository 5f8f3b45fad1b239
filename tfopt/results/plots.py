"""The run's plots as PNG bytes (matplotlib), shared by report.html and TensorBoard."""

import io

import numpy as np


def _figure(width, height):
    """A matplotlib Figure outside pyplot, so a notebook's own plotting state is untouched."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def learning_curves(curves):
    """`curves`: {label: [(epoch index, accuracy), ...]} -> accuracy per epoch."""
    figure, ax = _figure(6, 3.5)
    for label, values in curves.items():
        if values:
            steps, accuracy = zip(*values)
            style = "--o" if label.endswith("train") else "-o"
            ax.plot(np.asarray(steps) + 1, accuracy, style, markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7)
    return _png(figure)


def importance(shares):
    """Horizontal bars of each hyperparameter's share of importance."""
    figure, ax = _figure(6, 3)
    if shares:
        names = list(shares)[::-1]
        ax.barh(names, [shares[n] for n in names])
        ax.set_xlabel("share of importance")
    else:
        ax.text(0.5, 0.5, "too few completed trials to rank", ha="center", va="center")
        ax.set_axis_off()
    return _png(figure)


def confusion(matrix, class_names):
    """Heat map of a confusion matrix (rows true, columns predicted) with counts."""
    matrix = np.asarray(matrix)
    figure, ax = _figure(5, 4.5)
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(ticks, class_names, fontsize=7)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, count, ha="center", va="center", fontsize=6,
                color="white" if count > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _png(figure)


def calibration(y_true, probabilities):
    """Reliability diagram: accuracy against confidence in 10 bins."""
    from sklearn.calibration import calibration_curve

    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y_true).astype(int)
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=10)
    figure, ax = _figure(4, 4)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.plot(mean_confidence, accuracy, "o-", label="final model")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7)
    return _png(figure)


def trial_times(trial_ids, seconds):
    """Bars of wall time per trial, in trial order."""
    figure, ax = _figure(6, 2.5)
    ax.bar([str(t) for t in trial_ids], seconds)
    ax.set_xlabel("trial")
    ax.set_ylabel("seconds")
    ax.tick_params(axis="x", labelrotation=90, labelsize=6)
    return _png(figure)


def png_to_tensorboard(log_dir, images, step=0):
    """Writes {tag: PNG bytes} as TensorBoard images under `log_dir`."""
    from tfopt.training.tensorboard_logs import write_images

    write_images(log_dir, images, step=step)
