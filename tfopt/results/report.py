"""`tfopt report RUN_DIR`: report.md and a self-contained report.html with inlined plots;
`tfopt report --compare RUN_A RUN_B ...`: runs side by side."""

import base64
import csv
import html
import json
import pathlib

import numpy as np

from tfopt.results import plots
from tfopt.results.loading import ensemble_label, load_results
from tfopt.choices import objective_direction

TOP_CURVES = 3
CANDIDATE_NAMES = {"checkpoint": "best trial's checkpoint", "retrained": "best trial retrained",
                   "ensemble": "ensemble", "averaged": "retrained and checkpoint averaged"}


def build_report(run_dir, *, tensorboard=False):
    """Writes `report.md` and `report.html` into a finished run folder; returns their paths.

    With `tensorboard`, the confusion matrix and the top trials' learning curves
    also go to TensorBoard as images under the run `logs/final` (a search does this).

    Raises:
        InputError: if `run_dir` is not a finished tfopt run (see `tfopt.load`).
    """
    run_dir = pathlib.Path(run_dir)
    results = load_results(run_dir)
    trials = _sorted_trials(run_dir, results["objective"])
    saved = np.load(run_dir / "test_predictions.npz", allow_pickle=False)
    metrics = results["test_metrics"]
    figures = {
        "Learning curves of the top trials": plots.learning_curves(
            _curves(run_dir, trials[:TOP_CURVES])),
        "Hyperparameter importance": plots.importance(results["hyperparameter_importance"]),
        "Confusion matrix (final model, test split)": plots.confusion(
            metrics["confusion_matrix"], results["class_names"]),
        "Calibration (final model, test split)": plots.calibration(
            saved["y_true"], saved["final_probabilities"]),
        "Wall time per trial": plots.trial_times(
            [t["trial_id"] for t in _by_id(trials)],
            [float(t["seconds"] or 0) for t in _by_id(trials)]),
    }
    if tensorboard:
        plots.png_to_tensorboard(run_dir / "logs" / "final", {
            "confusion_matrix": figures["Confusion matrix (final model, test split)"],
            "learning_curves": figures["Learning curves of the top trials"]})
    sections = _sections(results, trials)
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    title = f"tfopt report: {results['task']} / {results['model']} / {results['tuner']}"
    md_path.write_text(_markdown(title, sections) + "\nPlots are inlined in report.html.\n")
    html_path.write_text(_html(title, sections, figures))
    return md_path, html_path


def compare(run_dirs):
    """A Markdown table of several finished runs side by side.

    Raises:
        InputError: naming the first folder that is not a finished run.
    """
    header = ["run", "task", "model", "tuner", "trials", "best validation", "final model",
              "test accuracy", "checkpoint test accuracy", "minutes"]
    rows = []
    for run_dir in run_dirs:
        r = load_results(run_dir)
        rows.append([str(run_dir), r["task"], r["model"], r["tuner"], str(r["trials_run"]),
                     f"{r['objective']} {r['best_validation_score']:.4f}", r["final_model"],
                     f"{r['test_accuracy']:.4f}", f"{r['checkpoint']['test_accuracy']:.4f}",
                     f"{r['wall_time_seconds'] / 60:.1f}"])
    return _table(header, rows)


def _sorted_trials(run_dir, objective):
    with open(run_dir / "trials.csv", newline="") as f:
        trials = list(csv.DictReader(f))
    if objective_direction(objective) == "min":
        return sorted(trials, key=lambda row: float(row[objective] or "inf"))
    return sorted(trials, key=lambda row: -float(row[objective] or "-inf"))


def _by_id(trials):
    return sorted(trials, key=lambda row: row["trial_id"])


def _curves(run_dir, top):
    from tfopt.training.tensorboard_logs import read_scalars

    return {f"trial {row['trial_id']} {part}": read_scalars(
                run_dir / "logs" / row["trial_id"] / "execution0" / part, "epoch_accuracy")
            for row in top for part in ("train", "validation")}


