"""`tfopt report RUN_DIR`: report.md and a self-contained report.html with inlined plots."""

import base64
import csv
import html
import io
import pathlib

import numpy as np

from tfopt.loading import load_results
from tfopt.tasks import objective_direction

TOP_CURVES = 3


def build_report(run_dir):
    """Writes `report.md` and `report.html` into a finished run folder; returns their paths.

    Raises:
        InputError: if `run_dir` is not a finished tfopt run (see `tfopt.load`).
    """
    run_dir = pathlib.Path(run_dir)
    results = load_results(run_dir)
    with open(run_dir / "trials.csv", newline="") as f:
        trials = list(csv.DictReader(f))
    objective = results["objective"]
    lower_is_better = objective_direction(objective) == "min"
    trials.sort(key=lambda row: float(row[objective] or "inf") if lower_is_better
                else -float(row[objective] or "-inf"))
    saved = np.load(run_dir / "test_predictions.npz")
    metrics = results["test_metrics"]
    class_names = [c["class"] for c in metrics["per_class"]]

    figures = {
        "Learning curves of the top trials": _learning_curves(run_dir, trials[:TOP_CURVES]),
        "Hyperparameter importance": _importance(results["hyperparameter_importance"]),
        "Confusion matrix (test split)": _confusion(metrics["confusion_matrix"], class_names),
        "Calibration (test split)": _calibration(saved["y_true"], saved["probabilities"]),
    }
    sections = _sections(results, trials, objective, metrics)
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    md_path.write_text(_markdown(results, sections))
    html_path.write_text(_html(results, sections, figures))
    return md_path, html_path


def _sections(results, trials, objective, metrics):
    """(title, header, rows) tables shared by both formats."""
    setting_rows = [[key, str(results[key])] for key in (
        "task", "data_source", "data_sizes", "model", "tuner", "seed", "strategy",
        "dtype_policy", "trials_run", "trials_failed", "wall_time_seconds", "tfopt_version")]
    score_rows = [["best validation " + objective, f"{results['best_validation_score']:.4f}"],
                  ["test accuracy (best trial's checkpoint)", f"{metrics['accuracy']:.4f}"],
                  ["test macro F1", f"{metrics['macro_f1']:.4f}"],
                  ["test ROC-AUC", "n/a" if metrics["roc_auc"] is None else
                   f"{metrics['roc_auc']:.4f}"],
                  ["test log-loss", f"{metrics['log_loss']:.4f}"],
                  ["expected calibration error", f"{metrics['expected_calibration_error']:.4f}"]]
    names = [k for k in trials[0] if k not in ("trial_id", "status", objective, "best_epoch",
                                               "epochs_run", "seconds")] if trials else []
    trial_header = ["trial", "status", objective, "best epoch", "epochs", "seconds", *names]
    trial_rows = [[t["trial_id"], t["status"], _fmt(t[objective]), t["best_epoch"],
                   t["epochs_run"], t["seconds"], *(_fmt(t[n]) for n in names)] for t in trials]
    class_rows = [[c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}",
                   str(c["support"])] for c in metrics["per_class"]]
    return [("Run", ["setting", "value"], setting_rows),
            ("Scores", ["measure", "value"], score_rows),
            ("Trials, best first", trial_header, trial_rows),
            ("Per class (test split)", ["class", "precision", "recall", "F1", "support"],
             class_rows)]


def _fmt(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4g}"


def _figure(width, height):
    """A matplotlib Figure outside pyplot, so a notebook's own plotting state is untouched."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def _learning_curves(run_dir, top):
    from tfopt.tensorboard_logs import read_scalars

    figure, ax = _figure(6, 3.5)
    for row in top:
        run = run_dir / "logs" / row["trial_id"] / "execution0"
        for part, style in (("train", "--o"), ("validation", "-o")):
            values = read_scalars(run / part, "epoch_accuracy")
            if values:
                steps, accuracy = zip(*values)
                ax.plot(np.asarray(steps) + 1, accuracy, style, markersize=3,
                        label=f"trial {row['trial_id']} {part}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7)
    return _png(figure)


def _importance(importance):
    figure, ax = _figure(6, 3)
    if importance:
        names = list(importance)[::-1]
        ax.barh(names, [importance[n] for n in names])
        ax.set_xlabel("share of importance")
    else:
        ax.text(0.5, 0.5, "too few completed trials to rank", ha="center", va="center")
        ax.set_axis_off()
    return _png(figure)


def _confusion(matrix, class_names):
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


def _calibration(y_true, probabilities):
    from sklearn.calibration import calibration_curve

    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y_true).astype(int)
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=10)
    figure, ax = _figure(4, 4)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.plot(mean_confidence, accuracy, "o-", label="best model")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7)
    return _png(figure)


def _markdown(results, sections):
    lines = [f"# tfopt report: {results['task']} / {results['model']} / {results['tuner']}", ""]
    for title, header, rows in sections:
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines.append("Plots are inlined in report.html.")
    return "\n".join(lines) + "\n"


def _html(results, sections, figures):
    e = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>tfopt report</title>"
             "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
             "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;"
             "padding:2px 6px}</style>",
             f"<h1>tfopt report: {e(results['task'])} / {e(results['model'])} / "
             f"{e(results['tuner'])}</h1>"]
    for title, header, rows in sections:
        parts.append(f"<h2>{e(title)}</h2><table><tr>"
                     + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                               for row in rows) + "</table>")
    for title, png in figures.items():
        data = base64.b64encode(png).decode()
        parts.append(f"<h2>{e(title)}</h2><img alt='{e(title)}' src='data:image/png;base64,{data}'>")
    return "\n".join(parts) + "\n"

