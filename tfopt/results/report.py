"""`tfopt report RUN_DIR`: report.md and a self-contained report.html with inlined plots;
`tfopt report --compare RUN_A RUN_B ...`: runs side by side."""

import csv
import json
import pathlib
import re
from typing import NamedTuple, Optional

import numpy as np

from tfopt.choices import objective_direction
from tfopt.results import page, plots
from tfopt.results.loading import STATS_COLUMNS, ensemble_label, load_results

TOP_CURVES = 3
TENSORBOARD_IMAGES = ("optimization_history", "learning_curves", "confusion_matrix")
CANDIDATE_NAMES = {"checkpoint": "best trial's checkpoint", "retrained": "best trial retrained",
                   "ensemble": "ensemble", "averaged": "retrained and checkpoint averaged"}


class Figure(NamedTuple):
    """A plot of the report: `png` None when it cannot be drawn, and `caption` says why."""

    title: str
    png: Optional[bytes]
    caption: str


def build_report(run_dir, *, tensorboard=False):
    """Writes `report.md` and `report.html` into a finished run folder; returns their paths.

    With `tensorboard`, the optimization history, the confusion matrix and the top
    trials' learning curves also go to TensorBoard as images under the run `logs/final`
    (a search does this).

    Raises:
        InputError: if `run_dir` is not a finished tfopt run (see `tfopt.load`).
    """
    run_dir = pathlib.Path(run_dir)
    results = load_results(run_dir)
    trials = _sorted_trials(run_dir, results["objective"])
    figures = _figures(run_dir, results, trials)
    if tensorboard:
        plots.png_to_tensorboard(run_dir / "logs" / "final", {
            tag: figure.png for tag, figure in zip(TENSORBOARD_IMAGES, figures) if figure.png})
    summary, details = _sections(results, trials)
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    title = f"tfopt report: {results['task']} / {results['model']} / {results['tuner']}"
    md_path.write_text(page.markdown(title, summary + details, figures))
    html_path.write_text(page.html_page(title, _headline(results), summary, figures, details))
    return md_path, html_path


def _figures(run_dir, results, trials):
    """The report's plots in the order shown (the first three also go to TensorBoard)."""
    saved = np.load(run_dir / "test_predictions.npz", allow_pickle=False)
    metrics, objective = results["test_metrics"], results["objective"]
    completed = [t for t in trials if t["status"] == "COMPLETED" and t[objective] != ""]
    return [
        _history_figure(trials, objective),
        Figure("Learning curves of the top trials", plots.learning_curves(
            _curves(run_dir, trials[:TOP_CURVES])),
            "Accuracy per epoch (validation solid, training dashed); a star marks the epoch "
            "whose weights the trial kept, a cross a trial that early stopping or the budget "
            "ended before its planned epochs"
            + (" (with cross-validation: the first fold's curves)." if results.get("cv")
               else ".")),
        Figure("Confusion matrix (final model, test split)", plots.confusion(
            metrics["confusion_matrix"], results["class_names"]),
            "Counts of test examples by true class (rows) and predicted class (columns); the "
            "colour is each cell's share of its row."),
        _parallel_figure(completed, objective),
        _importance_figure(results["hyperparameter_importance"], len(completed)),
        Figure("Calibration (final model, test split)", plots.calibration(
            saved["y_true"], saved["final_probabilities"]),
            "Accuracy against confidence in 10 bins; on the diagonal, a probability of 0.8 is "
            "right 80% of the time."),
        Figure("Wall time per trial", plots.trial_times(
            [t["trial_id"] for t in _by_id(trials)],
            [float(t["seconds"] or 0) for t in _by_id(trials)]),
            "Seconds from each trial's start to its end, training and validation included."),
    ]


def _history_figure(trials, objective):
    points, clocked = _history(trials, objective)
    time_axis = "minutes since the first trial began" if clocked else \
        "minutes of trial time, added up"
    return Figure("Optimization history", plots.optimization_history(
        points, objective, objective_direction(objective), time_axis=time_axis),
        f"{plots.objective_label(objective).capitalize()} of each trial (dots) and the best so "
        f"far (line), against the trials' ids (the order they began) and against {time_axis}.")


