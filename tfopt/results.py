"""What a finished search leaves behind: best model, best hyperparameters, results.json."""

import csv
import json
import time
import warnings

import numpy as np
from keras_tuner.engine.tuner import maybe_distribute

from tfopt.data.pipeline import batched, to_dataset
from tfopt import __version__
from tfopt.importance import as_markdown, hyperparameter_importance
from tfopt.loading import RESULTS_FORMAT
from tfopt.metrics import classification_metrics
from tfopt.tuners import trial_stats


def predict_probabilities(model, x, y, batch_size=256):
    """Class probabilities of `model` on raw split arrays (scaled like training data)."""
    modality = "image" if x.dtype == np.uint8 else "text"
    return model.predict(batched(to_dataset(x, y, modality), batch_size), verbose=0)


def write_summary_text(log_dir, tag, markdown):
    """Writes a Markdown text summary that TensorBoard shows under its Text tab."""
    import tensorflow as tf

    with tf.summary.create_file_writer(str(log_dir)).as_default():
        tf.summary.text(tag, markdown, step=0)


def write_trials_csv(tuner, path):
    """One row per trial: id, status, every hyperparameter, objective, best epoch,
    epochs run and seconds."""
    trials = [tuner.oracle.trials[i] for i in sorted(tuner.oracle.trials)]
    names = sorted({name for t in trials for name in t.hyperparameters.values
                    if not name.startswith("tuner/")})
    stats = trial_stats(tuner)
    objective = tuner.oracle.objective.name
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial_id", "status", *names, objective, "best_epoch", "epochs_run",
                         "seconds"])
        for t in trials:
            values = t.hyperparameters.values
            scored = t.score is not None
            writer.writerow([t.trial_id, t.status, *(values.get(n, "") for n in names),
                             t.score if scored else "", t.best_step + 1 if scored else "",
                             stats.get(t.trial_id, {}).get("epochs_run", ""),
                             stats.get(t.trial_id, {}).get("seconds", "")])


def save_results(tuner, data, config, run_dir, *, started, policy, strategy):
    """Evaluates the best trial's model on the test split and writes the run's result files.

    Returns:
        (results dict, best hyperparameters, best model)
    """
    best = tuner.oracle.get_best_trials(1)
    if not best:
        raise RuntimeError(f"No trial of the search in {run_dir} completed; see the messages above.")
    best_trial = best[0]
    best_hp = best_trial.hyperparameters
    with warnings.catch_warnings():  # the checkpoint's optimizer state is not needed
        warnings.simplefilter("ignore")
        best_model = tuner.get_best_models(1)[0]
    with maybe_distribute(tuner.distribution_strategy):  # saved ready to train on
        best_model.optimizer.build(best_model.trainable_variables)
    best_model.save(run_dir / "best_model.keras")
    hp_values = {k: v for k, v in best_hp.values.items() if not k.startswith("tuner/")}
    (run_dir / "best_hyperparameters.json").write_text(json.dumps(hp_values, indent=2))
    probabilities = predict_probabilities(best_model, data.x_test, data.y_test)
    np.savez_compressed(run_dir / "test_predictions.npz", y_true=data.y_test,
                        probabilities=probabilities)
    test_metrics = classification_metrics(data.y_test, probabilities, data.class_names)
    write_trials_csv(tuner, run_dir / "trials.csv")
    importance = hyperparameter_importance(list(tuner.oracle.trials.values()), seed=config.seed)
    write_summary_text(run_dir / "logs" / "summary", "hyperparameter_importance",
                       as_markdown(importance))
    statuses = [t.status for t in tuner.oracle.trials.values()]
    results = {
        "format": RESULTS_FORMAT,
        "tfopt_version": __version__,
        "task": config.task,
        "data_source": data.source,
        "data_sizes": data.sizes(),
        "model": config.model,
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
        "test_accuracy": test_metrics["accuracy"],
        "test_metrics": test_metrics,
        "wall_time_seconds": round(time.time() - started, 1),
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return results, best_hp, best_model
