"""The printed plan: the timing probe and its wording."""

import math

import pytest

from tfopt.data.pipeline import to_dataset
from tfopt.hypermodels import VGGHyperModel
from tfopt.plan import describe, probe


def test_probe_times_default_and_sampled_models_even_on_one_batch(tiny_images):
    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    for size in (50, 192):  # one batch of 128, then two
        train = to_dataset(tiny_images.x_train[:size], tiny_images.y_train[:size], "image")
        setup, epoch_seconds = probe(hypermodel, train, size)
        assert setup > 0 and math.isfinite(setup)
        assert epoch_seconds >= 0 and math.isfinite(epoch_seconds)


def test_describe_states_trials_epochs_and_time():
    text = describe("hyperband", 13, 21, setup=2.0, epoch_seconds=20.0)
    assert text.startswith("[tfopt] plan: hyperband, up to 13 trials, 21 epochs in all")
    assert "a typical model takes 20.0 s an epoch, so about 7 min" in text  # (13 * 2 + 21 * 20) / 60 = 7.4
    assert "about 46 s" in describe("random", 2, 2, setup=3.0, epoch_seconds=20.0)
    with_final = describe("hyperband", 13, 21, setup=2.0, epoch_seconds=20.0, retrain_epochs=10)
    assert ("then retraining on train+validation (at most 10 epochs, about 3 min): about 11 min "
            "in all") in with_final


def test_retrain_epochs_count_every_retrain_on_the_bigger_split():
    from tfopt.config import SearchConfig
    from tfopt.plan import retrain_epochs

    config = SearchConfig(epochs=9, seeds=2, ensemble=3)
    assert retrain_epochs(config, 60_000, 54_000) == pytest.approx(4 * 9 * 60 / 54)
    assert retrain_epochs(SearchConfig(epochs=9, retrain=False), 60_000, 54_000) == 0


def test_probe_configurations_are_the_defaults_then_samples_of_the_space(tiny_images):
    from tfopt.plan import _probe_configurations

    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    default, *sampled = _probe_configurations(hypermodel, 3, seed=0)
    assert default.values == {p.name: p.default for p in default.space}
    assert len(sampled) == 3 and sampled[0].values != sampled[1].values
    for hp in sampled:
        assert set(hp.values) == {p.name for p in hp.space} >= {"blocks", "batch_size"}
        assert hp.values["filters"] in (16, 32) and 1 <= hp.values["blocks"] <= 3


def test_probe_configurations_keep_the_users_space(tiny_images):
    import keras_tuner as kt

    from tfopt.plan import _probe_configurations

    space = kt.HyperParameters()
    space.Fixed("blocks", 1)
    space.Choice("batch_size", [16])
    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    configurations = _probe_configurations(hypermodel, 3, seed=0, space=space)
    assert [(hp.values["blocks"], hp.values["batch_size"]) for hp in configurations] == [
        (1, 16)] * 4
    assert len({hp.values["learning_rate"] for hp in configurations}) > 1