def _history(trials, objective):
    """([(trial id, minutes at its end, score or None)] by id, whether the minutes are wall
    time). Wall time runs from the first trial's start to each one's end; where a trial has
    no `ended_at` (runs written before trials.csv had it, a trial that never ran) the
    trials' seconds are added up instead."""
    rows = _by_id(trials)
    seconds = [float(t["seconds"] or 0) for t in rows]
    ended = [t.get("ended_at") or "" for t in rows]
    clocked = bool(rows) and all(ended)
    if clocked:
        start = min(float(e) - s for e, s in zip(ended, seconds))
        minutes = [(float(e) - start) / 60 for e in ended]
    else:
        minutes = list(np.cumsum(seconds) / 60)
    return [(t["trial_id"], m, float(t[objective]) if t[objective] != "" else None)
            for t, m in zip(rows, minutes)], clocked


def _parallel_figure(completed, objective):
    title = "Hyperparameters of the trials"
    names = [n for n in _hyperparameter_names(completed, objective)
             if len({t[n] for t in completed}) > 1]
    if len(completed) < 2 or not names:
        return Figure(title, None, f"Not drawn: it needs two or more completed trials whose "
                                   f"hyperparameters differ ({len(completed)} completed).")
    rows = [{n: _value(t[n]) for n in names} for t in completed]
    return Figure(title, plots.parallel_coordinates(
        rows, names, [float(t[objective]) for t in completed], objective,
        objective_direction(objective)),
        f"One line a completed trial across the hyperparameters that differed between "
        f"trials, coloured by {plots.objective_label(objective)}; the best trial is drawn on "
        f"top; a gap where a trial did not use a hyperparameter.")


def _importance_figure(shares, completed):
    from tfopt.results.importance import MIN_TRIALS  # here: it loads scikit-learn's forests

    title = "Hyperparameter importance"
    if not shares:
        return Figure(title, None, f"Not computed: it needs at least {MIN_TRIALS} completed "
                                   f"trials, and this run has {completed}.")
    if not any(shares.values()):
        return Figure(title, None, "No hyperparameter explained the differences between the "
                                   "trials' scores (every share is 0).")
    return Figure(title, plots.importance(shares),
                  "Each hyperparameter's share of the variance in the trials' scores (permutation "
                  f"importance of a random forest fitted on the {completed} completed trials; "
                  "with few trials, a rough guide). Under Hyperband, the epochs a trial trained "
                  "count as one of them.")


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
    return page.table(header, rows)


def _sorted_trials(run_dir, objective):
    with open(run_dir / "trials.csv", newline="") as f:
        trials = list(csv.DictReader(f))
    if objective_direction(objective) == "min":
        return sorted(trials, key=lambda row: float(row[objective] or "inf"))
    return sorted(trials, key=lambda row: -float(row[objective] or "-inf"))


def _by_id(trials):
    """In the order trials began (ids are numbers; a resumed search may pad them wider)."""
    return sorted(trials, key=lambda row: int(row["trial_id"]))


def _curves(run_dir, top):
    """{trial id: {"train", "validation", "best_epoch", "stopped_early"}} of the top trials."""
    from tfopt.backend import import_tensorflow_quietly

    import_tensorflow_quietly()  # Keras and TensorBoard's event reader import it
    from tfopt.training.tensorboard_logs import read_scalars, trial_log_name

    curves = {}
    for row in top:
        logs = run_dir / "logs" / trial_log_name(row["trial_id"])
        if (logs / "fold_1").is_dir():  # cross-validation: the first fold's run
            logs = logs / "fold_1"
        elif not logs.is_dir():  # runs written before the trial_<id> names
            logs = run_dir / "logs" / row["trial_id"] / "execution0"
        curves[row["trial_id"]] = {
            **{part: read_scalars(logs / part, "epoch_accuracy")
               for part in ("train", "validation")},
            "best_epoch": int(row["best_epoch"]) if row["best_epoch"] else None,
            "stopped_early": row.get("stopped_early") == "True"}
    return curves


def _hyperparameter_names(trials, objective):
    """trials.csv's hyperparameter columns: all but the id, status, scores and statistics."""
    fixed = {"trial_id", "status", objective, "best_epoch", *STATS_COLUMNS}
    return [n for n in (trials[0] if trials else ()) if n not in fixed]


def _value(text):
    """A trials.csv cell as a number where it is one, else the text."""
    try:
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    except ValueError:
        return text


