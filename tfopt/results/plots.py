"""The run's plots as PNG bytes (matplotlib), shared by report.html and TensorBoard."""

import io

import numpy as np


HYPERBAND_EPOCHS = "epochs trained (Hyperband)"  # keras-tuner's "tuner/epochs"
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _figure_only(width, height):
    """A matplotlib Figure outside pyplot, so a notebook's own plotting state is untouched."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _figure(width, height):
    figure = _figure_only(width, height)
    return figure, figure.subplots()


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def learning_curves(curves):
    """`curves`: {trial id: {"train": [(epoch index, accuracy), ...], "validation": [...],
    "best_epoch": int or None, "stopped_early": bool}} -> accuracy per epoch, each trial one
    colour (validation solid, training dashed), its best epoch starred and the last epoch of
    a trial that early stopping or the budget ended crossed."""
    figure, ax = _figure(6.5, 3.6)
    values = []
    for (trial_id, curve), colour in zip(curves.items(), _COLOURS):
        for part, style in (("validation", "-o"), ("train", "--.")):
            if curve[part]:
                epochs, accuracy = zip(*curve[part])
                epochs = np.asarray(epochs) + 1
                ax.plot(epochs, accuracy, style, color=colour, markersize=3,
                        label=f"trial {trial_id} {part}")
                values += accuracy
        by_epoch = dict((e + 1, a) for e, a in curve["validation"])
        if curve["best_epoch"] in by_epoch:
            ax.plot(curve["best_epoch"], by_epoch[curve["best_epoch"]], "*", color=colour,
                    markersize=12, markeredgecolor="black")
        if curve["stopped_early"] and by_epoch:
            ax.plot(max(by_epoch), by_epoch[max(by_epoch)], "X", color=colour, markersize=9,
                    markeredgecolor="black")
    ax.plot([], [], "*", color="grey", markersize=10, label="best epoch (weights kept)")
    if any(curve["stopped_early"] for curve in curves.values()):
        ax.plot([], [], "X", color="grey", markersize=8, label="stopped early")
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_xlim(left=0.5, right=max(ax.get_xlim()[1], 1.5))
    if values:
        ax.set_ylim(max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.05) + 0.01)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _png(figure)


def objective_label(objective):
    """"val_balanced_accuracy" -> "validation balanced accuracy"."""
    return objective.replace("val_", "validation ", 1).replace("_", " ")


def optimization_history(trials, objective, direction,
                         time_axis="minutes since the first trial began"):
    """Each trial's score and the best so far, against trials (in the order they began) and
    against minutes (`time_axis` says which). `trials`: [(trial id, minutes at its end,
    score or None)], in id order."""
    figure = _figure_only(9, 3.2)
    by_trial, by_time = figure.subplots(1, 2, sharey=True)
    scored = [(int(i), t, s) for i, t, s in trials if s is not None]
    if scored:
        best = np.maximum.accumulate if direction == "max" else np.minimum.accumulate
        number, minutes, score = (np.asarray(column) for column in zip(*scored))
        for ax, x, label in ((by_trial, number, "trial id (the order they began)"),
                             (by_time, minutes, time_axis)):
            ax.scatter(x, score, s=18, color="#9ab", label="trial", zorder=2)
            order = np.argsort(x, kind="stable")
            ax.step(x[order], best(score[order]), where="post", color="#c33", linewidth=2,
                    label="best so far", zorder=3)
            ax.set_xlabel(label)
            ax.grid(alpha=0.3)
        by_trial.xaxis.set_major_locator(_integer_locator())
        by_trial.set_ylabel(objective_label(objective))
        by_trial.legend(fontsize=7)
    return _png(figure)


def parallel_coordinates(rows, names, scores, objective, direction="max"):
    """One line a trial across one vertical axis a hyperparameter, coloured by its score,
    the best (by `direction`) drawn last, on top. `rows`: [{name: value}], `scores`:
    floats. Numbers that span two decades or more (a learning rate) are on a log scale;
    words keep their order of first appearance; a value missing ("" or None: a
    conditional hyperparameter the trial did not use) leaves a gap in its line."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    figure = _figure_only(max(6.0, 1.1 * len(names) + 1.5), 3.8)
    ax = figure.subplots()
    positions, labels = {}, {}
    for name in names:
        positions[name], labels[name] = _axis_positions([row.get(name) for row in rows])
    norm = Normalize(min(scores), max(scores) if max(scores) > min(scores) else min(scores) + 1)
    # viridis without its palest yellows, which vanish on white
    cmap = ListedColormap(colormaps["viridis"](np.linspace(0, 0.85, 256)))
    order = np.argsort(scores, kind="stable")
    for k in order if direction == "max" else order[::-1]:  # the best drawn last, on top
        ax.plot(range(len(names)), [positions[name][k] for name in names],
                color=cmap(norm(scores[k])), alpha=0.85, linewidth=1.6, gid="trial")
    for x, name in enumerate(names):
        ax.axvline(x, color="black", linewidth=0.8)
        for y, text in labels[name]:
            ax.text(x + 0.04, y, text, fontsize=7, va="center")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(names) - 0.5)
    ax.set_ylim(-0.05, 1.05)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    colourbar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02)
    colourbar.set_label(objective_label(objective))
    return _png(figure)


