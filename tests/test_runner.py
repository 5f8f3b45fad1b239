"""`tfopt.search` end to end on digits: results, TensorBoard logs with HParams, resuming."""

import contextlib
import csv
import dataclasses
import io
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfopt


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, one_retraining):
    """A 2-trial random search on digits with the default final stage (small data: 3
    retrainings and the checkpoint, averaged), verbose=0; it also records the data loads, the
    input pipelines made and what the search printed."""
    from tfopt import runner
    from tfopt.data import tasks

    out = tmp_path_factory.mktemp("runs") / "digits"
    loads, pipelines, printed = [], [], io.StringIO()
    load, to_dataset = tasks.TASKS["digits"].load, runner.to_dataset
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(tasks.TASKS, "digits", dataclasses.replace(
            tasks.TASKS["digits"], load=lambda data_dir: loads.append("digits") or load(data_dir)))
        patch.setattr(runner, "to_dataset",
                      lambda *args: pipelines.append(args[2]) or to_dataset(*args))
        patch.setattr(tasks, "SEARCH_DEFAULTS", one_retraining)  # the real defaults
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            result = tfopt.search("digits", tuner="random", max_trials=2, epochs=2,
                                  out=str(out), verbose=0)
    result.loads, result.pipelines, result.printed = loads, pipelines, printed.getvalue()
    return result


def _tags(folder):
    tags = set()
    for path in folder.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_result_object_has_tuner_best_hp_and_model(digits_run):
    assert isinstance(digits_run.model, keras.Model)
    assert digits_run.best_hyperparameters.values == digits_run.tuner.get_best_hyperparameters(
        1)[0].values
    assert digits_run.results["trials_completed"] == 2
    assert digits_run.results["tuner"] == "random"


def test_saved_final_model_takes_raw_images_and_matches_the_reported_accuracy(digits_run):
    from tfopt.data.images import load_digits

    model = keras.models.load_model(digits_run.run_dir / "final_model.keras")
    data = load_digits()
    predicted = model.predict(data.x_test, verbose=0).argmax(axis=1)  # uint8, unscaled
    assert np.mean(predicted == data.y_test) == pytest.approx(
        digits_run.results["test_accuracy"])
    assert digits_run.results["final_model"] == "averaged"  # no ensemble without --ensemble
    assert digits_run.results["retrain"]["seeds"] == [0, 1, 2]  # small data: 3 retrainings