def _headline(results):
    """The figures at the top of the HTML page: (label, value)."""
    sizes = results["data_sizes"]
    return [(f"test accuracy ({results['final_model']})", f"{results['test_accuracy']:.2%}"),
            (f"best validation {results['objective']}",
             f"{results['best_validation_score']:.4f}"),
            ("trials", f"{results['trials_run']}" + (f" ({results['trials_failed']} failed)"
                                                      if results["trials_failed"] else "")),
            ("wall time", page.duration(results["wall_time_seconds"])),
            ("examples: train / validation / test",
             " / ".join(f"{sizes.get(k, 0):,}" for k in ("train", "val", "test")))]


def _sections(results, trials):
    """(title, header, rows) tables shared by both formats: the summary shown before the
    plots, and the details after them."""
    objective, metrics = results["objective"], results["test_metrics"]
    summary = [("Run", ["setting", "value"], _run_rows(results) + _budget_rows(results))]
    summary += _data_sections(results)
    summary.append(("Final model (test split)", ["measure", "value"], [
        ["best validation " + objective, f"{results['best_validation_score']:.4f}"],
        ["final model", results["final_model"]],
        ["test accuracy", f"{metrics['accuracy']:.4f}"],
        ["test macro F1", f"{metrics['macro_f1']:.4f}"],
        ["test ROC-AUC", page.score(metrics["roc_auc"])],
        ["test log-loss", f"{metrics['log_loss']:.4f}"],
        ["expected calibration error", f"{metrics['expected_calibration_error']:.4f}"]]))
    summary.append(("Candidates side by side (test split)",
                    ["candidate", "trained on", "epochs", "accuracy", "macro F1", "ROC-AUC",
                     "log-loss", "calibration error"], _candidate_rows(results)))
    summary += _retrain_and_cv_sections(results)
    details = [_trials_section(trials, objective)]
    details.append(("Per class (final model, test split)",
                    ["class", "precision", "recall", "F1", "support"],
                    [[c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}",
                      f"{c['f1']:.3f}", f"{c['support']:,}"] for c in metrics["per_class"]]))
    if results.get("confidently_wrong"):
        details.append(("Most confidently wrong (final model, test split)",
                        ["text", "true", "predicted", "probability"],
                        [[w["text"], w["true"], w["predicted"], f"{w['probability']:.3f}"]
                         for w in results["confidently_wrong"]]))
    details.append(("Exports", ["format", "file", "size", "test accuracy"],
                    [[e["format"], e["path"], page.size(e["bytes"]), f"{e['test_accuracy']:.4f}"]
                     for e in results["exports"]]))
    return summary, details


def _trials_section(trials, objective):
    names = _hyperparameter_names(trials, objective)
    return ("Trials, best first",
            ["trial", "status", objective, "best epoch", "epochs", "seconds", *names],
            [[t["trial_id"], t["status"], page.fmt(t[objective]), t["best_epoch"],
              t["epochs_run"] + (" (stopped early)" if t.get("stopped_early") == "True" else ""),
              page.trial_seconds(t["seconds"]), *(page.fmt(t[n]) for n in names)] for t in trials])


def _run_rows(results):
    sizes = results["data_sizes"]
    names = {"train": "train", "val": "validation", "test": "test"}
    return [["task", results["task"]], ["data", results["data_source"]],
            ["examples", ", ".join(f"{names.get(k, k)} {v:,}" for k, v in sizes.items())],
            ["model", results["model"]], ["tuner", results["tuner"]],
            ["seed", str(results["seed"])], ["strategy", results["strategy"]],
            ["dtype policy", results["dtype_policy"]],
            ["trials", f"{results['trials_run']} run, {results['trials_failed']} failed"],
            ["final model", results["final_model"]],
            ["wall time", page.duration(results["wall_time_seconds"])],
            ["tfopt version", results["tfopt_version"]]]


def _retrain_and_cv_sections(results):
    sections, objective = [], results["objective"]
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
        rows = [[name, f"{count:,}", f"{weights[str(i)]:.3f}" if weights else "off"]
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
        if label == "retrained" and len(results["retrain"]["seeds"]) > 1:
            label_text = f"{CANDIDATE_NAMES[label]} (seed {results['retrain']['seeds'][0]}; " \
                         "every seed below)"
        else:
            label_text = CANDIDATE_NAMES[label]
        rows.append([label_text, trained_on, str(epochs), f"{scores['accuracy']:.4f}",
                     f"{scores['macro_f1']:.4f}", page.score(scores["roc_auc"]),
                     f"{scores['log_loss']:.4f}", f"{scores['expected_calibration_error']:.4f}"])
    return rows