def _sections(results, trials):
    """(title, header, rows) tables shared by both formats."""
    objective, metrics = results["objective"], results["test_metrics"]
    sections = [("Run", ["setting", "value"], [[key, str(results[key])] for key in (
        "task", "data_source", "data_sizes", "model", "tuner", "seed", "strategy",
        "dtype_policy", "trials_run", "trials_failed", "final_model", "wall_time_seconds",
        "tfopt_version")] + _budget_rows(results))]
    sections += _data_sections(results)
    sections.append(("Final model (test split)", ["measure", "value"], [
        ["best validation " + objective, f"{results['best_validation_score']:.4f}"],
        ["final model", results["final_model"]],
        ["test accuracy", f"{metrics['accuracy']:.4f}"],
        ["test macro F1", f"{metrics['macro_f1']:.4f}"],
        ["test ROC-AUC", _score(metrics["roc_auc"])],
        ["test log-loss", f"{metrics['log_loss']:.4f}"],
        ["expected calibration error", f"{metrics['expected_calibration_error']:.4f}"]]))
    sections.append(("Candidates side by side (test split)",
                     ["candidate", "trained on", "epochs", "accuracy", "macro F1", "ROC-AUC",
                      "log-loss", "calibration error"], _candidate_rows(results)))
    if results["retrain"] and len(results["retrain"]["seeds"]) > 1:
        retrain = results["retrain"]
        sections.append(("Retraining over seeds", ["seed", "test accuracy"],
                         [[str(s), f"{a:.4f}"] for s, a in zip(
                             retrain["seeds"], retrain["test_accuracy_per_seed"])]
                         + [["mean ± std", f"{retrain['test_accuracy_mean']:.4f} ± "
                                           f"{retrain['test_accuracy_std']:.4f}"]]))
    if results.get("cv"):
        cv = results["cv"]
        sections.append((f"Cross-validation of the best trial ({cv['folds']} folds of "
                         "train+validation)", ["fold", "validation " + objective],
                         [[str(k), f"{score:.4f}"] for k, score in
                          enumerate(cv["best_trial_scores"], start=1)]
                         + [["mean ± std", f"{cv['best_mean']:.4f} ± {cv['best_std'] or 0:.4f}"],
                            ["min - max", f"{cv['best_min']:.4f} - {cv['best_max']:.4f}"]]))
    sections.append(("Exports", ["format", "file", "size", "test accuracy"],
                     [[e["format"], e["path"], _size(e["bytes"]), f"{e['test_accuracy']:.4f}"]
                      for e in results["exports"]]))
    names = [k for k in trials[0] if k not in ("trial_id", "status", objective, "best_epoch",
                                               "epochs_run", "seconds")] if trials else []
    sections.append(("Trials, best first",
                     ["trial", "status", objective, "best epoch", "epochs", "seconds", *names],
                     [[t["trial_id"], t["status"], _fmt(t[objective]), t["best_epoch"],
                       t["epochs_run"], t["seconds"], *(_fmt(t[n]) for n in names)]
                      for t in trials]))
    sections.append(("Per class (final model, test split)",
                     ["class", "precision", "recall", "F1", "support"],
                     [[c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}",
                       f"{c['f1']:.3f}", str(c["support"])] for c in metrics["per_class"]]))
    if results.get("confidently_wrong"):
        sections.append(("Most confidently wrong (final model, test split)",
                         ["text", "true", "predicted", "probability"],
                         [[w["text"], w["true"], w["predicted"], f"{w['probability']:.3f}"]
                          for w in results["confidently_wrong"]]))
    return sections


def _budget_rows(results):
    """The wall-clock budget's rows of the Run table (none without a budget)."""
    budget = results.get("budget")
    if not budget:
        return []
    rows = [["budget", f"{budget['seconds']:.0f} s" + (
        f" (hyperband max_epochs {budget['max_epochs']})" if results["tuner"] == "hyperband"
        else "")]]
    rows.append(["budget: trials", "stopped: " + budget["stopped"] if budget["stopped"]
                 else "the search ended before the budget"])
    if budget.get("searched") is False:
        rows.append(["budget: search", "one round of brackets would take more than half of "
                                       "it; the defaults trained instead"])
    if budget.get("redrawn"):
        rows.append(["budget: redrawn", f"{budget['redrawn']} drawn model(s) would not have "
                                        "ended in time; others were drawn in their place"])
    for step in budget.get("continued", []):
        rows.append(["budget: continued", f"trial {step['trial_id']} from epoch "
                                          f"{step['from_epoch']} to {step['to_epoch']}"])
    if budget["retrain_skipped"]:
        rows.append(["budget: final model", "no retraining (over its share of the budget, or "
                                            "it did not fit); best trial's checkpoint"])
    return rows


