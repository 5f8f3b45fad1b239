"""The printed plan: the timing probe and its wording."""

import math

from tfopt.data.pipeline import to_dataset
from tfopt.hypermodels import VGGHyperModel
from tfopt.plan import describe, probe


def test_probe_times_the_default_model_even_on_one_batch(tiny_images):
    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    for size in (50, 192):  # one batch of 128, then two
        train = to_dataset(tiny_images.x_train[:size], tiny_images.y_train[:size], "image")
        setup, epoch_seconds = probe(hypermodel, train, size)
        assert setup > 0 and math.isfinite(setup)
        assert epoch_seconds >= 0 and math.isfinite(epoch_seconds)


def test_describe_states_trials_epochs_and_time():
    text = describe("hyperband", 13, 21, setup=2.0, epoch_seconds=20.0)
    assert text.startswith("[tfopt] plan: hyperband, up to 13 trials, 21 epochs in all")
    assert "20.0 s an epoch, so about 7 min" in text  # (13 * 2 + 21 * 20) / 60 = 7.4
    assert "about 46 s" in describe("random", 2, 2, setup=3.0, epoch_seconds=20.0)