def _axis_positions(values):
    """Positions in [0, 1] of one hyperparameter's values (NaN where missing), and
    (position, label) ticks."""
    present = [v for v in values if v not in ("", None)]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        array = np.asarray([np.nan if v in ("", None) else v for v in values], dtype="float64")
        low, high = np.nanmin(array), np.nanmax(array)
        log = low > 0 and high / low >= 100
        scaled = np.log10(array) if log else array
        lowest, highest = np.nanmin(scaled), np.nanmax(scaled)
        positions = (scaled - lowest) / (highest - lowest) if highest > lowest else \
            np.where(np.isnan(array), np.nan, 0.5)
        ticks = [(0.0, f"{low:.3g}"), (1.0, f"{high:.3g}")] if highest > lowest else \
            [(0.5, f"{low:.3g}")]
        return positions, ticks
    words = list(dict.fromkeys(str(v) for v in present))
    step = 1.0 / (len(words) - 1) if len(words) > 1 else 0.0
    place = {w: (i * step if len(words) > 1 else 0.5) for i, w in enumerate(words)}
    return np.asarray([np.nan if v in ("", None) else place[str(v)] for v in values]), \
        [(place[w], w) for w in words]


def _integer_locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def importance(shares):
    """Horizontal bars of each hyperparameter's share of importance (`shares` not empty)."""
    figure, ax = _figure(6, 0.35 * len(shares) + 1)
    names = list(shares)[::-1]
    labels = [HYPERBAND_EPOCHS if n == "tuner/epochs" else n for n in names]
    ax.barh(labels, [shares[n] for n in names], color="#4a7bb7")
    for y, name in enumerate(names):
        ax.text(shares[name], y, f" {shares[name]:.0%}", va="center", fontsize=8)
    ax.set_xlim(0, max(shares.values()) * 1.15 or 1)
    ax.set_xlabel("share of importance")
    return _png(figure)


def confusion(matrix, class_names):
    """Heat map of a confusion matrix (rows true, columns predicted): each cell's count,
    coloured by its share of the true class (so a rare class's errors show too)."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    side = min(11.0, max(4.0, 0.45 * n + 1.5))
    font = 11 if n <= 12 else 8 if n <= 25 else 6
    figure, ax = _figure(side + 1, side)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ticks = range(n)
    slanted = max(len(str(name)) for name in class_names) > 3
    ax.set_xticks(ticks, class_names, rotation=45 if slanted else 0,
                  ha="right" if slanted else "center", fontsize=font)
    ax.set_yticks(ticks, class_names, fontsize=font)
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, f"{count:,}", ha="center", va="center", fontsize=font,
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted", fontsize=font + 1)
    ax.set_ylabel("true", fontsize=font + 1)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04).set_label("share of the true class")
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
    ax.bar([str(t) for t in trial_ids], seconds, color="#4a7bb7")
    ax.set_xlabel("trial")
    ax.set_ylabel("seconds")
    many = len(trial_ids) > 12
    ax.tick_params(axis="x", labelrotation=90 if many else 0, labelsize=6 if many else 8)
    return _png(figure)


def png_to_tensorboard(log_dir, images, step=0):
    """Writes {tag: PNG bytes} as TensorBoard images under `log_dir`."""
    from tfopt.training.tensorboard_logs import write_images

    write_images(log_dir, images, step=step)