def _data_sections(results):
    """What the search inferred from the data, the user's space, fine-tuning vs scratch."""
    sections = []
    inferred = results.get("inferred")
    if inferred:
        weights = inferred["class_weight"] or {}
        rows = [[name, str(count), f"{weights[str(i)]:.3f}" if weights else "off"]
                for i, (name, count) in enumerate(inferred["class_counts"].items())]
        sections.append((f"Data: imbalance {inferred['imbalance_ratio']:.1f}:1, objective "
                         f"{inferred['objective']}", ["class", "training examples",
                                                      "class weight"], rows))
    if results.get("data_notes"):
        sections.append(("Data notes", ["note"], [[note] for note in results["data_notes"]]))
    if results.get("space"):
        sections.append(("Your search space", ["hyperparameter", "given as"],
                         [[name, json.dumps(value)] for name, value in results["space"].items()]))
    finetune = results.get("init_from")
    if finetune:
        scratch = finetune["scratch"]
        sections.append((f"Fine-tuned from {finetune['run']} vs from scratch (test split)",
                         ["model", "epochs", "test accuracy"], [
                             [f"fine-tuned {finetune['source_model']} ({finetune['source_task']}"
                              f"), {finetune['frozen_blocks']} of {len(finetune['blocks'])} "
                              "blocks frozen", str(finetune["epochs"]),
                              f"{finetune['test_accuracy']:.4f}"],
                             ["same architecture from scratch (source's best hyperparameters)",
                              str(scratch["epochs"]), f"{scratch['test_accuracy']:.4f}"]]))
    return sections


def _candidate_rows(results):
    details = {"checkpoint": (results["checkpoint"]["trained_on"],
                              results["checkpoint"]["epochs"])}
    if results["retrain"]:
        details["retrained"] = (results["retrain"]["trained_on"], results["retrain"]["epochs"])
    if results["ensemble"]:
        ensemble = results["ensemble"]
        details["ensemble"] = (ensemble_label(ensemble), ", ".join(map(str, ensemble["epochs"])))
    rows = []
    for name, scores in results["candidates"].items():
        trained_on, epochs = details[name]
        # results.json keeps any average under "ensemble"; final_model says which it is
        label = "averaged" if name == "ensemble" and results["final_model"] == "averaged" \
            else name
        rows.append([CANDIDATE_NAMES[label], trained_on, str(epochs), f"{scores['accuracy']:.4f}",
                     f"{scores['macro_f1']:.4f}", _score(scores["roc_auc"]),
                     f"{scores['log_loss']:.4f}", f"{scores['expected_calibration_error']:.4f}"])
    return rows


def _fmt(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4g}"


def _score(value):
    return "n/a" if value is None else f"{value:.4f}"


def _size(num_bytes):
    return f"{num_bytes / 1e6:.2f} MB" if num_bytes >= 1e6 else f"{num_bytes / 1e3:.1f} kB"


def _table(header, rows):
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ")
                                 for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header)] + [line(r) for r in rows]) + "\n"


def _markdown(title, sections):
    parts = [f"# {title}\n"]
    parts += [f"## {name}\n\n{_table(header, rows)}" for name, header, rows in sections]
    return "\n".join(parts)


def _html(title, sections, figures):
    e = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>tfopt report</title>"
             "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
             "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;"
             "padding:2px 6px}</style>", f"<h1>{e(title)}</h1>"]
    for name, header, rows in sections:
        parts.append(f"<h2>{e(name)}</h2><table><tr>"
                     + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                               for row in rows) + "</table>")
    for name, png in figures.items():
        data = base64.b64encode(png).decode()
        parts.append(f"<h2>{e(name)}</h2><img alt='{e(name)}' src='data:image/png;base64,{data}'>")
    return "\n".join(parts) + "\n"