def test_the_final_model_averages_the_retrainings_and_the_checkpoint(digits_run):
    from tfopt.data.images import load_digits

    ensemble = digits_run.results["ensemble"]
    assert ensemble["members"] == "retrained and checkpoint"
    best = digits_run.results["best_trial_id"]
    assert ensemble["trial_ids"] == [best]
    assert ensemble["names"] == [f"trial_{best}_seed{seed}" for seed in range(3)] + [
        f"trial_{best}_checkpoint"]
    model = keras.models.load_model(digits_run.run_dir / "final_model.keras")
    averaged = model.get_layer("averaged")
    members = [layer for layer in averaged.layers if isinstance(layer, keras.Model)]
    assert [member.name for member in members] == ensemble["names"]
    scaled = load_digits().x_test.astype("float32") / 255
    each = [member.predict(scaled, verbose=0) for member in members]
    saved = np.load(digits_run.run_dir / "test_predictions.npz")
    np.testing.assert_allclose(saved["final_probabilities"], np.mean(each, axis=0),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(saved["retrained_probabilities"], each[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(saved["checkpoint_probabilities"], each[3], rtol=1e-4,
                               atol=1e-6)
    assert not np.allclose(each[0], each[1], atol=1e-3)  # the seeds made different models


def test_every_trial_has_scalars_and_hparams(digits_run):
    logs = digits_run.run_dir / "logs"
    trial_ids = sorted(digits_run.tuner.oracle.trials)
    assert sorted(p.name for p in logs.iterdir()) == ["final", "summary"] + [
        f"trial_{t}" for t in trial_ids]
    assert {"epoch_loss", "epoch_accuracy"} <= _tags(logs / "final" / "train")
    assert {"optimization_history", "confusion_matrix", "learning_curves"} <= _tags(
        logs / "final")
    for trial_id in trial_ids:
        run = logs / f"trial_{trial_id}"
        assert {"epoch_loss", "epoch_accuracy"} <= _tags(run / "train")
        assert {"epoch_loss", "epoch_accuracy"} <= _tags(run / "validation")
        assert {"_hparams_/session_start_info", "_hparams_/session_end_info"} <= _tags(run)


def test_hparams_record_the_trial_values(digits_run):
    from tensorboard.plugins.hparams import plugin_data_pb2

    trial_id = sorted(digits_run.tuner.oracle.trials)[0]
    run = digits_run.run_dir / "logs" / f"trial_{trial_id}"
    for path in run.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == "_hparams_/session_start_info":
                    data = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content)
                    hparams = data.session_start_info.hparams
    trial = digits_run.tuner.oracle.trials[trial_id].hyperparameters.values
    assert hparams["optimizer"].string_value == trial["optimizer"]
    assert hparams["batch_size"].number_value == trial["batch_size"]
    assert hparams["learning_rate"].number_value == pytest.approx(trial["learning_rate"])


def test_trials_csv_has_one_row_per_trial(digits_run):
    with open(digits_run.run_dir / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    trials = digits_run.tuner.oracle.trials
    assert [row["trial_id"] for row in rows] == sorted(trials)
    for row in rows:
        trial = trials[row["trial_id"]]
        assert row["status"] == "COMPLETED"
        assert float(row["val_accuracy"]) == pytest.approx(trial.score)
        assert float(row["learning_rate"]) == pytest.approx(
            trial.hyperparameters.values["learning_rate"])
        assert 1 <= int(row["best_epoch"]) <= int(row["epochs_run"]) <= 2
        assert float(row["seconds"]) > 0


def test_test_metrics_match_the_saved_predictions(digits_run):
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    saved = np.load(digits_run.run_dir / "test_predictions.npz")
    y_pred = saved["final_probabilities"].argmax(axis=1)
    reported = json.loads((digits_run.run_dir / "results.json").read_text())["test_metrics"]
    assert reported["accuracy"] == pytest.approx(accuracy_score(saved["y_true"], y_pred))
    assert reported["macro_f1"] == pytest.approx(f1_score(saved["y_true"], y_pred,
                                                          average="macro"))
    assert reported["confusion_matrix"] == confusion_matrix(saved["y_true"], y_pred).tolist()
    assert sum(map(sum, reported["confusion_matrix"])) == 360
    assert len(reported["per_class"]) == 10
    assert 0 <= reported["expected_calibration_error"] <= 1


def test_importance_is_in_results_and_tensorboard(digits_run):
    results = json.loads((digits_run.run_dir / "results.json").read_text())
    assert results["hyperparameter_importance"] == {}  # 2 trials are too few to rank
    assert "hyperparameter_importance" in _tags(digits_run.run_dir / "logs" / "summary")


@pytest.mark.slow  # 22 s; resuming after kill -9: `make test-integration`
def test_rerun_resumes_and_keeps_finished_trials(digits_run):
    before = json.loads((digits_run.run_dir / "tuner" / "oracle.json").read_text())
    resumed = tfopt.search("digits", tuner="random", max_trials=3, epochs=2,
                           out=str(digits_run.run_dir), verbose=0)
    assert sorted(resumed.tuner.oracle.trials) == sorted(before["end_order"] + ["2"])
    assert resumed.results["trials_run"] == 3


def test_data_is_loaded_once_per_search_and_verbose_0_prints_nothing(digits_run):
    assert digits_run.loads == ["digits"]  # once for the probe, every trial and the final stage
    assert digits_run.pipelines == ["image", "image"]  # train and validation, once for all
    assert "[tfopt]" not in digits_run.printed  # verbose=0: tfopt says nothing
    assert "Epoch" not in digits_run.printed  # nor does Keras


def test_a_custom_build_function_gets_the_whole_workflow(tmp_path):
    def mlp(hp, input_shape, num_classes):
        model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                                  keras.layers.Dense(hp.Choice("units", [16, 32]),
                                                     activation="relu"),
                                  keras.layers.Dense(num_classes, activation="softmax")])
        model.compile(keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 1e-2,
                                                     sampling="log")),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    result = tfopt.search("digits", model=mlp, tuner="random", max_trials=2, epochs=3,
                          out=str(tmp_path / "mine"), average_checkpoint=False, verbose=0)
    assert result.results["model"] == "mlp"
    assert set(result.best_hyperparameters.values) == {"units", "learning_rate"}
    assert result.results["final_model"] == "retrained"
    assert 0.5 < result.results["test_accuracy"] <= 1.0  # chance is 0.1
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["model"] == "custom" and config["custom_model"] == "mlp"
    reloaded = tfopt.load(result.run_dir)  # raw uint8 images in
    assert reloaded.model.input_shape == (None, None, None, 1)
