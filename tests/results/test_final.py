"""The final model: top distinct trials, retraining, the ensemble and built-in preprocessing."""

import json
import shutil

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tfopt.results.final import (average, best_epochs, predict_probabilities, retrain, top_trials,
                         with_preprocessing, without_augmentation)
from tfopt.tuning.hypermodels import VGGHyperModel
from tfopt.data.pipeline import to_dataset
from tfopt.models import build_textcnn, build_vgg


class _Oracle:
    """Just what `top_trials` reads of a keras-tuner oracle: trials, best first."""

    def __init__(self, trials):
        self.trials = {t.trial_id: t for t in trials}

    def get_best_trials(self, num_trials):
        return sorted(self.trials.values(), key=lambda t: -t.score)[:num_trials]


def _trial(trial_id, score, learning_rate, epochs=1):
    hp = kt.HyperParameters()
    hp.Fixed("learning_rate", learning_rate)
    hp.values["tuner/epochs"] = epochs  # what Hyperband changes when it continues a trial
    trial = kt.engine.trial.Trial(hp, trial_id=trial_id, status="COMPLETED")
    trial.score, trial.best_step = score, epochs - 1
    return trial


def test_top_trials_skips_hyperbands_continuations_of_the_same_values():
    oracle = _Oracle([_trial("a", 0.90, 1e-3, epochs=3), _trial("b", 0.85, 1e-3, epochs=1),
                      _trial("c", 0.80, 1e-2), _trial("d", 0.70, 1e-4)])
    assert [t.trial_id for t in top_trials(oracle, 2)] == ["a", "c"]
    assert [t.trial_id for t in top_trials(oracle, 5)] == ["a", "c", "d"]
    assert best_epochs(oracle.trials["a"]) == 3


def test_best_epochs_count_from_scratch_for_hyperbands_continued_trials():
    continued = _trial("e", 0.9, 1e-3, epochs=9)
    continued.hyperparameters.values["tuner/initial_epoch"] = 3  # resumed another's checkpoint
    continued.best_step = 4  # keras-tuner counts from the start of this trial's own fit
    assert best_epochs(continued) == 8


def test_members_cut_off_by_hyperband_train_as_long_as_the_best():
    from tfopt.results.final import member_epochs

    best, cut_off = _trial("a", 0.9, 1e-3, epochs=9), _trial("c", 0.8, 1e-2, epochs=3)
    assert member_epochs(cut_off, best) == 9  # still improving at its last epoch
    cut_off.best_step = 1  # early stopping's best was epoch 2 of 3
    assert member_epochs(cut_off, best) == 2
    assert member_epochs(best, best) == 9


def test_ensemble_is_the_mean_of_its_members_and_reloads_as_one_file(tmp_path):
    members = [build_vgg((8, 8, 1), 3, blocks=1, filters=4, dense_units=8),
               build_vgg((8, 8, 1), 3, blocks=2, filters=4, dense_units=8)]
    ensemble = average(members, ["trial_a", "trial_b"])
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype="float32")
    expected = np.mean([m.predict(x, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)
    ensemble.save(tmp_path / "ensemble.keras")
    reloaded = keras.models.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)
    assert average(members[:1], ["only"]) is members[0]


def test_ensemble_takes_sequential_models_that_were_never_called():
    def mlp():
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(3, activation="softmax")])

    members = [mlp(), mlp()]  # like checkpoints keras-tuner loads: built, never called
    ensemble = average(members, ["a", "b"])
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype="float32")
    expected = (members[0].predict(x, verbose=0) + members[1].predict(x, verbose=0)) / 2
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-7)


