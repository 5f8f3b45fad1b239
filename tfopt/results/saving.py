"""What a finished search leaves behind: results.json, trials.csv, test predictions."""

import csv
import time

import numpy as np

from tfopt import __version__
from tfopt.durable import write_json
from tfopt.results.final import best_epochs
from tfopt.results.importance import as_markdown, hyperparameter_importance
from tfopt.results.loading import RESULTS_FORMAT, STATS_COLUMNS
from tfopt.results.metrics import classification_metrics, confidently_wrong
from tfopt.tuning.tuners import trial_stats, tuned_values

SUMMARY_METRICS = ("accuracy", "macro_f1", "roc_auc", "log_loss", "expected_calibration_error")


def write_summary_text(log_dir, tag, markdown):
    """Writes a Markdown text summary that TensorBoard shows under its Text tab."""
    from tfopt.training.tensorboard_logs import write_text

    write_text(log_dir, tag, markdown)


def write_trials_csv(tuner, path):
    """One row per trial: id, status, every hyperparameter, objective, best epoch
    (counted from scratch, as retraining uses it), epochs run, seconds, when it ended
    (Unix time) and whether early stopping or the budget ended its training."""
    trials = [tuner.oracle.trials[i] for i in sorted(tuner.oracle.trials)]
    names = sorted({name for t in trials for name in tuned_values(t.hyperparameters)})
    stats = trial_stats(tuner)
    objective = tuner.oracle.objective.name
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial_id", "status", *names, objective, "best_epoch", *STATS_COLUMNS])
        for t in trials:
            values = t.hyperparameters.values
            scored = t.score is not None
            writer.writerow([t.trial_id, t.status, *(values.get(n, "") for n in names),
                             t.score if scored else "", best_epochs(t) if scored else "",
                             *(stats.get(t.trial_id, {}).get(c, "") for c in STATS_COLUMNS)])


def cross_validation(tuner, folds, best_trial):
    """The folds' scores of every trial and the best trial's mean, spread and range (None
    without cross-validation). Read from trial_stats.json, so a resumed search has all."""
    if not folds:
        return None
    scores = {trial_id: stats["fold_scores"] for trial_id, stats in trial_stats(tuner).items()
              if stats.get("fold_scores")}
    best = scores.get(best_trial.trial_id, [])
    return {"folds": folds, "best_trial_scores": best,
            "best_mean": float(np.mean(best)) if best else None,
            "best_std": float(np.std(best, ddof=1)) if len(best) > 1 else None,
            "best_min": min(best, default=None), "best_max": max(best, default=None),
            "trial_scores": scores}


def save_results(tuner, data, config, run_dir, *, final_summary, probabilities, exports,
                 started, policy, strategy, settings=None, init_from=None, budget=None):
    """Writes best_hyperparameters.json, test_predictions.npz, trials.csv and results.json.

    `probabilities` holds the test-split probabilities of each candidate
    ("checkpoint", "retrained", "ensemble", and "final": the final model on raw
    inputs); `final_summary` and `exports` come from `tfopt.results.final.finalize`
    and `tfopt.results.export.export_models`; `settings` from `tfopt.data.profile.infer_settings`;
    `init_from` is the fine-tuning vs from-scratch comparison, if any.

    Returns:
        the results dict.
    """
    best_trial = tuner.oracle.get_best_trials(1)[0]
    hp_values = tuned_values(best_trial.hyperparameters)
    write_json(run_dir / "best_hyperparameters.json", hp_values, indent=2)
    np.savez_compressed(run_dir / "test_predictions.npz", y_true=data.y_test,
                        **{f"{name}_probabilities": p for name, p in probabilities.items()})
    test_metrics = classification_metrics(data.y_test, probabilities["final"], data.class_names)
    candidates = {}
    for name in ("checkpoint", "retrained", "ensemble"):
        if name in probabilities:
            scores = classification_metrics(data.y_test, probabilities[name], data.class_names)
            candidates[name] = {key: scores[key] for key in SUMMARY_METRICS}
    write_trials_csv(tuner, run_dir / "trials.csv")
    importance = hyperparameter_importance(list(tuner.oracle.trials.values()), seed=config.seed)
    write_summary_text(run_dir / "logs" / "summary", "hyperparameter_importance",
                       as_markdown(importance))
    statuses = [t.status for t in tuner.oracle.trials.values()]
    results = {
        "format": RESULTS_FORMAT,
        "tfopt_version": __version__,
        "task": config.name,
        "data": config.data,
        "data_source": data.source,
        "data_notes": list(data.notes),
        "inferred": settings,
        "space": config.space,
        "init_from": init_from,
        "data_sizes": data.sizes(),
        "input_shape": list(data.input_shape),
        "modality": data.modality,
        "class_names": list(data.class_names),
        "model": config.custom_model or config.model,
        "tuner": config.tuner,
        "seed": config.seed,
        "strategy": strategy,
        "dtype_policy": policy,
        "objective": tuner.oracle.objective.name,
        "trials_run": len(statuses),
        "trials_completed": statuses.count("COMPLETED"),
        "trials_failed": len(statuses) - statuses.count("COMPLETED"),
        "best_trial_id": best_trial.trial_id,
        "best_validation_score": float(best_trial.score),
        "best_hyperparameters": hp_values,
        "hyperparameter_importance": importance,
        "final_model": final_summary["final_model"],
        "test_accuracy": test_metrics["accuracy"],
        "test_metrics": test_metrics,
        "candidates": candidates,
        "checkpoint": final_summary["checkpoint"],
        "retrain": final_summary["retrain"],
        "ensemble": final_summary["ensemble"],
        "exports": exports,
        "confidently_wrong": confidently_wrong(data.y_test, probabilities["final"],
                                               data.raw_test, data.class_names)
        if data.modality == "text" else None,
        "budget": budget,
        "cv": cross_validation(tuner, config.cv, best_trial),
        "wall_time_seconds": round(time.time() - started, 1),
    }
    write_json(run_dir / "results.json", results, indent=2)  # marks the run finished
    return results