def test_image_preprocessing_takes_raw_pixels_of_any_size(tiny_images, tmp_path):
    network = build_vgg((8, 8, 1), 3, blocks=1, filters=4, dense_units=8, dropout=0.5)
    final = with_preprocessing(network, tiny_images)
    raw = tiny_images.x_test[:6]
    expected = network.predict(raw.astype("float32") / 255, verbose=0)
    np.testing.assert_allclose(final.predict(raw, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final(raw.astype("float32")).numpy(), expected,  # no dropout
                               rtol=1e-5, atol=1e-6)
    bigger = np.repeat(np.repeat(raw, 2, axis=1), 2, axis=2)  # 16x16 is resized to 8x8
    assert final.predict(bigger, verbose=0).shape == (6, 3)
    final.save(tmp_path / "final.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "final.keras").predict(
        raw, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_text_preprocessing_tokenizes_raw_strings_with_the_runs_vocabulary(tmp_path):
    from tfopt.data.splits import Splits
    from tfopt.data.text import vectorize

    texts = np.array(["a good film", "a bad film", "good fun", "bad and dull"] * 4)
    labels = np.array([1, 0, 1, 0] * 4, "int32")
    data = vectorize(Splits(texts, labels, texts, labels, texts, labels, ["neg", "pos"],
                            "synthetic", "text"), max_tokens=50, sequence_length=6)
    assert list(data.raw_test) == list(texts)
    network = build_textcnn(6, len(data.vocabulary), 2, embedding_dim=8, filters=4)
    final = with_preprocessing(network, data)
    expected = network.predict(data.x_test, verbose=0)
    raw = np.asarray(data.raw_test, dtype=object)  # Keras takes strings as object arrays
    np.testing.assert_allclose(final.predict(raw, verbose=0), expected, rtol=1e-5)
    final.save(tmp_path / "text.keras")
    reloaded = keras.models.load_model(tmp_path / "text.keras")
    np.testing.assert_allclose(reloaded.predict(raw, verbose=0), expected, rtol=1e-5)


def test_without_augmentation_keeps_weights_and_drops_random_layers():
    network = build_vgg((8, 8, 1), 3, blocks=1, filters=4, dense_units=8, augment=0.1)
    copy = without_augmentation(network)
    x = np.random.default_rng(1).random((4, 8, 8, 1), dtype="float32")
    np.testing.assert_allclose(copy.predict(x, verbose=0), network.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-7)
    layers = copy.get_layer("augmentation").layers
    assert layers and not any(type(l).__name__.startswith("Random") for l in layers)


def test_retrain_trains_the_given_epochs_on_every_example(tiny_images):
    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    hp = kt.HyperParameters()
    hp.Fixed("batch_size", 32)
    train = to_dataset(tiny_images.x_train, tiny_images.y_train, "image")
    model = retrain(hypermodel, hp, train, epochs=3, seed=1)
    assert int(model.optimizer.iterations) == 3 * 6  # 192 examples / 32
    accuracy = np.mean(predict_probabilities(model, tiny_images.x_test, tiny_images.y_test)
                       .argmax(axis=1) == tiny_images.y_test)
    assert accuracy > 0.6  # chance is 1/3


def test_the_runs_final_model_is_its_members_mean(finished_run, digits_data):
    results = finished_run.results
    model = keras.models.load_model(finished_run.run_dir / "final_model.keras")
    ensemble = model.get_layer("ensemble")
    best, second = results["ensemble"]["trial_ids"]
    # both seeds of the best trial's retraining (--seeds 2), then the second trial's
    assert results["ensemble"]["names"] == [f"trial_{best}_seed0", f"trial_{best}_seed1",
                                            f"trial_{second}"]
    members = [ensemble.get_layer(name) for name in results["ensemble"]["names"]]
    scaled = digits_data.x_test.astype("float32") / 255
    mean = np.mean([m.predict(scaled, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(model.predict(digits_data.x_test, verbose=0), mean,
                               rtol=1e-4, atol=1e-6)
    saved = np.load(finished_run.run_dir / "test_predictions.npz")
    np.testing.assert_allclose(saved["final_probabilities"], mean, rtol=1e-4, atol=1e-6)


def test_retrain_summary_and_candidates_match_the_saved_predictions(finished_run):
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    results = finished_run.results
    best = finished_run.tuner.oracle.trials[results["best_trial_id"]]
    retrain_summary = results["retrain"]
    assert retrain_summary["seeds"] == [0, 1] and retrain_summary["train_size"] == 1293 + 144
    assert retrain_summary["epochs"] == best.best_step + 1
    per_seed = retrain_summary["test_accuracy_per_seed"]
    assert retrain_summary["test_accuracy_mean"] == pytest.approx(np.mean(per_seed))
    assert retrain_summary["test_accuracy_std"] == pytest.approx(np.std(per_seed, ddof=1))
    saved = np.load(finished_run.run_dir / "test_predictions.npz")
    y = saved["y_true"]
    for name in ("checkpoint", "retrained", "ensemble"):
        p = saved[f"{name}_probabilities"]
        reported = results["candidates"][name]
        assert reported["accuracy"] == pytest.approx(accuracy_score(y, p.argmax(axis=1)))
        assert reported["macro_f1"] == pytest.approx(f1_score(y, p.argmax(axis=1),
                                                              average="macro"))
        assert reported["log_loss"] == pytest.approx(log_loss(y, p / p.sum(1, keepdims=True)),
                                                     rel=1e-5)
    assert results["candidates"]["retrained"]["accuracy"] == pytest.approx(per_seed[0])
    assert results["candidates"]["ensemble"]["accuracy"] == pytest.approx(
        results["test_accuracy"])
    assert results["checkpoint"]["test_accuracy"] == pytest.approx(
        results["candidates"]["checkpoint"]["accuracy"])
    assert results["final_model"] == "ensemble"
    assert json.loads((finished_run.run_dir / "results.json").read_text()) == results


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_checkpoint_accuracy_is_keras_tuners_best_model(finished_run, digits_data):
    model = finished_run.tuner.get_best_models(1)[0]
    accuracy = np.mean(predict_probabilities(model, digits_data.x_test, digits_data.y_test)
                       .argmax(axis=1) == digits_data.y_test)
    assert accuracy == pytest.approx(finished_run.results["checkpoint"]["test_accuracy"])


@pytest.mark.slow  # 19 s; resuming: the kill -9 tests of `make test-integration`
def test_a_resumed_final_stage_deletes_nothing_outside_the_run_folder(tmp_path):
    import tfopt
    from tfopt.errors import InputError

    out = tmp_path / "run"
    settings = dict(tuner="random", max_trials=1, epochs=1, retrain=False, out=str(out),
                    space={"batch_size": 128}, verbose=0)
    tfopt.search("digits", **settings)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "canary.txt").write_text("keep me")
    shutil.rmtree(out / "logs" / "final")
    (out / "logs" / "final").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError, match="outside the run folder"):
        tfopt.search("digits", **settings)  # resumes: the earlier final stage is replaced
    assert (outside / "canary.txt").read_text() == "keep me"
